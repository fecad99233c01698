"""Import papers from a PaperBench data folder into the papers folder (the paper is an input).

A PaperBench checkout keeps each paper in ``<data>/papers/<id>/`` (``<data>/<id>/`` is accepted
too): rubric.json, paper.md, addendum.md, judge.addendum.md, blacklist.txt, config.yaml and an
assets/ folder. Each imported paper's rubric is checked first; files are copied (never through
symlinks) into ``<rubrics_dir>/<id>/``, and the blacklist also to ``<blacklists_dir>/<id>.txt``
where the registry looks first. Git LFS pointer files (PaperBench keeps paper.md in LFS) are
refused by name: a pointer is not a paper.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from judge.errors import JudgeError, PaperNotFound
from judge.papers import PAPER_ID_RE
from judge.rubric import load_rubric

PAPER_FILES = ("rubric.json", "paper.md", "addendum.md", "judge.addendum.md", "blacklist.txt", "config.yaml")
LFS_POINTER = b"version https://git-lfs.github.com/spec/"


class PaperImportError(JudgeError):
    """The data folder cannot be imported from."""


@dataclass(frozen=True)
class Imported:
    id: str
    folder: Path
    files: tuple[str, ...]
    gradable: bool  # paper.md present
    skipped: tuple[str, ...] = ()  # files not copied, with the reason


def _papers_root(data_dir: Path) -> Path:
    if (data_dir / "papers").is_dir():
        return data_dir / "papers"
    if data_dir.is_dir():
        return data_dir
    raise PaperImportError(f"{data_dir}: not a directory (expected a PaperBench data folder)")


def available(data_dir: Path) -> list[str]:
    root = _papers_root(data_dir)
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "rubric.json").is_file())


def _copy_tree(src: Path, dst: Path) -> int:
    n = 0
    for path in sorted(src.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        if any(part.is_symlink() for part in path.relative_to(src).parents if part != Path(".")):
            continue
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        n += 1
    return n


def import_papers(
    data_dir: Path, rubrics_dir: Path, blacklists_dir: Path | None, ids: Sequence[str] = ()
) -> list[Imported]:
    root = _papers_root(Path(data_dir))
    wanted = list(ids) or available(Path(data_dir))
    out: list[Imported] = []
    for pid in wanted:
        if not PAPER_ID_RE.match(pid):
            raise PaperNotFound(f"invalid paper id {pid!r}")
        src = root / pid
        if not (src / "rubric.json").is_file():
            raise PaperNotFound(
                f"{src}: no rubric.json (papers here: {', '.join(available(Path(data_dir)))})"
            )
        load_rubric(src / "rubric.json")  # refuse a bad rubric before copying anything
        dst = Path(rubrics_dir) / pid
        dst.mkdir(parents=True, exist_ok=True)
        copied, skipped = [], []
        for name in PAPER_FILES:
            f = src / name
            if f.is_symlink() or not f.is_file():
                continue
            if f.read_bytes()[:64].startswith(LFS_POINTER):
                skipped.append(f"{name} (a Git LFS pointer: run `git lfs pull` in the PaperBench checkout)")
                continue
            shutil.copyfile(f, dst / name)
            copied.append(name)
        if (src / "assets").is_dir() and not (src / "assets").is_symlink():
            if _copy_tree(src / "assets", dst / "assets"):
                copied.append("assets/")
        if blacklists_dir is not None and (dst / "blacklist.txt").is_file():
            Path(blacklists_dir).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(dst / "blacklist.txt", Path(blacklists_dir) / f"{pid}.txt")
        gradable = (dst / "paper.md").is_file() and bool(
            (dst / "paper.md").read_text(errors="replace").strip()
        )
        out.append(Imported(pid, dst, tuple(copied), gradable, tuple(skipped)))
    return out
