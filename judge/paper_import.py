"""Import papers from a PaperBench data folder into the papers folder (the paper is an input).

A PaperBench checkout keeps each paper in ``<data>/papers/<id>/`` (``<data>/<id>/`` is accepted
too): rubric.json, paper.md, addendum.md, judge.addendum.md, blacklist.txt, config.yaml and an
assets/ folder. Each imported paper's rubric is checked first; files are copied (never through
symlinks) into ``<rubrics_dir>/<id>/``, and the blacklist also to ``<blacklists_dir>/<id>.txt``
where the registry looks first. Git LFS pointer files (PaperBench keeps paper.md in LFS) are
refused by name: a pointer is not a paper. Each paper is imported whole or not at all (staged, then
swapped in); a refused folder is listed with its reason and never stops the others.
"""

from __future__ import annotations

import os
import shutil
import tempfile
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


@dataclass(frozen=True)
class Refused:
    """A paper folder that was not imported (nothing of it was copied), and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class ImportReport:
    root: Path  # the papers folder that was read
    imported: tuple[Imported, ...]
    refused: tuple[Refused, ...]


# Where a PaperBench checkout keeps its papers, from the top of the checkout down.
CHECKOUT_LAYOUTS = ("papers", "data/papers", "paperbench/data/papers", "project/paperbench/data/papers")


def _has_papers(folder: Path) -> bool:
    try:
        return any(p.is_dir() and (p / "rubric.json").is_file() for p in folder.iterdir())
    except OSError:
        return False


def find_papers_root(data_dir: Path) -> Path:
    """The folder whose sub-folders are papers: DATA_DIR itself, or its papers folder as a PaperBench
    checkout or data folder lays it out (``papers/``, ``data/papers/``, ...,
    ``project/paperbench/data/papers/``)."""
    if not data_dir.is_dir():
        raise PaperImportError(f"{data_dir}: not a directory (expected a PaperBench data folder)")
    for rel in CHECKOUT_LAYOUTS:
        if (data_dir / rel).is_dir() and _has_papers(data_dir / rel):
            return data_dir / rel
    if _has_papers(data_dir):
        return data_dir
    raise PaperImportError(
        f"{data_dir}: no papers found (no folder with a rubric.json in it, nor in "
        f"{', '.join(r + '/' for r in CHECKOUT_LAYOUTS)}); point at the papers folder of a PaperBench "
        "checkout, e.g. <checkout>/project/paperbench/data/papers"
    )


def available(data_dir: Path) -> list[str]:
    root = find_papers_root(data_dir)
    return sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "rubric.json").is_file())


def _copy_tree(src: Path, dst: Path, skipped: list[str]) -> int:
    n = 0
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if path.is_symlink():
            skipped.append(f"assets/{rel} (a symbolic link: never followed)")
            continue
        if not path.is_file() or any(part.is_symlink() for part in path.parents if src in part.parents):
            continue
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        n += 1
    return n


def _stage(src: Path, stage: Path) -> tuple[list[str], list[str]]:
    """Copy one paper into STAGE; raises PaperNotFound (nothing kept) when the paper is refused."""
    links = [name for name in PAPER_FILES if (src / name).is_symlink()]
    if (src / "assets").is_symlink():
        links.append("assets/")
    if links:
        raise PaperNotFound(f"{', '.join(links)}: a symbolic link (never followed; copy the file in)")
    if not (src / "rubric.json").is_file():
        raise PaperNotFound("no rubric.json")
    load_rubric(src / "rubric.json")  # refuse a bad rubric before copying anything
    stage.mkdir(parents=True)
    copied: list[str] = []
    skipped: list[str] = []
    for name in PAPER_FILES:
        f = src / name
        if not f.is_file():
            continue
        if f.read_bytes()[:64].startswith(LFS_POINTER):
            skipped.append(f"{name} (a Git LFS pointer: run `git lfs pull` in the PaperBench checkout)")
            continue
        shutil.copyfile(f, stage / name)
        copied.append(name)
    if (src / "assets").is_dir() and _copy_tree(src / "assets", stage / "assets", skipped):
        copied.append("assets/")
    return copied, skipped


def _swap_in(stage: Path, dst: Path) -> None:
    """Replace DST by STAGE (same filesystem): the old paper stays whole until the new one is in."""
    old = dst.with_name(f".{dst.name}.old-{os.getpid()}")
    if dst.exists():
        dst.rename(old)
    try:
        stage.rename(dst)
    except OSError:
        if old.exists():
            old.rename(dst)
        raise
    shutil.rmtree(old, ignore_errors=True)


def import_papers(
    data_dir: Path, rubrics_dir: Path, blacklists_dir: Path | None, ids: Sequence[str] = ()
) -> ImportReport:
    """Import every paper (or IDS) all-or-nothing per paper: a refused paper leaves nothing behind
    and does not stop the others; every refused folder is listed with its reason."""
    root = find_papers_root(Path(data_dir))
    if ids:
        wanted = list(ids)
    else:
        wanted = sorted(p.name for p in root.iterdir() if p.is_dir() and (p / "rubric.json").exists())
    imported: list[Imported] = []
    refused: list[Refused] = []
    rubrics_dir = Path(rubrics_dir)
    rubrics_dir.mkdir(parents=True, exist_ok=True)
    for pid in wanted:
        if not PAPER_ID_RE.match(pid):
            refused.append(Refused(pid, "not a valid paper id (letters, digits, '.', '_', '-')"))
            continue
        src = root / pid
        if not src.is_dir() or src.is_symlink():
            refused.append(Refused(pid, f"no folder {src} (papers here: {', '.join(available(root))})"))
            continue
        stage = Path(tempfile.mkdtemp(prefix=f".{pid}.import-", dir=rubrics_dir)) / pid
        try:
            copied, skipped = _stage(src, stage)
            _swap_in(stage, rubrics_dir / pid)
        except (JudgeError, OSError) as exc:
            refused.append(Refused(pid, str(exc)))
            continue
        finally:
            shutil.rmtree(stage.parent, ignore_errors=True)
        dst = rubrics_dir / pid
        if blacklists_dir is not None and (dst / "blacklist.txt").is_file():
            Path(blacklists_dir).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(dst / "blacklist.txt", Path(blacklists_dir) / f"{pid}.txt")
        gradable = (dst / "paper.md").is_file() and bool(
            (dst / "paper.md").read_text(errors="replace").strip()
        )
        imported.append(Imported(pid, dst, tuple(copied), gradable, tuple(skipped)))
    return ImportReport(root, tuple(imported), tuple(refused))
