"""The report's model: a result folder (docs/FORMATS.md) loaded once into a frozen ``ReportContext``
that every renderer (comment, check run, HTML, annotations) reads.

``grade.json`` is required; every other file is optional. A missing optional file is listed in
``missing``; an unreadable one in ``problems`` (the report says so instead of failing). Scores are
always recomputed from the leaves of ``grade.json`` (never taken from ``judge_summary.json``).

A result folder may come from anywhere (an imported run, a foreign graded tree), so every field is
bounded here, at the load edge, before any work: ids, requirements, explanations and categories cut
to ``MAX_*`` characters, every string of ``judge_metadata`` and of the optional files cut and made
valid Unicode (a lone surrogate becomes U+FFFD), lists cut to ``MAX_LIST_ITEMS``, nesting to
``MAX_DEPTH``; a grade.json past ``MAX_GRADE_BYTES`` or nested past what JSON can read is one
``ReportError`` line. Renderers never see an unbounded value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from bot.errors import BotError
from bot.report.leaf_evidence import NO_EVIDENCE, LeafEvidence, evidence_of
from bot.results import (
    BLACKLIST,
    GRADE,
    JUDGE_SUMMARY,
    RUN_METADATA,
    SUBMISSION_RECORD,
    BlacklistRecord,
    SubmissionRecord,
)
from judge.errors import JudgeError
from judge.graded import GradedNode, ScoreSummary, aggregate, leaf_shares, load_graded, summarize
from judge.rubric import CODE_DEVELOPMENT
from judge.summary import GradeSummary
from runner.errors import RunnerError
from runner.metadata import RunMetadata

Verdict = Literal["pass", "fail", "invalid"]
MAX_ID_CHARS = 300
MAX_REQUIREMENTS_CHARS = 10_000
MAX_EXPLANATION_CHARS = 50_000
MAX_CATEGORY_CHARS = 100
MAX_STRING_CHARS = 50_000  # any other string (judge_metadata, the optional files)
MAX_LIST_ITEMS = 1_000  # citations included: more are not read
MAX_DEPTH = 12  # nesting inside judge_metadata and the optional files
MAX_GRADE_BYTES = 128 * 1024 * 1024
OPTIONAL_FILES = (JUDGE_SUMMARY, RUN_METADATA, BLACKLIST, SUBMISSION_RECORD)


class ReportError(BotError):
    """A result folder that cannot be reported on (no or unreadable grade.json)."""


def verdict_of(node: GradedNode) -> Verdict:
    """A leaf's verdict; for an internal node: invalid if any leaf is, pass if all pass, else fail."""
    if node.is_leaf:
        if not node.valid_score:
            return "invalid"
        return "pass" if node.score >= 0.5 else "fail"
    verdicts = {verdict_of(leaf) for leaf in node.leaves()}
    if "invalid" in verdicts:
        return "invalid"
    return "pass" if verdicts <= {"pass"} else "fail"


@dataclass(frozen=True, slots=True)
class JudgeInfo:
    model: str | None
    caveats: tuple[str, ...]  # printed by every output (dummy judge, graded without the paper)
    cost_usd: float | None
    tokens: Mapping[str, int]
    mode: str | None
    paper_id: str | None
    prompt_version: str | None
    started_at: str | None
    finished_at: str | None
    protocol: str | None = None


@dataclass(frozen=True, slots=True)
class LeafInfo:
    """A leaf with its share of the root's weight, the share it lost, and its ancestors' ids."""

    node: GradedNode
    share: float
    lost: float
    verdict: Verdict
    path: tuple[GradedNode, ...]
    evidence: LeafEvidence = NO_EVIDENCE


@dataclass(frozen=True, slots=True)
class ReportContext:
    result_dir: Path
    root: GradedNode  # aggregated
    summary: ScoreSummary
    mode: str  # "full" | "code-dev"
    mode_known: bool
    paper_id: str | None
    judge: JudgeInfo | None
    run: RunMetadata | None
    blacklist: BlacklistRecord | None
    submission: SubmissionRecord | None
    missing: tuple[str, ...]
    problems: tuple[str, ...]
    leaves: tuple[LeafInfo, ...]

    def evidence_index(self) -> dict[int, LeafEvidence]:
        """Each leaf's citations keyed by ``id(node)`` (node ids may repeat in real rubrics)."""
        return {id(leaf.node): leaf.evidence for leaf in self.leaves}

    @property
    def failing(self) -> tuple[LeafInfo, ...]:
        """Validly graded leaves that did not pass, most weight lost first."""
        out = [leaf for leaf in self.leaves if leaf.verdict == "fail"]
        return tuple(sorted(out, key=lambda x: (-x.lost, x.node.id)))

    @property
    def invalid(self) -> tuple[LeafInfo, ...]:
        out = [leaf for leaf in self.leaves if leaf.verdict == "invalid"]
        return tuple(sorted(out, key=lambda x: (-x.share, x.node.id)))

    @property
    def mode_label(self) -> str:
        return "Code-Dev" if self.mode == "code-dev" else "full"


def bounded_text(value: str, limit: int) -> str:
    """At most ``limit`` characters, valid Unicode (lone surrogates become U+FFFD). Cut first: no
    work grows with what a foreign file holds past the limit."""
    cut = value[:limit]
    try:
        cut.encode("utf-8")
    except UnicodeEncodeError:
        cut = cut.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return cut


def bounded_json(value: Any, depth: int = 0) -> Any:
    """A JSON value with every string, list and nesting level bounded (deeper values dropped)."""
    if isinstance(value, str):
        return bounded_text(value, MAX_STRING_CHARS)
    if depth >= MAX_DEPTH:
        return None
    if isinstance(value, Mapping):
        items = list(value.items())[:MAX_LIST_ITEMS]
        return {bounded_text(str(k), MAX_ID_CHARS): bounded_json(v, depth + 1) for k, v in items}
    if isinstance(value, list | tuple):
        return [bounded_json(v, depth + 1) for v in value[:MAX_LIST_ITEMS]]
    return value


def bounded_node(node: GradedNode) -> GradedNode:
    """The graded tree with every field bounded (``MAX_*``)."""
    category, fine = node.task_category, node.finegrained_task_category
    return replace(
        node,
        id=bounded_text(node.id, MAX_ID_CHARS),
        requirements=bounded_text(node.requirements, MAX_REQUIREMENTS_CHARS),
        explanation=bounded_text(node.explanation, MAX_EXPLANATION_CHARS),
        task_category=bounded_text(category, MAX_CATEGORY_CHARS) if category is not None else None,
        finegrained_task_category=bounded_text(fine, MAX_CATEGORY_CHARS) if fine is not None else None,
        judge_metadata=bounded_json(node.judge_metadata) if node.judge_metadata is not None else None,
        sub_tasks=tuple(bounded_node(child) for child in node.sub_tasks),
    )


def _opt_str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _read_obj(path: Path, problems: list[str]) -> dict[str, Any] | None:
    try:
        if path.stat().st_size > MAX_GRADE_BYTES:
            raise ValueError("too large")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        problems.append(f"{path.name} is unreadable ({type(exc).__name__})")
        return None
    if not isinstance(data, dict):
        problems.append(f"{path.name} is not a JSON object")
        return None
    bounded: dict[str, Any] = bounded_json(data)
    return bounded


def _judge_info(d: Mapping[str, Any]) -> JudgeInfo:
    """The judge's summary through its record (``judge.summary.GradeSummary``); a key an older
    summary lacks (mode, protocol, paper) is shown as unknown, not as the record's default."""
    s = GradeSummary.from_dict(d)
    said = frozenset(key for key in ("mode", "protocol", "paper_id") if key in d)
    return JudgeInfo(
        model=s.models[0] if s.models else None,
        caveats=s.caveats,
        cost_usd=s.cost_usd,
        tokens=s.tokens.to_dict(),
        mode=s.mode if "mode" in said else None,
        paper_id=(s.paper_id or None) if "paper_id" in said else None,
        prompt_version=s.prompt_version,
        started_at=s.started_at,
        finished_at=s.finished_at,
        protocol=s.protocol if "protocol" in said else None,
    )


def load_context(result_dir: Path) -> ReportContext:
    """Read a result folder; raises ReportError when grade.json is missing or invalid."""
    result_dir = Path(result_dir)
    grade_path = result_dir / GRADE
    if not grade_path.is_file():
        raise ReportError(f"{result_dir}: no {GRADE} (is this a graded result folder?)")
    try:
        size = grade_path.stat().st_size
        if size > MAX_GRADE_BYTES:
            raise ReportError(f"{grade_path}: {size} bytes, more than a report reads ({MAX_GRADE_BYTES})")
        root = aggregate(bounded_node(load_graded(grade_path)))
    except JudgeError as exc:
        raise ReportError(" ".join(bounded_text(str(exc), 500).split())) from None
    except (RecursionError, OSError) as exc:
        raise ReportError(f"{grade_path}: cannot be read as a graded tree ({type(exc).__name__})") from None

    missing: list[str] = []
    problems: list[str] = []
    raw: dict[str, dict[str, Any] | None] = {}
    for name in OPTIONAL_FILES:
        path = result_dir / name
        if not path.is_file():
            missing.append(name)
            raw[name] = None
        else:
            raw[name] = _read_obj(path, problems)

    run: RunMetadata | None = None
    raw_run, raw_judge, raw_blacklist, raw_submission = (
        raw[RUN_METADATA],
        raw[JUDGE_SUMMARY],
        raw[BLACKLIST],
        raw[SUBMISSION_RECORD],
    )
    if raw_run is not None:
        try:
            run = RunMetadata.from_dict(raw_run)
        except (TypeError, ValueError, RunnerError, AttributeError) as exc:
            problems.append(f"{RUN_METADATA} does not match the format ({type(exc).__name__})")

    judge = _judge_info(raw_judge) if raw_judge is not None else None
    blacklist = BlacklistRecord.from_dict(raw_blacklist) if raw_blacklist is not None else None
    submission = SubmissionRecord.from_dict(raw_submission) if raw_submission is not None else None

    mode_raw = (judge.mode if judge else None) or (submission.mode if submission else None)
    mode_known = mode_raw in ("full", "code-dev")
    if mode_known:
        mode = str(mode_raw)
    else:
        all_code_dev = all(leaf.task_category == CODE_DEVELOPMENT for leaf in root.leaves())
        mode = "code-dev" if all_code_dev else "full"

    leaves = tuple(
        LeafInfo(
            node=leaf,
            share=share,
            lost=share * (1.0 - (leaf.score if leaf.valid_score else 0.0)),
            verdict=verdict_of(leaf),
            path=ancestors,
            evidence=evidence_of(leaf, result_dir),
        )
        for leaf, share, ancestors in leaf_shares(root)
    )
    paper_id = (judge.paper_id if judge else None) or (submission.paper_id if submission else None)
    return ReportContext(
        result_dir=result_dir,
        root=root,
        summary=summarize(root),
        mode=mode,
        mode_known=mode_known,
        paper_id=paper_id,
        judge=judge,
        run=run,
        blacklist=blacklist,
        submission=submission,
        missing=tuple(missing),
        problems=tuple(problems),
        leaves=leaves,
    )
