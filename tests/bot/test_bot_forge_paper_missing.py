"""On the local forge, a push to a paper without paper.md gets the neutral notice (a completed
check: a git note on the commit saying how the organizer fixes it), never a grade job retried as a
failure or left in "fetching"; and a grade job that meets a missing paper.md later (removed after
the push) ends neutral at once, with no retry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner

from bot.cli import main
from bot.forge.api import clients_for
from bot.forge.repo import ZERO_SHA, LocalForge
from bot.github.pygithub import github_factory
from bot.grading import GradeOutcome, GradeRequest, ProgressFn
from bot.jobs.queue import JobQueue
from bot.jobs.worker import Worker
from bot.settings import Settings, forge_path, queue_path
from judge.papers import PaperMissing
from tests.bot.fake_grader import FakeGrader

PAPER = "all-in-one"  # bundled without paper.md


def _push(settings: Settings, config: Path, paper: str) -> tuple[str, str]:
    forge = LocalForge(forge_path(settings))
    forge.init([paper])
    branch = f"submit/{paper}/alice"
    sha = forge.commit_files(branch, {"reproduce.sh": b"echo hi\n"}, "submission")
    assert sha is not None
    result = CliRunner().invoke(
        main, ["--config", str(config), "forge", "hook", "--forge", str(forge.path)],
        input=f"{ZERO_SHA} {sha} refs/heads/{branch}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return sha, result.output


def test_a_forge_push_to_a_paper_without_paper_md_is_a_neutral_note(
    make_settings: Any, tmp_path: Path
) -> None:
    settings = make_settings(judge={"allow_missing_paper": False})
    sha, said = _push(settings, tmp_path / "reprobot.yaml", PAPER)
    assert "cannot be graded yet" in said
    queue = JobQueue(queue_path(settings), lease_s=settings.bot.lease_s)
    [job] = queue.jobs()
    assert job.kind == "notice" and job.info.conclusion == "neutral"
    Worker(settings, queue, FakeGrader(settings), clients_for(settings, github_factory)).run(once=True)
    job = queue.get(job.id)
    assert job.state == "posted" and job.attempts == 0
    note = LocalForge(forge_path(settings)).note(sha) or ""
    assert "[neutral]" in note and "paper.md" in note
    assert not (settings.data_dir / "fake_grader_calls.jsonl").exists()


class PaperGone(FakeGrader):
    """The paper's paper.md was removed after the push was queued."""

    def grade(self, request: GradeRequest, out_dir: Path, progress: ProgressFn | None = None) -> GradeOutcome:
        raise PaperMissing(f"paper {request.paper} has no paper.md; run `reprobot papers import`")


def test_a_grade_that_meets_a_missing_paper_ends_neutral_at_once(make_settings: Any, tmp_path: Path) -> None:
    settings = make_settings()  # allowed at the push: the paper.md goes missing afterwards
    _push(settings, tmp_path / "reprobot.yaml", "tiny-moons")
    queue = JobQueue(queue_path(settings), lease_s=settings.bot.lease_s)
    worker = Worker(settings, queue, PaperGone(settings), clients_for(settings, github_factory))
    worker.run(once=True)
    [job] = queue.jobs()
    assert job.state == "infra_error" and job.attempts == 0, job.message
    assert "retry" not in job.message and "paper.md" in job.message
    assert job.outcome is not None and job.outcome.final
