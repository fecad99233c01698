"""What the run produced, shown in the report: the figures and tables ``reproduce.sh`` wrote.

The files are those the runner recorded as created or modified by the run (``metadata.json``'s
``files_changed``), read from the executed submission (``submission/``), which is hostile data:

- a path is used only when it is relative, without ``..``, and no part of it is a symlink; only
  regular files are read, never more than a bounded number of bytes (``O_NOFOLLOW``);
- an image is recognised by its bytes (PNG, JPEG, GIF, WebP) or as SVG text, and embedded as a
  ``data:`` URI of *that* type in an ``<img>`` (an SVG in an image runs no script and loads
  nothing); larger ones are linked, not shown;
- a Markdown table (``.md``), a CSV/TSV file and a flat JSON object become a table of escaped text,
  bounded in files, rows, columns and characters per cell.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from bot.report.escaping import clip
from bot.report.model import ReportContext
from bot.results import EXECUTED_DIR

MAX_IMAGES = 12
MAX_IMAGE_BYTES = 1_000_000  # embedded up to this size each; larger ones are linked
MAX_EMBEDDED_BYTES = 4_000_000  # in all
MAX_TABLES = 8
MAX_TABLE_FILE = 256_000  # bytes read of a table file
MAX_ROWS = 50
MAX_COLS = 20
CELL_CHARS = 120
MAX_OTHERS = 30
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg"})
TABLE_SUFFIXES = frozenset({".md", ".csv", ".tsv", ".json"})
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
# PaperBench's rule for what is not the submission's own work: a folder name containing one of these
SKIPPED_FOLDERS = (
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
_DELIMITER_ROW = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


@dataclass(frozen=True, slots=True)
class OutputImage:
    path: str  # as the run named it, relative to the submission
    href: str  # the file, relative to the report
    src: str | None  # a data: URI of the recognised type; None when too large to embed
    mime: str
    size: int


@dataclass(frozen=True, slots=True)
class OutputTable:
    path: str
    href: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    more_rows: int  # rows left out
    cut: bool  # the file, its columns or its cells were cut


@dataclass(frozen=True, slots=True)
class OutputFile:
    path: str
    href: str
    size: int | None


@dataclass(frozen=True, slots=True)
class RunOutputs:
    images: tuple[OutputImage, ...] = ()
    tables: tuple[OutputTable, ...] = ()
    others: tuple[OutputFile, ...] = ()
    more: int = 0  # files the run wrote that are not listed

    @property
    def empty(self) -> bool:
        return not (self.images or self.tables or self.others)


def _safe_rel(rel: str) -> PurePosixPath | None:
    p = PurePosixPath(rel)
    if not rel or p.is_absolute() or any(part in ("", ".", "..") for part in p.parts) or "\x00" in rel:
        return None
    return p


def _skipped(p: PurePosixPath) -> bool:
    return any(marker in folder for folder in p.parts[:-1] for marker in SKIPPED_FOLDERS)


def read_bounded(root: Path, rel: str, limit: int) -> tuple[bytes, int] | None:
    """Up to ``limit`` bytes of ``root/rel`` and its size; None unless every part of the path is a
    real folder or, last, a regular file (no symlink anywhere)."""
    p = _safe_rel(rel)
    if p is None:
        return None
    path = root
    try:
        for i, part in enumerate(p.parts):
            path = path / part
            st = os.lstat(path)
            last = i == len(p.parts) - 1
            if stat.S_ISLNK(st.st_mode) or (not last and not stat.S_ISDIR(st.st_mode)):
                return None
        if not stat.S_ISREG(st.st_mode):
            return None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            return f.read(limit), st.st_size
    except OSError:
        return None


def _href(rel: str) -> str:
    return "/".join(quote(part) for part in (EXECUTED_DIR, *PurePosixPath(rel).parts))


def image_type(data: bytes, suffix: str) -> str | None:
    """The image type the bytes really are (the name only decides between SVG and nothing)."""
    for magic, mime in _SIGNATURES:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if suffix == ".svg" and b"<svg" in data[:4096].lower():
        return "image/svg+xml"
    return None


def _cells(values: list[str]) -> tuple[tuple[str, ...], bool]:
    cut = len(values) > MAX_COLS or any(len(v) > CELL_CHARS for v in values)
    return tuple(clip(" ".join(v.split()), CELL_CHARS) for v in values[:MAX_COLS]), cut


def _table(path: str, header: list[str], body: list[list[str]], cut: bool) -> OutputTable | None:
    if not header and not body:
        return None
    head, c1 = _cells(header)
    rows = []
    for r in body[:MAX_ROWS]:
        cells, c2 = _cells(r)
        rows.append(cells)
        cut = cut or c2
    return OutputTable(path, _href(path), head, tuple(rows), max(0, len(body) - MAX_ROWS), cut or c1)


def _md_row(line: str) -> list[str]:
    s = line.strip()
    s = s[1:] if s.startswith("|") else s
    s = s[:-1] if s.endswith("|") and not s.endswith("\\|") else s
    return [c.replace("\\|", "|").strip() for c in re.split(r"(?<!\\)\|", s)]


def markdown_tables(path: str, text: str, cut: bool) -> list[OutputTable]:
    """Every GFM table of a Markdown file (a header row, a delimiter row, then its rows)."""
    lines = text.splitlines()
    out: list[OutputTable] = []
    i = 0
    while i + 1 < len(lines):
        if "|" in lines[i] and _DELIMITER_ROW.match(lines[i + 1]):
            header, body = _md_row(lines[i]), []
            i += 2
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                body.append(_md_row(lines[i]))
                i += 1
            table = _table(path, header, body, cut)
            if table is not None:
                out.append(table)
        else:
            i += 1
    return out


def _csv_table(path: str, text: str, cut: bool, delimiter: str) -> OutputTable | None:
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if cut and rows:
        rows = rows[:-1]  # the last row may be cut mid-way
    return _table(path, rows[0], rows[1:], cut) if rows else None


def _json_table(path: str, text: str) -> OutputTable | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or not data:
        return None
    scalars = [(str(k), v) for k, v in data.items() if isinstance(v, str | int | float | bool) or v is None]
    if len(scalars) != len(data):
        return None  # only flat objects (metrics) read as a table
    body = [[k, json.dumps(v) if not isinstance(v, str) else v] for k, v in scalars]
    return _table(path, ["key", "value"], body, False)


def _tables_of(root: Path, rel: str) -> list[OutputTable]:
    found = read_bounded(root, rel, MAX_TABLE_FILE)
    if found is None:
        return []
    data, size = found
    cut = size > len(data)
    text = data.decode("utf-8", errors="replace")
    suffix = PurePosixPath(rel).suffix.lower()
    if suffix == ".md":
        return markdown_tables(rel, text, cut)
    if suffix in (".csv", ".tsv"):
        table = _csv_table(rel, text, cut, "\t" if suffix == ".tsv" else ",")
        return [table] if table else []
    if suffix == ".json" and not cut:
        table = _json_table(rel, text)
        return [table] if table else []
    return []


def run_outputs(ctx: ReportContext) -> RunOutputs:
    """The run's figures, tables and other files, bounded (see the module's text)."""
    run = ctx.run
    if run is None:
        return RunOutputs()
    root = ctx.result_dir / EXECUTED_DIR
    sizes = {c.path: c.size for c in run.files_changed}
    images: list[OutputImage] = []
    tables: list[OutputTable] = []
    others: list[OutputFile] = []
    embedded = 0
    for rel in sorted(run.changed_paths):
        safe = _safe_rel(rel)
        if safe is None or _skipped(safe):  # caches and environments are not the run's results
            continue
        suffix = PurePosixPath(rel).suffix.lower()
        if suffix in IMAGE_SUFFIXES and len(images) < MAX_IMAGES:
            found = read_bounded(root, rel, MAX_IMAGE_BYTES + 1)
            mime = image_type(found[0], suffix) if found else None
            if found is not None and mime is not None:
                data, size = found
                fits = size <= MAX_IMAGE_BYTES and embedded + size <= MAX_EMBEDDED_BYTES
                src = f"data:{mime};base64,{base64.b64encode(data).decode()}" if fits else None
                embedded += size if fits else 0
                images.append(OutputImage(rel, _href(rel), src, mime, size))
                continue
        if suffix in TABLE_SUFFIXES and len(tables) < MAX_TABLES:
            found_tables = _tables_of(root, rel)[: MAX_TABLES - len(tables)]
            if found_tables:
                tables.extend(found_tables)
                continue
        if read_bounded(root, rel, 0) is not None:  # a real file (no symlink on the way), not read
            others.append(OutputFile(rel, _href(rel), sizes.get(rel)))
    tables.sort(key=lambda t: (len(t.rows) > 12, t.path))  # short tables (results) before long series
    return RunOutputs(
        tuple(images), tuple(tables), tuple(others[:MAX_OTHERS]), max(0, len(others) - MAX_OTHERS)
    )
