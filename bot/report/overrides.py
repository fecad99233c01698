"""Appeals settled: an organizer overrides the judge's verdict on one leaf, and the grade is rescored.

``/reprobot override LEAF pass|fail REASON`` in a pull request (the command's argument text is read by
``parse_override``) and ``reprobot override RESULT_DIR LEAF pass|fail REASON`` on the command line
both end in ``apply_override``:

- the leaf (every copy of it: real rubrics repeat a few leaves verbatim) gets the organizer's 0 or 1,
  valid, and its ``judge_metadata["override"]`` keeps the judge's own verdict beside who, when and
  why (a second override of the same leaf keeps the *judge's* verdict, not the first override's);
- the tree is aggregated again and ``grade.json`` rewritten; ``judge_summary.json`` gets the new
  figures (its score stays 0 when PaperBench's blacklist monitor zeroed it);
- ``overrides.json`` records every override in order, with the judge's score before the first.

Each file is replaced whole (written beside it, then renamed), tree first: a crash in between leaves
a consistent tree, and running the same override again completes the rest.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bot.errors import BotError
from bot.report.escaping import clean
from bot.results import OVERRIDE_KEY, LeafOverride, OverrideLog, ResultFolder, Verdict
from judge.errors import JudgeError
from judge.graded import GradedNode, aggregate, load_graded, summarize
from judge.summary import CategoryFigures, GradeSummary

MAX_REASON = 500
MAX_LEAF_ID = 200
USAGE = "usage: /reprobot override LEAF pass|fail REASON (the leaf's id from the report, then why)"


class OverrideError(BotError):
    """An override that cannot be made; the message is one line, fit for a reply."""


@dataclass(frozen=True, slots=True)
class OverrideRequest:
    leaf_id: str
    verdict: Verdict
    reason: str


@dataclass(frozen=True, slots=True)
class OverrideResult:
    leaf_id: str
    verdict: Verdict
    judge_verdict: str  # pass | fail | not graded
    before: float  # the grade's score before this override
    after: float
    copies: int  # leaves with this id (real rubrics repeat a few verbatim)
    overridden: int  # distinct leaves overridden in this grade so far


def parse_override(argument: str) -> OverrideRequest:
    """``LEAF pass|fail REASON`` (the text after ``/reprobot override``); raises OverrideError."""
    text = clean(argument).strip()
    first_line = text.split("\n", 1)[0].strip()
    words = first_line.split(maxsplit=2)
    if len(words) < 2:
        raise OverrideError(USAGE)
    leaf_id, verdict = words[0].strip("`"), words[1].lower()
    if verdict not in ("pass", "fail"):
        raise OverrideError(f"the verdict must be pass or fail, not {clean(words[1])[:20]!r}; {USAGE}")
    if not leaf_id or len(leaf_id) > MAX_LEAF_ID:
        raise OverrideError(f"a leaf id has 1 to {MAX_LEAF_ID} characters; {USAGE}")
    reason = " ".join(words[2].split()) if len(words) > 2 else ""
    if not reason:
        raise OverrideError(f"say why (the reason is kept beside the judge's verdict); {USAGE}")
    if len(reason) > MAX_REASON:
        raise OverrideError(f"the reason has at most {MAX_REASON} characters ({len(reason)} given)")
    return OverrideRequest(leaf_id, verdict, reason)  # type: ignore[arg-type]


def leaf_override(node: GradedNode) -> LeafOverride | None:
    """The organizer's override recorded on a leaf, if any."""
    meta = node.judge_metadata
    return LeafOverride.from_dict(meta.get(OVERRIDE_KEY)) if meta else None


def overrides_in(root: GradedNode) -> Iterator[tuple[GradedNode, LeafOverride]]:
    """Every overridden leaf of a graded tree, in tree order."""
    for leaf in root.leaves():
        found = leaf_override(leaf)
        if found is not None:
            yield leaf, found


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.override-tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _override_leaf(node: GradedNode, record: LeafOverride) -> GradedNode:
    meta: dict[str, Any] = dict(node.judge_metadata or {})
    meta[OVERRIDE_KEY] = record.to_dict()
    score = 1.0 if record.verdict == "pass" else 0.0
    return replace(node, score=score, valid_score=True, judge_metadata=meta)


def _rewrite(
    node: GradedNode, request: OverrideRequest, by: str, at: str, seen: list[LeafOverride]
) -> GradedNode:
    if node.is_leaf:
        if node.id != request.leaf_id:
            return node
        earlier = leaf_override(node)  # the judge's verdict survives a second override
        judge_score = earlier.judge_score if earlier else node.score
        judge_valid = earlier.judge_valid if earlier else node.valid_score
        record = LeafOverride(
            request.leaf_id, request.verdict, request.reason, by, at, judge_score, judge_valid
        )
        seen.append(record)
        return _override_leaf(node, record)
    return replace(node, sub_tasks=tuple(_rewrite(c, request, by, at, seen) for c in node.sub_tasks))


def _summary(folder: ResultFolder, root: GradedNode) -> GradeSummary | None:
    try:
        summary = GradeSummary.read(folder.judge_summary)
    except (OSError, ValueError):
        return None
    figures = summarize(root)
    blacklist = folder.read_blacklist()
    zeroed = blacklist is not None and blacklist.score_zero  # PaperBench's monitor: the score stays 0
    return replace(
        summary,
        score=0.0 if zeroed else figures.score,
        coverage=figures.coverage,
        leaves=figures.leaves,
        passed=figures.passed,
        invalid=figures.invalid,
        by_category={
            k: CategoryFigures(v.score, v.coverage, v.leaves, v.passed, v.invalid)
            for k, v in figures.by_category.items()
        },
    )


def apply_override(result_dir: Path, request: OverrideRequest, *, by: str, at: str) -> OverrideResult:
    """Override one leaf of the grade in ``result_dir`` and rescore it (see the module's text)."""
    folder = ResultFolder(Path(result_dir))
    try:
        root = aggregate(load_graded(folder.grade))
    except (OSError, JudgeError) as exc:
        raise OverrideError(f"{result_dir}: no readable grade ({exc})") from None
    node = root.find(request.leaf_id)
    if node is None:
        raise OverrideError(f"no leaf {request.leaf_id!r} in this grade (the report shows each leaf's id)")
    if not node.is_leaf:
        raise OverrideError(f"{request.leaf_id!r} is not a leaf: override the leaves under it one by one")
    blacklist = folder.read_blacklist()
    zeroed = blacklist is not None and blacklist.score_zero  # PaperBench's monitor: the score stays 0
    before = 0.0 if zeroed else root.score
    earlier_log = folder.read_overrides()
    seen: list[LeafOverride] = []
    rescored = aggregate(_rewrite(root, request, clean(by)[:100] or "unknown", at, seen))
    _write_atomic(folder.grade, json.dumps(rescored.to_dict(), indent=2, ensure_ascii=False) + "\n")
    summary = _summary(folder, rescored)
    if summary is not None:
        _write_atomic(folder.judge_summary, summary.to_json())
    log = OverrideLog(
        judge_score=earlier_log.judge_score if earlier_log else before,
        judge_coverage=earlier_log.judge_coverage if earlier_log else summarize(root).coverage,
        overrides=(*(earlier_log.overrides if earlier_log else ()), seen[0]),
    )
    _write_atomic(folder.overrides, json.dumps(log.to_dict(), indent=2, ensure_ascii=False) + "\n")
    return OverrideResult(
        leaf_id=request.leaf_id,
        verdict=request.verdict,
        judge_verdict=seen[0].judge_verdict,
        before=before,
        after=0.0 if zeroed else rescored.score,
        copies=len(seen),
        overridden=len(log.leaves),
    )
