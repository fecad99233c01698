"""The result folder of a graded submission: the one owner of its file names and of the bot's records
in it (docs/FORMATS.md).

The runner writes the executed submission (``reproduce.log``, ``metadata.json``, ``submission/``), the
judge writes the graded tree and its summary, the bot adds ``blacklist.json``, ``submission.json``
and ``report.html``. Everything in the bot that opens one of these files names it through here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from judge.outputs import GRADE, JUDGE_CALLS, JUDGE_SUMMARY
from runner.layout import EXECUTED_DIR, REPRODUCE_LOG, RUN_METADATA

__all__ = ["EXECUTED_DIR", "GRADE", "JUDGE_CALLS", "JUDGE_SUMMARY", "REPRODUCE_LOG", "RUN_METADATA"]

BLACKLIST = "blacklist.json"
SUBMISSION_RECORD = "submission.json"
REPORT_HTML = "report.html"

EXECUTED_FILES = (REPRODUCE_LOG, RUN_METADATA, BLACKLIST)  # what a regrade copies from the earlier run


@dataclass(frozen=True, slots=True)
class ResultFolder:
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
    def blacklist(self) -> Path:
        return self.path / BLACKLIST

    @property
    def submission_record(self) -> Path:
        return self.path / SUBMISSION_RECORD

    @property
    def report_html(self) -> Path:
        return self.path / REPORT_HTML


def _opt_str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def _threshold(v: Any) -> float | None:
    ok = isinstance(v, int | float) and not isinstance(v, bool) and 0.0 <= v <= 1.0
    return float(v) if ok else None


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


def finished_reproduction(folder: Path) -> bool:
    """Whether ``folder`` holds a reproduction that ran to its end (the runner writes
    ``metadata.json`` last, after collecting ``submission/``): a resumed job judges it again
    instead of redoing the run."""
    from runner.errors import RunnerError
    from runner.metadata import RunMetadata

    path = ResultFolder(folder).run_metadata
    if not path.is_file() or not (folder / EXECUTED_DIR).is_dir():
        return False
    try:
        return RunMetadata.read(path).ran  # completed, or stopped at the disk limit: judge, never rerun
    except (OSError, ValueError, TypeError, KeyError, RunnerError):
        return False
