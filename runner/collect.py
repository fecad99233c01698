"""Collection of the executed submission, with its own bounds: what a run leaves is hostile.

Bounds (``CollectCaps``): the number of files, the bytes read (hashing and copying together), the
bytes copied, the size of one file, and wall-clock time. Files past a cap are counted and skipped,
never read: the first few are named, the rest summed up per top folder (``Skipped``), so 300,000
files cost a bounded walk and a bounded record. Odd names are recorded, not raised: names that are
not UTF-8 or hold control characters are collected as they are and listed (escaped); paths longer
than ``max_path_bytes`` and chains deeper than ``max_depth`` are listed and skipped (the walk holds
one directory descriptor per level and opens entries relative to it, so no path the kernel would
refuse as too long is ever built). Symlinks are never followed, only
regular files are read (``O_NOFOLLOW | O_NONBLOCK``), special files are listed. Nothing here raises
for what the run left: an unreadable folder or a vanished file is a line in the list.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

EXCLUDED_TOP = frozenset({".git"})  # version-control metadata: never hashed or collected
_CHUNK = 1024 * 1024
NAMED_SKIPS = 200  # skipped files named one by one; the rest are summed up per top folder
_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = _FLAGS | getattr(os, "O_DIRECTORY", 0)


@dataclass(frozen=True)
class FileInfo:
    sha256: str | None  # None: not hashed (over the per-file cap: never read a huge or sparse file)
    size: int


Snapshot = dict[str, FileInfo]


@dataclass(frozen=True)
class CollectCaps:
    max_files: int = 100_000
    file_cap: int = 10 * 1024**2  # one file: larger ones are neither copied nor hashed
    total_cap: int = 1024**3  # bytes copied
    read_cap: int = 4 * 1024**3  # bytes read, hashing included
    time_s: float = 600.0
    max_depth: int = 64
    max_path_bytes: int = 1024


@dataclass
class Skipped:
    """What was not collected: a few named, the rest counted per reason and top folder."""

    named: list[str] = field(default_factory=list)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (reason, top folder) -> files

    def add(self, rel: str, reason: str) -> None:
        if len(self.named) < NAMED_SKIPS:
            self.named.append(f"{rel} ({reason})")
        else:
            top = rel.split("/", 1)[0] + "/" if "/" in rel else "."
            self.counts[(reason, top)] += 1

    def lines(self) -> list[str]:
        out = list(self.named)
        for (reason, top), n in sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0])):
            out.append(f"{n} more under {top} ({reason})")
        return out

    @property
    def total(self) -> int:
        return len(self.named) + sum(self.counts.values())


@dataclass
class CollectResult:
    after: Snapshot = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    copied_bytes: int = 0
    read_bytes: int = 0
    entries_seen: int = 0  # files and folders looked at (the file-count cap counts both)
    files_seen: int = 0  # regular files among them
    files_skipped: int = 0
    stopped: str | None = None  # "time": the time cap ended the walk (what was left is not counted)
    odd_names: list[str] = field(default_factory=list)  # not UTF-8 or with control characters (shown escaped)
    caps_hit: tuple[str, ...] = ()
    seconds: float = 0.0


def display(name: str) -> str:
    """A name as the record shows it: undecodable bytes and control characters escaped."""
    raw = os.fsencode(name)
    text = raw.decode("utf-8", errors="backslashreplace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def odd(name: str) -> str | None:
    """Why a name is not collected (None: it is fine)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "name is not UTF-8"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "control character in name"
    return None


class _Walk:
    def __init__(self, caps: CollectCaps, dest: Path | None, clock: Callable[[], float]) -> None:
        self.caps = caps
        self.dest = dest
        self.clock = clock
        self.deadline = clock() + caps.time_s
        self.result = CollectResult()
        self.skips = Skipped()
        self.hit: set[str] = set()

    def skip(self, rel: str, reason: str, cap: str | None = None) -> None:
        self.skips.add(display(rel), reason)
        self.result.files_skipped += 1
        if cap:
            self.hit.add(cap)

    def entries(self, fd: int, rel_dir: str) -> Iterator[os.DirEntry[str]]:
        """The entries of one directory; past the entry cap they are counted, not kept."""
        room = max(self.caps.max_files - self.result.entries_seen, 0)
        kept: list[os.DirEntry[str]] = []
        try:
            with os.scandir(fd) as it:
                for entry in it:
                    if not rel_dir and entry.name in EXCLUDED_TOP:
                        continue
                    if len(kept) < room:
                        kept.append(entry)
                    else:
                        slash = "/" if entry.is_dir(follow_symlinks=False) else ""
                        self.skip(rel_dir + entry.name + slash, "past the file-count cap", "files")
        except OSError as exc:
            self.skip(rel_dir.rstrip("/") or ".", f"unreadable folder: {exc.strerror}")
        yield from sorted(kept, key=lambda e: e.name)

    def walk(self, fd: int, rel_dir: str, depth: int) -> None:
        for entry in self.entries(fd, rel_dir):
            if self.result.stopped:
                return
            if self.clock() > self.deadline:
                self.result.stopped = "time"
                self.hit.add("time")
                return
            if self.result.entries_seen >= self.caps.max_files:
                slash = "/" if entry.is_dir(follow_symlinks=False) else ""
                self.skip(rel_dir + entry.name + slash, "past the file-count cap", "files")
                continue
            self.result.entries_seen += 1
            rel = rel_dir + entry.name  # the real name (undecodable bytes as surrogates): keys, copies
            strange = odd(entry.name)
            if strange is not None and len(self.result.odd_names) < NAMED_SKIPS:
                self.result.odd_names.append(f"{display(rel)} ({strange})")  # collected as it is
            why = None
            if len(os.fsencode(rel)) > self.caps.max_path_bytes:
                why = f"path longer than {self.caps.max_path_bytes} bytes"
            is_dir = entry.is_dir(follow_symlinks=False)
            if why is None and is_dir and depth + 1 > self.caps.max_depth:
                why = f"deeper than {self.caps.max_depth} folders"
            if why is not None:
                self.skip(rel + ("/" if is_dir else ""), why + ("; not descended" if is_dir else ""), "names")
                continue
            if is_dir:
                self.directory(fd, entry.name, rel, depth + 1)
            elif entry.is_symlink():
                self.skip(rel, "symlink")
            else:
                self.file(fd, entry.name, rel)

    def directory(self, parent: int, name: str, rel: str, depth: int) -> None:
        try:
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
        except OSError as exc:
            self.skip(rel + "/", f"unreadable folder: {exc.strerror}")
            return
        try:
            if self.dest is not None:
                try:
                    (self.dest / rel).mkdir(mode=0o755, exist_ok=True)
                except OSError as exc:
                    self.skip(rel + "/", f"cannot be copied: {exc.strerror}")
                    return
            self.walk(fd, rel + "/", depth)
        finally:
            os.close(fd)

    def file(self, parent: int, name: str, rel: str) -> None:
        caps, res = self.caps, self.result
        try:
            fd = os.open(name, _FLAGS, dir_fd=parent)
        except OSError as exc:
            self.skip(rel, f"unreadable: {exc.strerror}")
            return
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                self.skip(rel, "not a regular file")
                return
            res.files_seen += 1
            if st.st_size > caps.file_cap:  # neither read nor copied: a 1 TB sparse file costs nothing
                res.after[rel] = FileInfo(None, st.st_size)
                self.skip(rel, f"over the per-file cap: {st.st_size} bytes")
                return
            if res.read_bytes + st.st_size > caps.read_cap:
                res.after[rel] = FileInfo(None, st.st_size)
                self.skip(rel, f"past the cap on bytes read ({caps.read_cap})", "read")
                return
            copy = self.dest is not None and res.copied_bytes + st.st_size <= caps.total_cap
            if self.dest is not None and not copy:
                self.skip(rel, f"over the total cap: {st.st_size} bytes", "copied")
            res.after[rel] = self._read(fd, st, rel, copy)
        finally:
            os.close(fd)

    def _read(self, fd: int, st: os.stat_result, rel: str, copy: bool) -> FileInfo:
        caps, res = self.caps, self.result
        h = hashlib.sha256()
        size = 0
        out = None
        if copy:
            assert self.dest is not None
            try:
                out = open(self.dest / rel, "xb")  # noqa: SIM115 - closed below
            except OSError as exc:
                self.skip(rel, f"cannot be copied: {exc.strerror}")
        try:
            while chunk := os.read(fd, min(_CHUNK, caps.file_cap + 1 - size)):
                h.update(chunk)
                size += len(chunk)
                if size > caps.file_cap:  # grew since fstat (cannot happen once stopped): stop here
                    break
                if out is not None:
                    out.write(chunk)
        except OSError as exc:
            self.skip(rel, f"read failed: {exc.strerror}")
        finally:
            res.read_bytes += size
            if out is not None:
                out.close()
                if size > caps.file_cap:
                    os.unlink(self.dest / rel)  # type: ignore[operator]
                else:
                    res.copied_bytes += size
                    os.utime(self.dest / rel, ns=(st.st_atime_ns, st.st_mtime_ns))  # type: ignore[operator]
        return FileInfo(h.hexdigest() if size <= caps.file_cap else None, size)


def collect(
    workspace: Path, dest: Path | None, caps: CollectCaps, *, clock: Callable[[], float] = time.monotonic
) -> CollectResult:
    """Copy (``dest``) and hash the regular files under ``workspace`` within ``caps``; never raises for
    what is in ``workspace``. ``dest=None`` only takes a snapshot (hashes, sizes)."""
    started = clock()
    walk = _Walk(caps, dest, clock)
    if dest is not None:
        dest.mkdir(parents=True, exist_ok=True)
    try:
        root = os.open(workspace, _DIR_FLAGS)
    except OSError as exc:
        walk.skip(".", f"unreadable folder: {exc.strerror}")
    else:
        try:
            walk.walk(root, "", 0)
        finally:
            os.close(root)
    res = walk.result
    if res.stopped == "time":
        walk.skips.named.append(
            f"collection stopped at its time cap ({caps.time_s:g} s): the rest was not read"
        )
    res.skipped = walk.skips.lines()
    res.caps_hit = tuple(sorted(walk.hit))
    res.seconds = clock() - started
    return res
