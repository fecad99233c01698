"""How long `reprobot --help` takes to start (median of N runs of the installed console script).

python bench/cli_startup.py [--runs 21] [--command "reprobot --help"]
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--command", default="reprobot --help")
    args = ap.parse_args()
    argv = shlex.split(args.command)
    exe = shutil.which(argv[0], path=str(Path(sys.executable).parent)) or shutil.which(argv[0])
    if exe is None:
        sys.exit(f"{argv[0]} is not installed")
    argv[0] = exe
    subprocess.run(argv, capture_output=True, check=True)  # warm the file cache
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    print(
        f"{args.command!r}: median {statistics.median(times) * 1000:.0f} ms, "
        f"min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms over {args.runs} runs"
    )


if __name__ == "__main__":
    main()
