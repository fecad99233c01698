"""The paper registry: find a paper by id (or a PaperBench-layout folder) and list them.

A paper is its rubric plus whatever real data has: a blacklist (one URL per line; ``none`` or an
empty file means nothing is blacklisted; a missing trailing newline is fine), and optionally
config.yaml, paper.md, addendum.md and judge.addendum.md. Missing optional files are ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from judge.errors import JudgeError, PaperNotFound, RubricError
from judge.rubric import RubricNode, load_rubric

PAPER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def parse_blacklist(text: str) -> tuple[str, ...]:
    """One entry per line; blank lines, ``#`` comments and the word ``none`` mean nothing."""
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.lower() == "none":
            continue
        entries.append(line)
    return tuple(entries)


def _read_optional(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


@dataclass(frozen=True)
class Paper:
    id: str
    folder: Path
    blacklist_path: Path | None

    @cached_property
    def rubric(self) -> RubricNode:
        return load_rubric(self.folder / "rubric.json")

    @cached_property
    def config(self) -> dict[str, Any]:
        path = self.folder / "config.yaml"
        text = _read_optional(path)
        if text is None:
            return {}
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RubricError(str(path), "", f"not valid YAML ({exc.__class__.__name__})") from None
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise RubricError(str(path), "", "expected a mapping at the top level")
        return data

    @property
    def title(self) -> str:
        title = self.config.get("title")
        return str(title) if title else self.id

    @cached_property
    def blacklist(self) -> tuple[str, ...]:
        if self.blacklist_path is None:
            return ()
        text = _read_optional(self.blacklist_path)
        return parse_blacklist(text) if text is not None else ()

    @cached_property
    def paper_md(self) -> str | None:
        return _read_optional(self.folder / "paper.md")

    @cached_property
    def addendum(self) -> str | None:
        return _read_optional(self.folder / "addendum.md")

    @cached_property
    def judge_addendum(self) -> str | None:
        return _read_optional(self.folder / "judge.addendum.md")


class PaperMissing(JudgeError):
    """The paper has no paper.md and grading without it was not allowed: refused before any call."""

    exit_code = 1


def paper_caveats(paper: Paper, allow_missing_paper: bool) -> tuple[str, ...]:
    """() when the paper can be graded as PaperBench grades it (paper.md present); the caveat when
    grading without paper.md is allowed; PaperMissing otherwise."""
    from judge.summary import NO_PAPER_CAVEAT

    if paper.paper_md and paper.paper_md.strip():
        return ()
    if allow_missing_paper:
        return (NO_PAPER_CAVEAT,)
    raise PaperMissing(
        f"paper {paper.id!r} has no paper.md, and the judge grades with the paper: import it "
        f"(`reprobot papers import PAPERBENCH_DATA_DIR {paper.id}`) or pass --allow-missing-paper"
    )


class PaperRegistry:
    """Papers in ``rubrics/<id>/`` with blacklists in ``blacklists/<id>.txt``."""

    def __init__(self, rubrics_dir: Path, blacklists_dir: Path | None = None) -> None:
        self.rubrics_dir = Path(rubrics_dir)
        self.blacklists_dir = Path(blacklists_dir) if blacklists_dir is not None else None

    def ids(self) -> list[str]:
        if not self.rubrics_dir.is_dir():
            return []
        return sorted(
            p.name for p in self.rubrics_dir.iterdir() if p.is_dir() and (p / "rubric.json").is_file()
        )

    def __iter__(self) -> Iterator[Paper]:
        return (self.get(pid) for pid in self.ids())

    def _blacklist_for(self, paper_id: str, folder: Path) -> Path | None:
        if self.blacklists_dir is not None:
            candidate = self.blacklists_dir / f"{paper_id}.txt"
            if candidate.is_file():
                return candidate
        local = folder / "blacklist.txt"
        return local if local.is_file() else None

    def get(self, paper_id: str) -> Paper:
        if not PAPER_ID_RE.match(paper_id):
            raise PaperNotFound(f"invalid paper id {paper_id!r}")
        folder = self.rubrics_dir / paper_id
        if not (folder / "rubric.json").is_file():
            known = ", ".join(self.ids()[:8]) or "none"
            raise PaperNotFound(
                f"unknown paper {paper_id!r} (no {folder}/rubric.json; known: {known}"
                f"{', ...' if len(self.ids()) > 8 else ''}; `reprobot papers` lists them)"
            )
        return Paper(paper_id, folder, self._blacklist_for(paper_id, folder))

    def resolve(self, ref: str) -> Paper:
        """An id from the registry, or a path to a folder in PaperBench's layout."""
        path = Path(ref)
        if ("/" in ref or ref.startswith(".")) or (path.is_dir() and not PAPER_ID_RE.match(ref)):
            if not (path / "rubric.json").is_file():
                raise PaperNotFound(f"{ref}: not a paper folder (no rubric.json inside)")
            blacklist = path / "blacklist.txt"
            return Paper(path.resolve().name, path, blacklist if blacklist.is_file() else None)
        if (self.rubrics_dir / ref / "rubric.json").is_file():
            return self.get(ref)
        if path.is_dir() and (path / "rubric.json").is_file():
            blacklist = path / "blacklist.txt"
            return Paper(path.resolve().name, path, blacklist if blacklist.is_file() else None)
        return self.get(ref)
