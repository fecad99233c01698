"""The executed submission as the judge reads it: untrusted, capped, whatever its names hold.

An executed submission is a ``reprobot reproduce --out`` folder (DIR/metadata.json, DIR/reproduce.log,
DIR/reproduce.log.creation_time, DIR/submission/); the command line wraps a bare PaperBench folder
as one (bot/cli/judge_cmds.py). ``submission/`` is walked by directory descriptors, never through
a symlink, so a 4,000-character path is read like any other, and a name that is not UTF-8 (or holds
control characters or line separators) is shown escaped (``\\xff``, ``\\u2028``) and opened by its
own bytes. Binary files are listed but not read; big files are cut. Folders whose name contains one
of PaperBench's skipped names (``.git``, ``venv``, ``__pycache__`` ...) are not walked: no protocol
lists their files.

A file is *touched by the run* when its mtime is at or after the run's creation time
(PaperBench's rule, compared as PaperBench compares them: UTC datetimes; the content need not
change): the creation time is DIR/reproduce.log.creation_time (Unix seconds), else the metadata's,
else the log's own mtime, as PaperBench falls back. Only the run's own ``reproduce.log`` and
``metadata.json`` (at the top of DIR) are the run's: files of those names inside the submission are
the submitter's like any other.
"""

from __future__ import annotations

import io
import os
import stat
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from judge.errors import JudgeError
from runner.errors import RunnerError
from runner.layout import CREATION_TIME, EXECUTED_DIR, REPRODUCE_LOG, RUN_METADATA
from runner.metadata import RunMetadata

SKIPPED_DIR_PARTS = (
    "venv",
    ".venv",
    ".env",
    "wandb",
    ".egg-info",
    ".git",
    ".github",
    "__pycache__",
    "node_modules",
)
MAX_FILE_BYTES = 512 * 1024
MAX_FILES = 5_000  # read; more are listed only
MAX_ENTRIES = 200_000  # walked at most
MAX_DEPTH = 256
MAX_LOG_BYTES = 32 * 1024 * 1024  # the log as citations see it (the runner keeps 16 MiB at most)
PAPERBENCH_READ_CHARS = 200_000  # PaperBench reads every file, reproduce.sh and the log up to this
_NOFOLLOW = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class ExecutedSubmissionError(JudgeError):
    """The executed-submission folder cannot be read."""


def shown_name(name: str) -> str:
    """A path as the judge shows it: bytes that are not UTF-8 as ``\\xNN``, control and format
    characters and every line or paragraph separator as ``\\uNNNN``; ordinary names unchanged."""
    if name.isascii() and name.isprintable():
        return name
    out = []
    for ch in name:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, as os.fsdecode keeps it
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def in_skipped_dir(path: str) -> bool:
    """PaperBench's folder rule: a folder on the path contains a skipped name (file names never count)."""
    return any(s in part for part in path.split("/")[:-1] for s in SKIPPED_DIR_PARTS)


def _skipped_dir_name(name: str) -> bool:
    return any(s in name for s in SKIPPED_DIR_PARTS)


@dataclass(frozen=True)
class SubmissionFile:
    path: str  # as shown: POSIX, relative to submission/
    size: int
    text: str | None  # None: binary or unreadable (listed, not shown)
    truncated: bool = False


def _read_fd(fd: int) -> tuple[str | None, bool]:
    data = os.read(fd, MAX_FILE_BYTES + 1)
    while len(data) <= MAX_FILE_BYTES and (chunk := os.read(fd, MAX_FILE_BYTES + 1 - len(data))):
        data += chunk
    truncated = len(data) > MAX_FILE_BYTES
    data = data[:MAX_FILE_BYTES]
    if b"\x00" in data[:8192]:
        return None, False
    return data.decode("utf-8", errors="replace"), truncated


def read_as_paperbench(fd: int, cap_chars: int = PAPERBENCH_READ_CHARS) -> str:
    """The first ``cap_chars`` characters, read as PaperBench reads a file: text mode (universal
    newlines), UTF-8, and Latin-1 when that fails."""
    for encoding in ("utf-8", "latin-1"):
        os.lseek(fd, 0, os.SEEK_SET)
        with open(fd, encoding=encoding, closefd=False) as fh:  # noqa: PTH123 - an fd, not a path
            try:
                return fh.read(cap_chars)
            except UnicodeDecodeError:
                continue
    return ""  # pragma: no cover - Latin-1 decodes every byte


@dataclass(frozen=True)
class _Entry:
    real: str  # relative path as the filesystem names it (undecodable bytes as surrogates)
    size: int
    mtime: float


def _walk(root: Path) -> Iterator[tuple[_Entry, int, str]]:
    """Regular files under ``root`` (files of a folder before its subfolders, names sorted), each
    with its folder's descriptor (valid while the caller handles it) and its own name."""
    try:
        top = os.open(root, _NOFOLLOW | os.O_DIRECTORY)
    except OSError:
        return
    seen = [0]

    def rec(fd: int, prefix: str, depth: int) -> Iterator[tuple[_Entry, int, str]]:
        try:
            with os.scandir(fd) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            return
        dirs = []
        for e in entries:
            seen[0] += 1
            if seen[0] > MAX_ENTRIES:
                return
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                yield _Entry(prefix + e.name, st.st_size, st.st_mtime), fd, e.name
            elif stat.S_ISDIR(st.st_mode) and not _skipped_dir_name(e.name) and depth < MAX_DEPTH:
                dirs.append(e.name)
        for name in dirs:
            try:
                child = os.open(name, _NOFOLLOW | os.O_DIRECTORY, dir_fd=fd)
            except OSError:
                continue
            try:
                yield from rec(child, f"{prefix}{name}/", depth + 1)
            finally:
                os.close(child)

    try:
        yield from rec(top, "", 0)
    finally:
        os.close(top)


def _creation_time(executed: Path, metadata: RunMetadata, log: Path | None) -> float | None:
    path = executed / CREATION_TIME
    try:
        if path.is_file() and not path.is_symlink():
            return float(int(path.read_text(encoding="utf-8", errors="replace")[:64]))
    except (OSError, ValueError):
        pass
    if metadata.creation_time is not None:
        return float(int(metadata.creation_time))
    return log.lstat().st_mtime if log is not None else None


def touched_at(mtime: float, creation: float | None) -> bool:
    if creation is None or mtime != mtime:  # no run, or an mtime that cannot be trusted
        return False
    return datetime.fromtimestamp(mtime, UTC) >= datetime.fromtimestamp(creation, UTC)


@dataclass(frozen=True)
class ExecutedSubmission:
    root: Path  # the executed folder: metadata.json, reproduce.log, reproduce.log.creation_time
    submission: Path  # the submission after the run: root/submission, or a bare PaperBench folder
    metadata: RunMetadata
    files: tuple[SubmissionFile, ...]  # read (the first MAX_FILES), in walk order
    paths: tuple[str, ...]  # every file walked, as shown, in walk order
    touched: frozenset[str]  # shown paths the run touched (mtime at or after the creation time)
    creation_time: float | None = None
    real_paths: tuple[tuple[str, str], ...] = ()  # (shown, real) where they differ

    @cached_property
    def _real(self) -> dict[str, str]:
        return dict(self.real_paths)

    @property
    def listed_only(self) -> tuple[str, ...]:
        return self.paths[len(self.files) :]

    @property
    def log_path(self) -> Path | None:
        path = self.root / REPRODUCE_LOG
        return path if path.is_file() and not path.is_symlink() else None

    @cached_property
    def log(self) -> str:
        """The run's log as citations check it (the whole file up to MAX_LOG_BYTES)."""
        path = self.log_path
        if path is None:
            return ""
        with path.open("rb") as fh:
            return io.TextIOWrapper(io.BytesIO(fh.read(MAX_LOG_BYTES)), "utf-8", "replace").read()

    @property
    def reproduce_sh(self) -> str | None:
        for f in self.files:
            if f.path == "reproduce.sh":
                return f.text
        return None

    def log_ends(self, head_bytes: int, tail_bytes: int) -> tuple[str, str]:
        """The log's first ``head_bytes`` and, when it is longer, its last ``tail_bytes`` (else "")."""
        path = self.log_path
        if path is None:
            return "", ""
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(head_bytes)
            tail = b""
            if size > head_bytes:
                fh.seek(max(size - tail_bytes, head_bytes))
                tail = fh.read(tail_bytes)

        def text(data: bytes) -> str:
            return io.TextIOWrapper(io.BytesIO(data), "utf-8", "replace").read()

        return text(head), text(tail)

    def read_as_paperbench(self, shown: str) -> str | None:
        """What PaperBench reads for a path named relative to the submission (its run's
        ``reproduce.log`` and ``reproduce.log.creation_time`` sit beside the files): the first
        200,000 characters; None when nothing readable is there (a folder, nothing, a symlink, a
        path out of the submission)."""
        real = self._real.get(shown, shown)
        parts = [p for p in real.split("/") if p not in ("", ".")]
        if not parts or ".." in parts:
            return None
        base = self.root if parts in ([REPRODUCE_LOG], [CREATION_TIME]) else self.submission
        try:
            fd = os.open(base, _NOFOLLOW | os.O_DIRECTORY)
        except OSError:
            return None
        try:
            for part in parts[:-1]:
                child = os.open(part, _NOFOLLOW | os.O_DIRECTORY, dir_fd=fd)
                os.close(fd)
                fd = child
            leaf = os.open(parts[-1], _NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        except OSError:
            os.close(fd)
            return None
        os.close(fd)
        try:
            if not stat.S_ISREG(os.fstat(leaf).st_mode):
                return None
            return read_as_paperbench(leaf)
        finally:
            os.close(leaf)


def load_executed(executed: Path, submission: Path | None = None) -> ExecutedSubmission:
    """Read DIR/metadata.json and walk DIR/submission/ (or ``submission``: a bare PaperBench folder
    judged where it is), never through symlinks."""
    executed = Path(executed)
    if not executed.is_dir():
        raise ExecutedSubmissionError(
            f"{executed}: not a directory (expected a `reprobot reproduce --out` folder)"
        )
    try:
        metadata = RunMetadata.read(executed / RUN_METADATA)
    except RunnerError as exc:
        raise ExecutedSubmissionError(str(exc)) from None
    log = executed / REPRODUCE_LOG
    creation = _creation_time(executed, metadata, log if log.is_file() and not log.is_symlink() else None)
    files: list[SubmissionFile] = []
    paths: list[str] = []
    touched: set[str] = set()
    real_paths: list[tuple[str, str]] = []
    sub = Path(submission) if submission is not None else executed / EXECUTED_DIR
    if sub.is_dir() and not sub.is_symlink():
        for entry, dir_fd, name in _walk(sub):
            shown = shown_name(entry.real)
            if shown != entry.real:
                real_paths.append((shown, entry.real))
            paths.append(shown)
            if touched_at(entry.mtime, creation):
                touched.add(shown)
            if len(files) >= MAX_FILES:
                continue
            text, truncated = None, False
            try:
                fd = os.open(name, _NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
            except OSError:
                fd = -1
            if fd >= 0:
                try:
                    if stat.S_ISREG(os.fstat(fd).st_mode):
                        text, truncated = _read_fd(fd)
                except OSError:
                    pass
                finally:
                    os.close(fd)
            files.append(SubmissionFile(shown, entry.size, text, truncated))
    return ExecutedSubmission(
        executed, sub, metadata, tuple(files), tuple(paths), frozenset(touched), creation, tuple(real_paths)
    )
