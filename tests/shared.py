"""Where the shared material is: ``../shared`` beside this checkout (a clone in any folder), else
``/work/shared`` (worktrees that live elsewhere)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = next(
    (p for p in (ROOT.parent / "shared", Path("/work/shared")) if p.is_dir()), ROOT.parent / "shared"
)
