"""Appeals an organizer settles. ``/reprobot override LEAF pass|fail REASON`` (its handler, called with
the argument text the command parser hands over) through the GitHub stand-in and through the local
forge, and ``reprobot override RESULT_DIR ...`` on the command line, each change the score, the
check run (title "overridden", conclusion from the new score), the PR's comment and the leaderboard
(the row marked), and keep the judge's verdict beside the override in the tree (who, when, why);
refusals (a reader, a bad argument, an unknown leaf, nothing graded) are one-line replies that change
nothing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from bot.cli import main
from bot.forge.api import ForgeAPI
from bot.forge.repo import LocalForge
from bot.github.pygithub import github_factory
from bot.intake.actions import NewCommand
from bot.jobs.command_job import run_command
from bot.jobs.queue import JobQueue
from bot.report import COMMENT_MARKER, load_context
from bot.report.overrides import OverrideError, parse_override
from bot.settings import Settings, load_settings, queue_path
from judge.graded import load_graded, summarize
from judge.papers import PaperRegistry
from tests.bot.conftest import payload
from tests.bot.fake_grader import EXPECTED
from tests.bot.test_bot_worker import REPO, deliver, work
from tests.standins.github_server import GitHubStandIn

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "examples" / "submissions" / "tiny-moons-good"
ORG_REPO = "org/bench-site"


def _registry(settings: Settings) -> PaperRegistry:
    return PaperRegistry(settings.papers.rubrics_dir, settings.papers.blacklists_dir)


def _leaf_node(result_dir: Path, leaf_id: str) -> dict[str, Any]:
    def find(node: dict[str, Any]) -> dict[str, Any] | None:
        if node["id"] == leaf_id and not node["sub_tasks"]:
            return node
        return next((f for c in node["sub_tasks"] if (f := find(c)) is not None), None)

    found = find(json.loads((result_dir / "grade.json").read_text()))
    assert found is not None
    return found


def _command(queue: JobQueue, repo: str, pr: int, comment_id: int, user: str) -> Any:
    [jid] = queue.apply([NewCommand(repo, pr, "override", comment_id, user)])
    return queue.get(jid)


def test_parse_override_reads_leaf_verdict_and_reason() -> None:
    req = parse_override("  `tm-11`  PASS  the MLP is in models.py,\nline 30  ")
    assert (req.leaf_id, req.verdict, req.reason) == ("tm-11", "pass", "the MLP is in models.py,")
    for bad, says in [
        ("", "usage"),
        ("tm-11", "usage"),
        ("tm-11 maybe because", "pass or fail"),
        ("tm-11 fail", "say why"),
        ("tm-11 fail " + "x" * 600, "at most 500"),
    ]:
        with pytest.raises(OverrideError, match=says) as info:
            parse_override(bad)
        assert "\n" not in str(info.value)


def test_override_through_the_github_stand_in(make_settings: Any, github: GitHubStandIn) -> None:
    judged = summarize(load_graded(EXPECTED)).score  # what the fake grader's judge gives
    # an organizer's line just above the judge's score: the check fails, and the override lifts it
    settings = make_settings(
        bot={"pass_threshold": judged + 1e-4},
        leaderboard={"publish": True, "repository": ORG_REPO, "branch": "gh-pages"},
    )
    github.contents.add_branch(ORG_REPO, "gh-pages")
    deliver(settings, "pull_request", payload("pull_request/opened"))
    queue = work(settings)
    [grade] = queue.jobs()
    result = Path(grade.result_dir or "")
    before = load_context(result)
    assert before.summary.score == pytest.approx(judged)
    [run] = github.check_runs.values()
    assert run["conclusion"] == "failure" and "overridden" not in run["output"]["title"]
    annotations = len(run["annotations"])
    leaf = before.failing[0]
    judge_explanation = leaf.node.explanation

    gh = github_factory(settings)(grade.installation_id, REPO)
    github.set_permission(REPO, "reader", "read")
    cid = github.add_comment(REPO, grade.pr, "/reprobot override x pass y", "reader")
    job = _command(queue, REPO, grade.pr, cid, "reader")
    refused = run_command(
        job, gh, queue, settings, _registry(settings), argument=f"{leaf.node.id} pass because"
    )
    assert refused.startswith("refused") and load_context(result).summary.score == before.summary.score

    github.set_permission(REPO, "Codertocat", "write")
    for bad in ("nope", f"{leaf.node.id} pass", "no-such-leaf pass the judge was wrong"):
        cid = github.add_comment(REPO, grade.pr, f"/reprobot override {bad}", "Codertocat")
        note = run_command(_command(queue, REPO, grade.pr, cid, "Codertocat"), gh, queue, settings,
                           _registry(settings), argument=bad)  # fmt: skip
        assert note.startswith("override refused")
    assert load_context(result).summary.score == before.summary.score
    assert not (result / "overrides.json").exists()

    cid = github.add_comment(REPO, grade.pr, "/reprobot override ...", "Codertocat")
    reason = "the judge missed it: see the implementation the PR adds"
    note = run_command(_command(queue, REPO, grade.pr, cid, "Codertocat"), gh, queue, settings,
                       _registry(settings), argument=f"{leaf.node.id} pass {reason}")  # fmt: skip
    assert "overridden to pass by Codertocat (the judge said fail)" in note

    after = load_context(result)
    assert after.summary.score > before.summary.score  # the score changed
    assert queue.get(grade.id).outcome.score == pytest.approx(after.summary.score)  # type: ignore[union-attr]
    summary = json.loads((result / "judge_summary.json").read_text())
    assert summary["score"] == pytest.approx(after.summary.score)
    # the check: new title (score first, "overridden"), new conclusion over the organizer's line
    [run] = github.check_runs.values()
    assert run["conclusion"] == "success" and run["history"][-1] == "completed"
    assert len(run["annotations"]) == annotations  # not sent twice (GitHub appends them)
    assert run["output"]["title"].startswith(f"{100 * after.summary.score:.1f}% · ")
    assert "overridden (1 leaf)" in run["output"]["title"]
    assert "Overridden by an organizer" in run["output"]["summary"]
    # the PR's one score comment, edited in place
    [score_comment] = [c for c in github.comments.values() if COMMENT_MARKER in c["body"]]
    assert score_comment["edits"] == 1 and "overridden (1 leaf)" in score_comment["body"].splitlines()[2]
    assert leaf.node.id in score_comment["body"] and reason in score_comment["body"]
    replies = [b for c in github.comments.values() if (b := c["body"]).startswith("<!-- reprobot:reply:")]
    replies = [b for b in replies if "✋ Overridden" in b]
    assert len(replies) == 1 and "the judge said fail" in replies[0]
    # the leaderboard: rescored, the row marked, in what is published and what is served
    data = json.loads(github.contents.file(ORG_REPO, "gh-pages", "leaderboard/leaderboard.json") or b"")
    [row] = data["papers"]
    assert row["best_overridden"] is True and row["best"] == pytest.approx(after.summary.score, abs=1e-6)
    assert "overridden" in (Path(settings.data_dir) / "results" / "leaderboard.html").read_text()
    # the judge's verdict kept in the tree, beside who, when and why
    node = _leaf_node(result, leaf.node.id)
    assert node["score"] == 1.0 and node["valid_score"] is True and node["explanation"] == judge_explanation
    kept = node["judge_metadata"]["override"]
    assert (kept["verdict"], kept["judge_score"], kept["judge_valid"]) == ("pass", 0.0, True)
    assert kept["by"] == "Codertocat" and kept["reason"] == reason and kept["at"].endswith("+00:00")
    assert "overridden-banner" in (result / "report.html").read_text()


def test_override_with_nothing_graded_says_so(settings: Settings, github: GitHubStandIn) -> None:
    queue = JobQueue(queue_path(settings), lease_s=settings.bot.lease_s)
    gh = github_factory(settings)(None, REPO)
    github.set_permission(REPO, "Codertocat", "write")
    cid = github.add_comment(REPO, 9, "/reprobot override a pass b", "Codertocat")
    note = run_command(_command(queue, REPO, 9, cid, "Codertocat"), gh, queue, settings, _registry(settings),
                       argument="a pass b")  # fmt: skip
    assert note == "override refused: nothing graded"
    assert any("nothing graded" in c["body"] for c in github.comments.values())


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


def test_override_through_the_forge_and_the_command_line(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(ROOT)  # the forge's hook runs `python -m bot.cli` from here
    config = {
        "data_dir": str(tmp_path / "data"),
        "bot": {"grader": "tests.bot.fake_grader:FakeGrader", "worker_concurrency": 1, "retry_backoff_s": 0,
                "report_base_url": f"file://{tmp_path / 'data' / 'results'}"},
        "leaderboard": {"publish": True, "branch": "leaderboard", "path": "board"},
    }  # fmt: skip
    cfg = tmp_path / "reprobot.yaml"
    cfg.write_text(yaml.safe_dump(config))
    runner = CliRunner()
    assert runner.invoke(main, ["--config", str(cfg), "forge", "init"]).exit_code == 0
    args = ["--config", str(cfg), "submit", str(GOOD), "--paper", "tiny-moons", "--name", "agent-7", "--work"]
    r = runner.invoke(main, args)
    assert r.exit_code == 0, r.output
    settings = load_settings(cfg, {})
    queue = JobQueue(queue_path(settings), lease_s=settings.bot.lease_s)
    [grade] = queue.jobs(kind="grade")
    assert grade.pr == 1 and f"{Path('pr1')}" in (grade.result_dir or "")  # the forge numbers its PRs
    result = Path(grade.result_dir or "")
    before = load_context(result)
    forge = LocalForge(tmp_path / "data" / "forge.git")
    branch = "submit/tiny-moons/agent-7"
    note_before = forge.note(grade.head_sha) or ""
    assert f"{100 * before.summary.score:.1f}%" in note_before.splitlines()[0]
    comments = tmp_path / "data" / "forge" / "comments" / "pr1"
    assert len(list(comments.glob("*.md"))) == 1  # the PR's comment sits under its number

    first, second = before.failing[0].node.id, before.failing[1].node.id
    api = ForgeAPI(forge, tmp_path / "data" / "forge", echo=lambda _line: None)
    job = _command(queue, settings.forge.repo_name, grade.pr, 1, "maintainer")
    note = run_command(
        job, api, queue, settings, _registry(settings), argument=f"{first} pass judged too strictly"
    )
    assert "overridden to pass by maintainer" in note
    middle = load_context(result)
    assert middle.summary.score > before.summary.score
    note_text = forge.note(grade.head_sha) or ""
    assert note_text.startswith(f"reprobot: {100 * middle.summary.score:.1f}% · ")
    assert "overridden (1 leaf)" in note_text and f"overridden: {first} -> pass by maintainer" in note_text
    assert "\\" not in note_text and "\u200b" not in note_text and "#" not in note_text  # plain text
    [comment_file] = [p for p in comments.glob("*.md") if COMMENT_MARKER in p.read_text()]
    assert "Overridden by an organizer" in comment_file.read_text()
    board = json.loads(_git("--git-dir", str(forge.path), "show", "leaderboard:board/leaderboard.json"))
    assert board["papers"][0]["latest_overridden"] is True
    assert board["papers"][0]["latest_report_url"].startswith("file://")  # linked in forge mode too

    r = runner.invoke(
        main, ["--config", str(cfg), "override", str(result), second, "pass", "also", "fine", "--by", "alice"]
    )
    assert r.exit_code == 0, r.output
    assert "posted again" in r.output and "overridden to pass by alice" in r.output
    last = load_context(result)
    assert last.summary.score > middle.summary.score
    assert "overridden (2 leaves)" in (forge.note(grade.head_sha) or "")
    log = json.loads((result / "overrides.json").read_text())
    assert [o["leaf_id"] for o in log["overrides"]] == [first, second]
    assert log["judge_score"] == pytest.approx(before.summary.score)
    assert _leaf_node(result, second)["judge_metadata"]["override"]["by"] == "alice"
    assert branch in _git("--git-dir", str(forge.path), "branch", "--list", branch)
