"""The seam between the bot and the grading pipeline (fetch, scan, run, collect, judge, report).

The bot's worker only knows this Protocol. ``bot.pipeline.LocalGrader`` (runner + judge)
grades on this machine; tests use stand-ins that write a result folder in the formats of
docs/FORMATS.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

GradeStatus = Literal["graded", "rejected", "infra_error"]


@dataclass(frozen=True, slots=True)
class GradeRequest:
    submission: str  # a directory, a git URL with @ref/SHA, or a tarball
    paper: str  # paper id or PaperBench-layout folder
    code_dev: bool = False
    reuse_reproduction: Path | None = None  # regrade: judge again on this executed submission
    submitter: str | None = None
    agent_log: Path | None = None  # the agent's log for PaperBench's monitor (default: agent.log at the root)
    # private head repositories: an HTTP Authorization value (a short-lived installation token)
    # used by git for the clone only; never written anywhere, never in the container
    fetch_auth: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class GradeOutcome:
    status: GradeStatus  # rejected: the submission's fault (no reproduce.sh, too big, blacklist fail)
    message: str  # one clear line for the participant
    result_dir: Path  # holds grade.json, judge_summary.json, metadata.json, ... (docs/FORMATS.md)
    score: float | None = None
    coverage: float | None = None


ProgressFn = Callable[[str, str], None]  # (stage, detail), e.g. ("reproducing", "42 s, last line ...")


class Grader(Protocol):
    def grade(
        self, request: GradeRequest, out_dir: Path, progress: ProgressFn | None = None
    ) -> GradeOutcome: ...

    def check_judge(self) -> str | None:
        """Build the judge now, without a call (a missing key fails here, before any work); its
        declared caveat, which the caller says once, loudly (None for a real judge)."""
        ...
