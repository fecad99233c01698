"""The result folder of a graded submission (docs/FORMATS.md): the bot's composition of the writers'
file names, and the typed record of every file in it.

Each writer names its own files; this module composes them and adds the bot's:

| file | named in | record | written by |
| --- | --- | --- | --- |
| ``reproduce.log``, ``submission/``, ``attempts/`` | ``runner.layout`` | (files) | the runner |
| ``metadata.json`` | ``runner.layout`` | ``runner.metadata.RunMetadata`` | the runner |
| ``grade.json`` | ``judge.outputs`` | ``judge.graded`` (``load_graded``) | the judge |
| ``judge_summary.json`` | ``judge.outputs`` | ``judge.summary.GradeSummary`` | the judge |
| ``judge_calls.jsonl`` | ``judge.outputs`` | (one line per call) | the judge |
| ``blacklist.json`` | here | ``BlacklistRecord`` | the pipeline (``runner.blacklist``'s report) |
| ``submission.json`` | here | ``SubmissionRecord`` | the worker, before any report |
| ``report.html`` | here | (rendered) | ``bot.report`` |
| ``overrides.json`` | here | ``OverrideLog`` (each ``LeafOverride``) | ``bot.report.overrides`` |

Everything in the bot that opens one of these files names it through here, and reads it through
``ResultFolder``'s readers (loosely: a field of the wrong type is unknown, an unreadable file None).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from judge.outputs import GRADE, JUDGE_CALLS, JUDGE_SUMMARY
from judge.summary import GradeSummary
from runner.blacklist import BlacklistReport, Policy
from runner.layout import ATTEMPTS_DIR, EXECUTED_DIR, REPRODUCE_LOG, RUN_METADATA

__all__ = [
    "ATTEMPTS_DIR",
    "EXECUTED_DIR",
    "GRADE",
    "JUDGE_CALLS",
    "JUDGE_SUMMARY",
    "REPRODUCE_LOG",
    "RUN_METADATA",
]

BLACKLIST = "blacklist.json"
SUBMISSION_RECORD = "submission.json"
REPORT_HTML = "report.html"
OVERRIDES = "overrides.json"
OVERRIDE_KEY = "override"  # a leaf's judge_metadata key holding its LeafOverride (the judge's verdict kept)

EXECUTED_FILES = (REPRODUCE_LOG, RUN_METADATA, BLACKLIST)  # what a regrade copies from the earlier run


def _opt_str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _threshold(v: Any) -> float | None:
    n = _number(v)
    return n if n is not None and 0.0 <= n <= 1.0 else None


def _read_object(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``; None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True, slots=True)
class SubmissionRecord:
    """``submission.json``: who submitted what, written by the worker before any report is rendered."""

    paper_id: str | None
    submitter: str | None
    repository: str | None
    pr_number: int | None
    head_sha: str | None
    mode: str | None
    human_baseline: bool
    url: str | None
    graded_at: str | None
    # where the rest of the story is (filled by the worker; the report links each one it has)
    check_run_url: str | None = None
    report_url: str | None = None
    leaderboard_url: str | None = None
    pass_threshold: float | None = None  # the check's success line: the report's badges follow it

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SubmissionRecord:
        """Read loosely: a field of the wrong type is unknown, not an error."""
        pr = d.get("pr_number")
        return cls(
            paper_id=_opt_str(d.get("paper_id")),
            submitter=_opt_str(d.get("submitter")),
            repository=_opt_str(d.get("repository")),
            pr_number=pr if isinstance(pr, int) and not isinstance(pr, bool) else None,
            head_sha=_opt_str(d.get("head_sha")),
            mode=_opt_str(d.get("mode")),
            human_baseline=d.get("human_baseline") is True,
            url=_opt_str(d.get("url")),
            graded_at=_opt_str(d.get("graded_at")),
            check_run_url=_opt_str(d.get("check_run_url")),
            report_url=_opt_str(d.get("report_url")),
            leaderboard_url=_opt_str(d.get("leaderboard_url")),
            pass_threshold=_threshold(d.get("pass_threshold")),
        )

    def write(self, folder: Path) -> Path:
        path = ResultFolder(folder).submission_record
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        return path


@dataclass(frozen=True, slots=True)
class BlacklistViolation:
    """One blacklisted resource found: where (``source``: the submission, ``reproduce.log``, the
    agent's log), the blacklist entry (``url``) and the text that matched."""

    source: str
    file: str
    line: int | None
    url: str
    matched: str
    context: str

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BlacklistViolation:
        line = d.get("line")
        return cls(
            source=str(d.get("source") or ""),
            file=str(d.get("file") or ""),
            line=line if isinstance(line, int) and not isinstance(line, bool) else None,
            url=str(d.get("url") or ""),
            matched=str(d.get("matched") or ""),
            context=str(d.get("context") or ""),
        )


@dataclass(frozen=True, slots=True)
class BlacklistRecord:
    """``blacklist.json``: the blacklist scan of the submission and its logs, as the pipeline wrote
    it (``runner.blacklist.BlacklistReport.to_dict``), read loosely."""

    policy: str
    blocked: bool  # reprobot's consequence: the submission is rejected
    score_zero: bool  # PaperBench's consequence (its monitor hit the agent's log): the score is 0
    violations: tuple[BlacklistViolation, ...]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BlacklistRecord:
        raw = d.get("violations")
        return cls(
            policy=str(d.get("policy") or "report"),
            blocked=d.get("blocked") is True,
            score_zero=d.get("score_zero") is True,
            violations=tuple(
                BlacklistViolation.from_dict(v)
                for v in (raw if isinstance(raw, list) else [])
                if isinstance(v, dict)
            ),
        )

    @staticmethod
    def write(folder: Path, report: BlacklistReport, policy: Policy) -> None:
        data = report.to_dict(policy)
        ResultFolder(folder).blacklist.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


Verdict = Literal["pass", "fail"]


@dataclass(frozen=True, slots=True)
class LeafOverride:
    """An organizer's verdict on one leaf (an appeal settled), with the judge's verdict kept beside
    it: who, when, why. Stored in the leaf's ``judge_metadata["override"]`` and, in order, in
    ``overrides.json``."""

    leaf_id: str
    verdict: Verdict
    reason: str
    by: str
    at: str  # ISO 8601, UTC
    judge_score: float  # the judge's own score of the leaf (0 or 1)
    judge_valid: bool  # whether the judge could grade it at all

    @property
    def judge_verdict(self) -> str:
        if not self.judge_valid:
            return "not graded"
        return "pass" if self.judge_score >= 0.5 else "fail"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> LeafOverride | None:
        """Read loosely: None unless it names a leaf and a verdict."""
        if not isinstance(d, Mapping):
            return None
        leaf, verdict = d.get("leaf_id"), d.get("verdict")
        if not isinstance(leaf, str) or not leaf or verdict not in ("pass", "fail"):
            return None
        return cls(
            leaf_id=leaf,
            verdict=verdict,
            reason=str(d.get("reason") or ""),
            by=str(d.get("by") or ""),
            at=str(d.get("at") or ""),
            judge_score=_number(d.get("judge_score")) or 0.0,
            judge_valid=d.get("judge_valid") is not False,
        )


@dataclass(frozen=True, slots=True)
class OverrideLog:
    """``overrides.json``: every override made on this result folder, oldest first, and the score
    the judge gave before the first."""

    judge_score: float
    judge_coverage: float
    overrides: tuple[LeafOverride, ...]

    @property
    def leaves(self) -> tuple[str, ...]:
        """The overridden leaf ids, each once, in the order first overridden."""
        return tuple(dict.fromkeys(o.leaf_id for o in self.overrides))

    def to_dict(self) -> dict[str, Any]:
        return {
            "judge_score": self.judge_score,
            "judge_coverage": self.judge_coverage,
            "overrides": [o.to_dict() for o in self.overrides],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OverrideLog:
        raw = d.get("overrides")
        found = (LeafOverride.from_dict(o) for o in (raw if isinstance(raw, list) else []))
        return cls(
            judge_score=_number(d.get("judge_score")) or 0.0,
            judge_coverage=_number(d.get("judge_coverage")) or 0.0,
            overrides=tuple(o for o in found if o is not None),
        )


@dataclass(frozen=True, slots=True)
class ResultFolder:
    """A result folder: the path of each file, and a reader per record."""

    path: Path

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    @property
    def grade(self) -> Path:
        return self.path / GRADE

    @property
    def judge_summary(self) -> Path:
        return self.path / JUDGE_SUMMARY

    @property
    def run_metadata(self) -> Path:
        return self.path / RUN_METADATA

    @property
    def reproduce_log(self) -> Path:
        return self.path / REPRODUCE_LOG

    @property
    def executed(self) -> Path:
        return self.path / EXECUTED_DIR

    @property
    def blacklist(self) -> Path:
        return self.path / BLACKLIST

    @property
    def submission_record(self) -> Path:
        return self.path / SUBMISSION_RECORD

    @property
    def report_html(self) -> Path:
        return self.path / REPORT_HTML

    @property
    def overrides(self) -> Path:
        return self.path / OVERRIDES

    def read_summary(self) -> GradeSummary | None:
        """The judge's summary; None when missing, unreadable, or without a score (not a grade)."""
        data = _read_object(self.judge_summary)
        if data is None or _number(data.get("score")) is None:
            return None
        return GradeSummary.from_dict(data)

    def read_submission(self) -> SubmissionRecord | None:
        data = _read_object(self.submission_record)
        return SubmissionRecord.from_dict(data) if data is not None else None

    def read_blacklist(self) -> BlacklistRecord | None:
        data = _read_object(self.blacklist)
        return BlacklistRecord.from_dict(data) if data is not None else None

    def read_overrides(self) -> OverrideLog | None:
        """The organizer's overrides; None when there are none (or the file is unreadable)."""
        data = _read_object(self.overrides)
        log = OverrideLog.from_dict(data) if data is not None else None
        return log if log is not None and log.overrides else None

    @staticmethod
    def judged_under(results_dir: Path) -> Iterator[ResultFolder]:
        """Every folder under ``results_dir`` (itself included) that the judge wrote a summary
        into, in path order."""
        for summary in sorted(Path(results_dir).glob(f"**/{JUDGE_SUMMARY}")):
            yield ResultFolder(summary.parent)


def finished_reproduction(folder: Path) -> bool:
    """Whether ``folder`` holds a reproduction that ran to its end (the runner writes
    ``metadata.json`` last, after collecting ``submission/``): a resumed job judges it again
    instead of redoing the run."""
    from runner.errors import RunnerError
    from runner.metadata import RunMetadata

    result = ResultFolder(folder)
    if not result.run_metadata.is_file() or not result.executed.is_dir():
        return False
    try:
        # completed, or stopped at the disk limit: judge it, never run it again
        return RunMetadata.read(result.run_metadata).ran
    except (OSError, ValueError, TypeError, KeyError, RunnerError):
        return False
