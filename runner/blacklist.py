"""Find uses of a paper's blacklisted resources in a submission (and in its run logs).

Submission files: every text file (code, notebooks, markdown, requirements, pyproject, setup.py,
environment.yml, shell scripts, ``.gitmodules``) and each git repository's ``.git/config`` (its
remotes) is searched for every blacklisted URL. Matching is on normalised URLs: scheme, user part,
``www.``, port, letter case, a ``.git`` suffix, a trailing slash, query and fragment do not matter,
and ``git@host:owner/repo`` equals ``https://host/owner/repo``; a deeper URL in the blacklisted
resource (``.../repo/blob/main/x.py``) is a use of it, a sibling (``.../repo-other``) is not.

Two rules, reported side by side and labelled (``rule`` of each violation):

- ``paperbench``: PaperBench's monitor rule exactly (PAPERBENCH.md section 4), applied to the
  agent's log (``agent.log`` at the submission root, or one the job names): each blacklist URL is
  reduced (scheme, query and anchor removed) and searched as a case-sensitive substring, line by
  line; a hit counts only when ``git clone``, ``curl`` or ``wget`` appears within 3 lines of it.
  Its consequence under ``blacklist_policy: fail`` is PaperBench's: the paper's score is 0.
- ``reprobot``: reprobot's own, stricter scan of the repository's files and of ``reproduce.log``
  (and of the agent log too, for the record): normalised URLs (below) anywhere in the files, and in
  logs a normalised URL within ``window`` (5) lines of ``git clone``, ``curl`` or ``wget``. This
  5-line window is reprobot's choice, not PaperBench's. Under ``fail`` a reprobot-rule violation
  in the repository or reproduce.log rejects the submission.

Speed: files are read as bytes, lower-cased once, and searched with ``bytes.find`` for a few
literal needles per URL (a combined regex when the blacklist is long); only the neighbourhood of a
hit is parsed. Binary files (a NUL byte in the first 8 KiB) are skipped after one small read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

Policy = Literal["report", "fail"]
Rule = Literal["reprobot", "paperbench"]
MONITOR_COMMANDS = (b"git clone", b"curl", b"wget")
PAPERBENCH_WINDOW = 3
AGENT_LOG = "agent.log"
_CHUNK = 16 * 1024 * 1024
_OVERLAP = 4096
_SNIFF = 8192
_MAX_CONTEXT = 240
_LEFT_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-:/@_~%")
_RIGHT_STOP = frozenset(b" \t\r\n\"'<>()[]{}`\\,;|^\x00")
_SCHEME_RE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def normalise_url(url: str) -> str:
    """``https://www.GitHub.com/Org/Repo.git/?x#y`` -> ``github.com/org/repo``."""
    text = url.strip()
    had_scheme = bool(_SCHEME_RE.match(text))
    text = _SCHEME_RE.sub("", text, count=1)
    text = re.split(r"[?#]", text, maxsplit=1)[0]
    slash = text.find("/")
    authority, path = (text, "") if slash < 0 else (text[:slash], text[slash:])
    if not had_scheme and ":" in authority:  # scp-like git@host:owner/repo
        host_part, _, rest = authority.partition(":")
        authority, path = host_part, "/" + rest + path
    if "@" in authority:
        authority = authority.rpartition("@")[2]
    if had_scheme and re.search(r":\d*$", authority):
        authority = authority.rsplit(":", 1)[0]
    host = authority.lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    path = path.rstrip("/")
    head, _, last = path.rpartition("/")
    if "@" in last:  # pip's git+https://host/o/r.git@rev
        path = head + "/" + last.partition("@")[0]
    if path.lower().endswith(".git"):
        path = path[:-4].rstrip("/")
    return (host + path).lower()


@dataclass(frozen=True)
class Violation:
    source: str  # "submission" | "reproduce.log" | "agent.log" | ...
    file: str
    line: int
    url: str  # the blacklist entry
    matched: str  # the text found
    context: str
    rule: Rule = "reprobot"


@dataclass(frozen=True)
class BlacklistReport:
    blacklist: tuple[str, ...]
    violations: tuple[Violation, ...]
    files_scanned: int = 0
    bytes_scanned: int = 0

    @property
    def clean(self) -> bool:
        return not self.violations

    @property
    def reprobot_violations(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.rule == "reprobot")

    @property
    def paperbench_violations(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.rule == "paperbench")

    def blocked(self, policy: Policy) -> bool:
        """reprobot's consequence: reject (a reprobot-rule hit in the repository or reproduce.log)."""
        return policy == "fail" and any(v.source != AGENT_LOG for v in self.reprobot_violations)

    def score_zero(self, policy: Policy) -> bool:
        """PaperBench's consequence: the paper's score is 0 (its monitor rule hit the agent log)."""
        return policy == "fail" and bool(self.paperbench_violations)

    def to_dict(self, policy: Policy) -> dict[str, Any]:
        return {
            "policy": policy,
            "blocked": self.blocked(policy),
            "score_zero": self.score_zero(policy),
            "blacklist": list(self.blacklist),
            "violations": [asdict(v) for v in self.violations],
            "paperbench_monitor": {
                "rule": "reduced URL, case-sensitive substring, git clone/curl/wget within 3 lines; "
                "on agent.log",
                "violations": len(self.paperbench_violations),
            },
            "reprobot_scan": {
                "rule": "normalised URLs in the repository's files; in logs within 5 lines of "
                "git clone/curl/wget (reprobot's own, stricter)",
                "violations": len(self.reprobot_violations),
            },
        }


@dataclass(frozen=True)
class _Hit:
    offset: int  # where the URL starts
    pos: int  # where the needle was found (after offset)
    end: int  # where the URL ends (the identity of a hit: every needle of one URL shares it)
    entry: str
    matched: str


class _Matcher:
    def __init__(self, blacklist: Sequence[str]) -> None:
        self.entries: dict[str, str] = {}  # normalised key -> entry as written
        needles: dict[bytes, None] = {}
        for entry in blacklist:
            key = normalise_url(entry)
            if not key or "." not in key.split("/")[0]:
                continue
            self.entries.setdefault(key, entry)
            host, sep, path = key.partition("/")
            if sep and len(path) >= 6:  # the path alone finds host/path, host:path, host:port/path
                needles[path.encode("utf-8", "surrogateescape").lower()] = None
                continue
            needles[key.encode("utf-8", "surrogateescape").lower()] = None
            if sep:  # the scp form of the same repository
                needles[f"{host}:{path}".encode("utf-8", "surrogateescape").lower()] = None
        self.needles = tuple(needles)
        self.regex = (
            re.compile(b"|".join(re.escape(n) for n in sorted(self.needles, key=len, reverse=True)))
            if len(self.needles) > 8
            else None
        )
        self.max_needle = max((len(n) for n in self.needles), default=0)

    def _positions(self, low: bytes) -> Iterator[int]:
        if self.regex is not None:
            for m in self.regex.finditer(low):
                yield m.start()
            return
        for needle in self.needles:
            pos = low.find(needle)
            while pos >= 0:
                yield pos
                pos = low.find(needle, pos + 1)

    def hits(self, data: bytes) -> list[_Hit]:
        if not self.needles:
            return []
        low = data.lower()
        found: dict[int, _Hit] = {}
        for pos in self._positions(low):
            start = pos
            while start > 0 and pos - start < 512 and data[start - 1] in _LEFT_CHARS:
                start -= 1
            end = pos
            limit = min(len(data), pos + 2048)
            while end < limit and data[end] not in _RIGHT_STOP:
                end += 1
            token = data[start:end].decode("utf-8", "replace").rstrip(".:")
            key = normalise_url(token)
            for entry_key, entry in self.entries.items():
                if key == entry_key or key.startswith(entry_key + "/"):
                    found.setdefault(end, _Hit(start, pos, end, entry, token))
                    break
        return [found[k] for k in sorted(found)]


def _line_context(data: bytes, offset: int) -> tuple[int, str]:
    line_start = data.rfind(b"\n", 0, offset) + 1
    line_end = data.find(b"\n", offset)
    if line_end < 0:
        line_end = len(data)
    lo = max(line_start, offset - _MAX_CONTEXT // 2)
    hi = min(line_end, max(offset + _MAX_CONTEXT // 2, lo + _MAX_CONTEXT))
    text = data[lo:hi].decode("utf-8", "replace").strip()
    return data.count(b"\n", 0, offset) + 1, text


def paperbench_reduce(url: str) -> str:
    """PaperBench's reduction of a blacklist URL: scheme, query and anchor removed."""
    text = url.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    return re.split(r"[?#]", text, maxsplit=1)[0]


def paperbench_monitor(path: Path, blacklist: Sequence[str], *, source: str = AGENT_LOG) -> list[Violation]:
    """PaperBench's monitor rule on one log (see the module docstring)."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return []
    lines = text.split("\n")
    reduced = [(entry, paperbench_reduce(entry)) for entry in blacklist]
    out: list[Violation] = []
    for number, line in enumerate(lines):
        for entry, needle in reduced:
            if not needle or needle not in line:
                continue
            lo, hi = max(0, number - PAPERBENCH_WINDOW), min(len(lines), number + PAPERBENCH_WINDOW + 1)
            nearby = "\n".join(lines[lo:hi])
            if any(cmd.decode() in nearby for cmd in MONITOR_COMMANDS):
                out.append(
                    Violation(
                        source,
                        path.name,
                        number + 1,
                        entry,
                        needle,
                        line.strip()[:_MAX_CONTEXT],
                        "paperbench",
                    )
                )
    return out


def _iter_files(root: Path) -> Iterator[tuple[str, str]]:
    """(relative path, absolute path) of regular files; .git folders only give their config."""
    stack = [(str(root), "")]
    while stack:
        dir_path, rel_dir = stack.pop()
        try:
            with os.scandir(dir_path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            rel = rel_dir + entry.name
            if entry.is_symlink():
                continue
            if entry.is_dir(follow_symlinks=False):
                if entry.name == ".git":
                    config = os.path.join(entry.path, "config")
                    if os.path.isfile(config) and not os.path.islink(config):
                        yield rel + "/config", config
                    continue
                stack.append((entry.path, rel + "/"))
            elif entry.is_file(follow_symlinks=False):
                yield rel, entry.path


def _scan_file(path: str, matcher: _Matcher) -> tuple[list[tuple[int, str, _Hit]], int]:
    """Violations (line, context, hit) in one file, and the bytes read; binary files give none."""
    results: list[tuple[int, str, _Hit]] = []
    read = 0
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return results, 0
    with os.fdopen(fd, "rb", buffering=0) as fh:
        head = fh.read(_SNIFF)
        read += len(head)
        if b"\x00" in head:
            return results, read
        lines_before = 0
        data = head + fh.read(_CHUNK)
        read += len(data) - len(head)
        seen: set[int] = set()
        base = 0  # absolute offset of data[0]
        owned_from = 0  # hits before this (absolute) were handled with the previous chunk
        while data:
            nxt = fh.read(_CHUNK)
            read += len(nxt)
            keep = min(len(data), _OVERLAP + matcher.max_needle) if nxt else 0
            owned_to = base + len(data) - keep
            for hit in matcher.hits(data):
                absolute = base + hit.end
                if not owned_from <= base + hit.pos < owned_to or absolute in seen:
                    continue
                seen.add(absolute)
                line, context = _line_context(data, hit.offset)
                results.append((lines_before + line, context, hit))
            if not nxt:
                break
            consumed = data[: len(data) - keep]
            lines_before += consumed.count(b"\n")
            base += len(consumed)
            owned_from = owned_to
            data = data[len(data) - keep :] + nxt
    return results, read


def scan_submission(
    root: Path,
    blacklist: Sequence[str],
    *,
    logs: Mapping[str, Path] = {},  # noqa: B006 - read-only default
    window: int = 5,
) -> BlacklistReport:
    """Every use of a blacklisted URL in the files under ``root``, plus monitor hits in ``logs``."""
    matcher = _Matcher(blacklist)
    violations: list[Violation] = []
    files = 0
    total = 0
    if matcher.needles:
        for rel, path in _iter_files(Path(root)):
            if rel == AGENT_LOG:
                continue  # the agent's log is scanned by the log rules below, not as code
            found, read = _scan_file(path, matcher)
            files += 1
            total += read
            for line, context, hit in found:
                violations.append(Violation("submission", rel, line, hit.entry, hit.matched, context))
        for source, log_path in logs.items():
            violations.extend(scan_log(Path(log_path), matcher, source=source, window=window))
    agent_log = logs.get(AGENT_LOG)
    if agent_log is None and (Path(root) / AGENT_LOG).is_file() and not (Path(root) / AGENT_LOG).is_symlink():
        agent_log = Path(root) / AGENT_LOG
        if matcher.needles:
            violations.extend(scan_log(agent_log, matcher, source=AGENT_LOG, window=window))
    if agent_log is not None:
        violations.extend(paperbench_monitor(Path(agent_log), blacklist))
    return BlacklistReport(tuple(blacklist), tuple(violations), files, total)


def scan_log(
    path: Path, matcher: _Matcher | Sequence[str], *, source: str, window: int = 5
) -> list[Violation]:
    """reprobot's log rule: a normalised blacklisted URL within ``window`` lines of git clone/curl/wget."""
    if not isinstance(matcher, _Matcher):
        matcher = _Matcher(matcher)
    try:
        data = path.read_bytes()
    except OSError:
        return []
    hits = matcher.hits(data)
    if not hits:
        return []
    lines = data.split(b"\n")
    out: list[Violation] = []
    for hit in hits:
        line, context = _line_context(data, hit.offset)
        lo, hi = max(0, line - 1 - window), min(len(lines), line + window)
        nearby = b"\n".join(lines[lo:hi]).lower()
        if any(cmd in nearby for cmd in MONITOR_COMMANDS):
            out.append(Violation(source, path.name, line, hit.entry, hit.matched, context))
    return out
