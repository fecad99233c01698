"""A run's disk is bounded: the writable layer and the workspace together cannot take more than the
limit from the host, in bytes or in files.

Invariants: 3 GiB written into the container's root (plus 2 GiB into /submission) under a 1 GiB
limit end in ENOSPC inside, while the file behind the run's filesystem never holds more than the
limit; writes to the root filesystem land there (not in the engine's storage); ``df /`` inside
shows the limit, not the host's disk; an inode flood stops at the run's inode count; a run that
reached the limit is graded (status ``disk_limit``, said in the metadata's notes and the report),
never an infrastructure error; nothing of the run is left mounted afterwards.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from runner.reproduce import ReproduceOptions, reproduce

pytestmark = pytest.mark.docker
GiB = 1024**3

FILL = r"""
df -B1 --output=size / | tail -1 | tr -d ' ' > /submission/df-root.txt
dd if=/dev/zero of=/fill bs=1M count=3072 2>&1 | grep -i -E "space|copied"
fallocate -l 3G /big-falloc 2>&1 | tail -1
fallocate -l 2G /submission/big2 2>&1 | tail -1
dd if=/dev/zero of=/submission/fill2 bs=1M count=2048 2>&1 | grep -i -E "space|copied"
echo "done"
"""


def opts(image: str, **kw: object) -> ReproduceOptions:
    base: dict[str, object] = dict(
        image=image, timeout_s=300, memory="256m", cpus=1.0, pids_limit=256, network="none", salvage=False,
        disk_limit="1g",
    )  # fmt: skip
    base.update(kw)
    return ReproduceOptions(**base)  # type: ignore[arg-type]


class ImageWatch(threading.Thread):
    """Samples the blocks the host gives to every run filesystem image under ``folder``."""

    def __init__(self, folder: Path) -> None:
        super().__init__(daemon=True)
        self.folder, self.peak, self.stop = folder, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.05):
            for image in self.folder.rglob("fs-*.img"):
                try:
                    self.peak = max(self.peak, os.stat(image).st_blocks * 512)
                except OSError:
                    pass


def test_a_3_gib_fill_under_a_1_gib_limit_ends_in_enospc_and_the_host_loses_at_most_the_limit(
    tmp_path: Path, repro_image: str, docker_engine: object
) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "reproduce.sh").write_text(FILL)
    scratch = tmp_path / "scratch"
    watch = ImageWatch(scratch)
    watch.start()
    free_before = shutil.disk_usage(tmp_path).free
    started = time.monotonic()
    meta = reproduce(sub, tmp_path / "out", opts(repro_image, scratch_dir=scratch), engine=docker_engine)  # type: ignore[arg-type]
    took = time.monotonic() - started
    watch.stop.set()
    watch.join()
    log = (tmp_path / "out" / "reproduce.log").read_text()
    assert log.count("No space left on device") >= 3, log
    assert meta.status == "disk_limit" and meta.exit_code == 0 and meta.disk is not None and meta.disk.full
    assert any("disk limit" in n and "ENOSPC" in n for n in meta.notes)
    assert 0.8 * GiB < watch.peak <= 1 * GiB, watch.peak  # the root fs's writes landed there, and no more
    df_root = int((tmp_path / "out" / "submission" / "df-root.txt").read_text())
    assert 0.85 * GiB < df_root <= 1 * GiB  # df / inside: the limit, not the host's disk
    print(f"disk: 3 GiB + 2 GiB written under a 1 GiB limit: host file peaked at {watch.peak / GiB:.3f} GiB; "
          f"host free space {(free_before - shutil.disk_usage(tmp_path).free) / GiB:+.3f} GiB after; "
          f"{took:.1f} s")  # fmt: skip
    assert Path("/proc/self/mounts").read_text().count(str(scratch)) == 0
    assert not list(scratch.rglob("*.img"))


def test_an_inode_flood_stops_at_the_runs_inode_count_and_is_graded(tmp_path: Path, repro_image: str) -> None:
    from click.testing import CliRunner

    from bot.cli import main

    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "reproduce.sh").write_text(
        "mkdir -p /flood && cd /flood\n"
        'for i in $(seq 1 40000); do : > "f$i" || { echo "stopped at $i"; break; }; done\n'
        "echo ok > /submission/result.txt\n"
    )
    config = tmp_path / "c.yaml"
    config.write_text(
        f"runner:\n  image: {repro_image}\n  network: none\n  memory: 256m\n  salvage: false\n"
        "  disk_limit: 256m\n  disk_inodes: 20000\n"
    )
    out = tmp_path / "out"
    args = [
        "--config",
        str(config),
        "grade",
        str(sub),
        "--paper",
        "tiny-moons",
        "--out",
        str(out),
        "--judge",
        "dummy",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.stderr  # graded, not an infrastructure error
    log = (out / "reproduce.log").read_text()
    assert "No space left on device" in log and "stopped at" in log
    stopped = int(log.split("stopped at ")[1].split()[0])
    assert 19_000 < stopped <= 20_000
    import json

    meta = json.loads((out / "metadata.json").read_text())
    assert (
        meta["status"] == "disk_limit" and meta["disk"]["full"] and 19_000 < meta["disk"]["inodes"] <= 20_000
    )
    assert "disk limit" in (out / "report.html").read_text()
