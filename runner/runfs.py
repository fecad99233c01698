"""A run's own filesystem: the workspace and the container's writable layer, with a hard size and
inode limit.

``LoopFilesystems`` makes, per attempt, a sparse file of the limit's size, formats it ext4 with the
inode count asked for (no reserved blocks, no journal; inode tables are not zeroed, so formatting
takes milliseconds and the file stays sparse) and loop-mounts it (``nosuid,nodev``, ``discard``: a
file deleted inside gives its blocks back to the host). The workspace copy and the container's
writable layer (``runner.docker_layer``) both live on it, so together they cannot take more than the
limit from the host, and 8 million tiny files cost the host one file, not 8 million inodes. Past the
limit the submission sees ENOSPC (``df /`` inside shows the limit, not the host's disk).
``PlainFolders`` is the same seam without a limit (``runner.disk_limit: none``, and tests that do
not exercise the limit).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from runner.errors import InfraError

FULL_MARGIN_BYTES = 64 * 1024**2  # less free than this (or no free inode): the run hit the limit
FULL_MARGIN_INODES = 64


@dataclass(frozen=True)
class DiskUsage:
    size_bytes: int
    used_bytes: int
    free_bytes: int
    inodes: int
    free_inodes: int

    @property
    def full(self) -> bool:
        return self.free_bytes < FULL_MARGIN_BYTES or self.free_inodes < FULL_MARGIN_INODES


@dataclass(frozen=True)
class RunFs:
    root: Path  # where the run's folders are made (the mount point, or a plain folder)
    limit_bytes: int | None  # None: no limit
    inodes: int | None
    image: Path | None = None  # the sparse file behind the mount

    @property
    def limited(self) -> bool:
        return self.limit_bytes is not None

    def usage(self) -> DiskUsage | None:
        if not self.limited:
            return None
        try:
            st = os.statvfs(self.root)
        except OSError:
            return None
        return DiskUsage(
            size_bytes=st.f_blocks * st.f_frsize,
            used_bytes=(st.f_blocks - st.f_bfree) * st.f_frsize,
            free_bytes=st.f_bavail * st.f_frsize,
            inodes=st.f_files,
            free_inodes=st.f_favail,
        )


class RunFilesystems(Protocol):
    def problem(self) -> str | None:
        """Why this host cannot make limited filesystems (None: it can)."""
        ...

    def create(self, where: Path, limit_bytes: int | None, inodes: int | None) -> RunFs: ...

    def release(self, fs: RunFs) -> None: ...


class PlainFolders:
    """No limit: a folder of the host's filesystem."""

    def problem(self) -> str | None:
        return None

    def create(self, where: Path, limit_bytes: int | None, inodes: int | None) -> RunFs:
        where.mkdir(parents=True, exist_ok=True)
        return RunFs(where, None, None)

    def release(self, fs: RunFs) -> None:
        return None


def _tool(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin:/bin")


class LoopFilesystems:
    """Size- and inode-limited ext4 filesystems in sparse files, loop-mounted (needs root)."""

    MIN_BYTES = 32 * 1024**2

    def problem(self) -> str | None:
        if os.geteuid() != 0:
            return "reprobot does not run as root (mounting the run's filesystem needs it)"
        if _tool("mkfs.ext4") is None:
            return "mkfs.ext4 is not installed (apt-get install e2fsprogs)"
        if not Path("/dev/loop-control").exists() and not any(Path("/dev").glob("loop[0-9]*")):
            return "no loop devices on this host (/dev/loop-control)"
        return None

    def create(self, where: Path, limit_bytes: int | None, inodes: int | None) -> RunFs:
        if limit_bytes is None:
            return PlainFolders().create(where, None, None)
        reason = self.problem()
        if reason:
            raise InfraError(f"disk limit: {reason}; set runner.disk_limit: none to run without one")
        if limit_bytes < self.MIN_BYTES:
            raise InfraError(f"disk limit {limit_bytes} bytes: below the minimum of 32 MiB")
        count = max(1024, min(inodes or limit_bytes, limit_bytes // 4096))  # inode tables <= 1/16 of it
        where.mkdir(parents=True, exist_ok=False)
        image = where.with_name(where.name + ".img")
        try:
            with open(image, "xb") as fh:
                fh.truncate(limit_bytes)
            mkfs = _tool("mkfs.ext4") or "mkfs.ext4"
            self._run(
                [mkfs, "-q", "-F", "-m", "0", "-N", str(count), "-O", "^has_journal",
                 "-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard", str(image)],
                "format",
            )  # fmt: skip
            self._run(
                ["mount", "-o", "loop,nosuid,nodev,noatime,discard,noinit_itable", str(image), str(where)],
                "mount",
            )
            os.chmod(where, 0o700)
        except BaseException:
            self._undo(where, image)
            raise
        return RunFs(where, limit_bytes, count, image)

    def release(self, fs: RunFs) -> None:
        if fs.image is None:
            return
        self._undo(fs.root, fs.image)

    @staticmethod
    def _run(cmd: list[str], what: str) -> None:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise InfraError(f"cannot {what} the run's filesystem: {proc.stderr.strip()[:300]}")

    @staticmethod
    def _undo(mount_point: Path, image: Path) -> None:
        unmount_below(mount_point, include_self=True)
        image.unlink(missing_ok=True)  # a lazily unmounted image frees its space when the last user goes


def mount_points_below(folder: Path, include_self: bool = False) -> list[str]:
    """Mount points at or under ``folder`` (deepest first), from /proc/self/mountinfo."""
    base = str(folder)
    prefix = base.rstrip("/") + "/"
    try:
        with open("/proc/self/mountinfo") as fh:
            points = [line.split()[4].replace("\\040", " ") for line in fh if len(line.split()) > 4]
    except OSError:
        return []
    found = [p for p in points if p.startswith(prefix) or (include_self and p == base)]
    return sorted(set(found), key=len, reverse=True)


def unmount_below(folder: Path, include_self: bool = False) -> None:
    for point in mount_points_below(folder, include_self):
        if subprocess.run(["umount", point], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", point], capture_output=True)
