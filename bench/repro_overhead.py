"""reprobot's reproduction against a bare ``docker run`` of the same image, in the same run.

Both run the same trivial reproduce.sh (``echo hello > result.txt``) in the same image; reprobot's
side does everything a real run does (profile, limits, labels, copy in, log capture, collection,
metadata, removal) and, by default, what bounds it on the host: its own size- and inode-limited
filesystem holding the writable layer and the workspace, its own network with the allow-listing
proxy and firewall rule, the host's CA bundle written into the container, reprobot's seccomp
profile and masked /proc entries, the watchdog. Runs alternate so that both sides see the same
machine load.

Usage: python bench/repro_overhead.py [--runs N] [--image IMAGE] [--profile paperbench|locked]
                                      [--network policy|none] [--disk 50g|none]
Target: median overhead (reprobot - bare) under 1 s. Needs the image (`reprobot image build`) and,
for the defaults, root (mounts, firewall) and squid.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from runner.docker_engine import DockerEngine
from runner.image import DEFAULT_IMAGE
from runner.reproduce import ReproduceOptions, reproduce


def bare_run(image: str, sub: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        ["docker", "run", "--rm", "--user", "0:0", "--network", "none",
         "-v", f"{sub}:/submission", "-w", "/submission", image, "bash", "reproduce.sh"],
        check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    parser.add_argument("--profile", choices=["paperbench", "locked"], default="paperbench")
    parser.add_argument("--network", default="policy", help="policy (the default) or none")
    parser.add_argument("--disk", default="50g", help="the run's disk limit (the default), or none")
    args = parser.parse_args()
    engine = DockerEngine()
    options = ReproduceOptions(
        profile=args.profile, image=args.image, timeout_s=60, memory="256m", cpus=1, network=args.network,
        tmpfs_size="64m", gpus="none", salvage=False, disk_limit=None if args.disk == "none" else args.disk,
    )  # fmt: skip
    ours: list[float] = []
    bare: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        sub = Path(tmp) / "sub"
        sub.mkdir()
        (sub / "reproduce.sh").write_text("echo hello > result.txt\n")
        bare_sub = Path(tmp) / "bare"
        bare_sub.mkdir()
        (bare_sub / "reproduce.sh").write_text("echo hello > result.txt\n")
        bare_run(args.image, bare_sub)  # warm both paths once
        reproduce(sub, Path(tmp) / "warm", options, engine=engine)
        for i in range(args.runs):
            bare.append(bare_run(args.image, bare_sub))
            start = time.perf_counter()
            meta = reproduce(sub, Path(tmp) / f"out{i}", options, engine=engine)
            ours.append(time.perf_counter() - start)
            assert meta.exit_code == 0
    m_ours, m_bare = statistics.median(ours), statistics.median(bare)
    print(
        f"runs={args.runs} profile={args.profile} network={args.network} disk={args.disk} "
        f"image={args.image}\n"
        f"bare docker run: median_s={m_bare:.3f} min_s={min(bare):.3f} max_s={max(bare):.3f}\n"
        f"reprobot:        median_s={m_ours:.3f} min_s={min(ours):.3f} max_s={max(ours):.3f}\n"
        f"overhead:        median_s={m_ours - m_bare:.3f} (target < 1 s)"
    )
    return 0 if m_ours - m_bare < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
