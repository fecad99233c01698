"""Copying submissions in and out without ever following a symlink, and content snapshots.

Everything the container leaves behind is hostile: symlinks (to ``/etc/passwd``, to ``/``), FIFOs
that would block a reader, device nodes, huge files, names that are not UTF-8. Files are opened
with ``O_NOFOLLOW``; only regular files are read; the rest is listed as skipped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from runner.collect import EXCLUDED_TOP, CollectCaps, CollectResult, FileInfo, Snapshot
from runner.collect import collect as collect_bounded
from runner.metadata import FileChange

_CHUNK = 1024 * 1024


def walk(root: Path, *, exclude_top: frozenset[str] = EXCLUDED_TOP) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(relative POSIX path, entry) for every entry under ``root``, sorted, never following links."""
    stack: list[tuple[str, str]] = [(str(root), "")]
    while stack:
        dir_path, rel_dir = stack.pop()
        try:
            with os.scandir(dir_path) as it:
                entries = sorted(it, key=lambda e: e.name, reverse=True)
        except OSError:
            continue
        for entry in entries:
            rel = f"{rel_dir}{entry.name}"
            if not rel_dir and entry.name in exclude_top:
                continue
            yield rel, entry
            if entry.is_dir(follow_symlinks=False):
                stack.append((entry.path, rel + "/"))


def _open_nofollow(path: str) -> int:
    return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))


def hash_file(path: str) -> FileInfo | None:
    """sha256 of a regular file, or None when it is anything else (or vanished)."""
    try:
        fd = _open_nofollow(path)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        h = hashlib.sha256()
        size = 0
        while chunk := os.read(fd, _CHUNK):
            h.update(chunk)
            size += len(chunk)
        return FileInfo(h.hexdigest(), size)
    finally:
        os.close(fd)


def _differs(old: FileInfo, new: FileInfo) -> bool:
    if old.sha256 is None or new.sha256 is None:  # an unhashed (oversize) file: sizes decide
        return old.size != new.size
    return old.sha256 != new.sha256


def diff(before: Snapshot, after: Snapshot) -> tuple[FileChange, ...]:
    changes: list[FileChange] = []
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path), after.get(path)
        if old is None and new is not None:
            changes.append(FileChange(path, "created", None, new.sha256, new.size))
        elif new is None and old is not None:
            changes.append(FileChange(path, "deleted", old.sha256, None, None))
        elif old is not None and new is not None and _differs(old, new):
            changes.append(FileChange(path, "modified", old.sha256, new.sha256, new.size))
    return tuple(changes)


def copy_in(src: Path, dest: Path) -> None:
    """Copy a submission into a fresh workspace: symlinks stay links, special files are dropped."""

    def ignore_special(directory: str, names: list[str]) -> set[str]:
        skipped = set()
        for name in names:
            try:
                mode = os.lstat(os.path.join(directory, name)).st_mode
            except OSError:
                skipped.add(name)
                continue
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                skipped.add(name)
        return skipped

    shutil.copytree(src, dest, symlinks=True, ignore=ignore_special, copy_function=shutil.copy2)


def chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def snapshot(root: Path, caps: CollectCaps | None = None) -> Snapshot:
    """Hashes and sizes of the regular files under ``root`` (within ``caps``)."""
    return collect_bounded(root, None, caps or CollectCaps()).after


def collect(workspace: Path, dest: Path, *, file_cap: int, total_cap: int) -> CollectResult:
    """``runner.collect.collect`` with the default caps but these two."""
    return collect_bounded(workspace, dest, CollectCaps(file_cap=file_cap, total_cap=total_cap))
