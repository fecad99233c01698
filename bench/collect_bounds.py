"""Collection of a run that made 300,000 files: time and peak memory within the caps.

Makes N empty files (default 300,000) in one folder tree and collects them with the runner's
default caps (100,000 files, 10 MiB per file, 1 GiB copied, 4 GiB read, 600 s), printing the
time, what was collected and skipped, and the peak memory (Python's allocations by tracemalloc,
and the process's peak RSS). With ``--docker`` the files are made by a real reproduction in the
default image (paperbench profile, disk limit, network none) and the figures come from its
metadata.json.

Usage: python bench/collect_bounds.py [--files N] [--docker] [--image IMAGE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from runner.collect import collect
from runner.image import DEFAULT_IMAGE
from runner.options import ReproduceOptions


def make_files(folder: Path, n: int, per_dir: int = 10_000) -> None:
    for i in range(n):
        d = folder / f"d{i // per_dir:04d}"
        if i % per_dir == 0:
            d.mkdir(parents=True, exist_ok=True)
        os.close(os.open(d / f"f{i:07d}", os.O_CREAT | os.O_WRONLY, 0o644))


def host(n: int) -> None:
    caps = ReproduceOptions().collect_caps()
    with tempfile.TemporaryDirectory(prefix="reprobot-bench-collect-") as tmp:
        ws = Path(tmp) / "ws"
        t0 = time.perf_counter()
        make_files(ws, n)
        made = time.perf_counter() - t0
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        t0 = time.perf_counter()
        result = collect(ws, Path(tmp) / "out", caps)
        took = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        record = json.dumps({"skipped": result.skipped})
    print(
        f"host: {n} files made in {made:.1f} s; collected in {took:.2f} s: "
        f"{result.files_seen} files collected, {result.files_skipped} files or folders skipped, "
        f"caps hit {list(result.caps_hit)}; skipped list {len(result.skipped)} lines ({len(record)} bytes)\n"
        f"host: peak Python allocations {peak / 1e6:.1f} MB; process peak RSS {rss1 / 1024:.0f} MB "
        f"(+{(rss1 - rss0) / 1024:.0f} MB during collection); caps {caps}"
    )


def docker(n: int, image: str) -> None:
    from runner.reproduce import reproduce

    script = (
        "python3 - <<'PY'\nimport os\n"
        f"for i in range({n}):\n"
        "    d = f'many/d{i // 10000:04d}'\n"
        "    if i % 10000 == 0: os.makedirs(d)\n"
        "    os.close(os.open(f'{d}/f{i:07d}', os.O_CREAT | os.O_WRONLY, 0o644))\nPY\n"
    )
    with tempfile.TemporaryDirectory(prefix="reprobot-bench-collect-") as tmp:
        sub = Path(tmp) / "sub"
        sub.mkdir()
        (sub / "reproduce.sh").write_text(script)
        options = ReproduceOptions(image=image, network="none", memory="1g", salvage=False, disk_limit="8g")
        t0 = time.perf_counter()
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        meta = reproduce(sub, Path(tmp) / "out", options)
        total = time.perf_counter() - t0
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        size = (Path(tmp) / "out" / "metadata.json").stat().st_size
        c = meta.collection
        assert c is not None
        print(
            f"docker: run of {n} files: {total:.1f} s in all, reproduce.sh {meta.duration_s:.1f} s, "
            f"collection {c.seconds:.2f} s; {c.files_seen} collected, {c.files_skipped} skipped, "
            f"caps hit {list(c.caps_hit)}; metadata.json {size / 1e6:.1f} MB; "
            f"reprobot peak RSS {rss1 / 1024:.0f} MB (+{(rss1 - rss0) / 1024:.0f} MB)"
        )
        shutil.rmtree(Path(tmp) / "out", ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300_000)
    parser.add_argument("--docker", action="store_true")
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    args = parser.parse_args()
    if args.docker:
        docker(args.files, args.image)
    else:
        host(args.files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
