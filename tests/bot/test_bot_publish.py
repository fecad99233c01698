"""After a graded job the worker publishes what people read, through the same GitHub seam and the
stand-in held to the REST description: the leaderboard (HTML, Markdown, CSV, JSON) committed to the
configured branch with the contents API (created, then updated with the file's SHA, unchanged files
left alone); a missing branch costs the leaderboard, never the job; the evidence each verdict cites
becomes check-run annotations on the cited files, failing leaves first, at most 50 per request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.github.api import GitHubError
from bot.github.pygithub import github_factory
from judge.graded import load_graded
from tests.bot.conftest import payload
from tests.bot.fake_grader import EXPECTED
from tests.bot.test_bot_worker import deliver, fake, work
from tests.standins.github_server import GitHubStandIn

ORG_REPO = "org/bench-site"


def test_leaderboard_published_after_each_graded_job(make_settings: Any, github: GitHubStandIn) -> None:
    settings = make_settings(leaderboard={"publish": True, "repository": ORG_REPO, "branch": "gh-pages"})
    github.contents.add_branch(ORG_REPO, "gh-pages")
    fake(settings, cost_usd=0.25)
    deliver(settings, "pull_request", payload("pull_request/opened"))
    [job] = work(settings).jobs()
    assert job.state == "posted"
    names = {"index.html", "README.md", "leaderboard.csv", "leaderboard.json"}
    published = {p for (repo, branch, p) in github.contents.files if (repo, branch) == (ORG_REPO, "gh-pages")}
    assert published == {f"leaderboard/{n}" for n in names}
    data = json.loads(github.contents.file(ORG_REPO, "gh-pages", "leaderboard/leaderboard.json") or b"")
    [row] = data["papers"]
    assert row["dummy_judge"] is True and row["runs"] == 1  # the fake grader is a dummy judge: marked
    assert "DUMMY" in (github.contents.file(ORG_REPO, "gh-pages", "leaderboard/index.html") or b"").decode()
    assert github.calls("repos/create-or-update-file-contents") == 4
    # the board the worker serves at /leaderboard is written beside the results
    assert (Path(settings.data_dir) / "results" / "leaderboard.html").is_file()

    newer = payload("pull_request/synchronize")
    newer["pull_request"]["head"]["sha"] = "b" * 40
    deliver(settings, "pull_request", newer)
    work(settings)
    data = json.loads(github.contents.file(ORG_REPO, "gh-pages", "leaderboard/leaderboard.json") or b"")
    assert data["papers"][0]["runs"] == 2 and data["papers"][0]["se"] is not None
    updates = [c for c in github.contents.commits if c["path"].endswith("leaderboard.json")]
    assert len(updates) == 2  # updated in place (the stand-in checks the SHA of the file replaced)


def test_missing_branch_costs_the_leaderboard_not_the_job(make_settings: Any, github: GitHubStandIn) -> None:
    settings = make_settings(leaderboard={"publish": True, "repository": ORG_REPO, "branch": "no-such"})
    deliver(settings, "pull_request", payload("pull_request/opened"))
    [job] = work(settings).jobs()
    assert job.state == "posted" and len(github.comments) == 1
    assert github.contents.files == {}
    client = github_factory(settings)(None, ORG_REPO)
    try:
        client.publish_files(ORG_REPO, "no-such", {"a.txt": b"x"}, "m")
        raise AssertionError("expected a GitHubError")
    except GitHubError as exc:
        assert "404" in str(exc)


def _tree_with_citations(tmp_path: Path) -> Path:
    raw = json.loads(EXPECTED.read_text())

    def rec(node: dict[str, Any], i: list[int]) -> None:
        if node.get("sub_tasks"):
            for c in node["sub_tasks"]:
                rec(c, i)
            return
        i[0] += 1
        meta = node.get("judge_metadata") if isinstance(node.get("judge_metadata"), dict) else {}
        node["judge_metadata"] = {
            **meta,
            "citations": [
                {"file": f"src/f{i[0]}.py", "lines": [i[0], i[0] + 2], "quote": "x = 1", "found": True}
            ],
        }

    rec(raw, [0])
    path = tmp_path / "cited.json"
    path.write_text(json.dumps(raw))
    return path


def test_cited_evidence_becomes_annotations_failing_first(
    make_settings: Any, github: GitHubStandIn, tmp_path: Path
) -> None:
    settings = make_settings()
    score_file = _tree_with_citations(tmp_path)
    fake(settings, score_file=str(score_file))
    deliver(settings, "pull_request", payload("pull_request/opened"))
    work(settings)
    [run] = github.check_runs.values()
    notes = run["annotations"]
    leaves = list(load_graded(score_file).leaves())
    assert len(notes) == min(150, len(leaves))
    assert all(a["path"].startswith("src/f") and a["start_line"] <= a["end_line"] for a in notes)
    levels = [a["annotation_level"] for a in notes]
    assert "failure" in levels and levels.index("failure") == 0  # failing leaves first
    first_notice = levels.index("notice") if "notice" in levels else len(levels)
    assert "failure" not in levels[first_notice:]
    assert github.calls("checks/update") >= 1 + len(notes) // 50


def test_full_report_link_always_there_with_public_url(make_settings: Any, github: GitHubStandIn) -> None:
    settings = make_settings(bot={"public_url": "https://bot.example.org"})
    deliver(settings, "pull_request", payload("pull_request/opened"))
    [job] = work(settings).jobs()
    [comment] = github.comments.values()
    rel = Path(job.result_dir or "").relative_to(Path(settings.data_dir) / "results").as_posix()
    url = f"https://bot.example.org/results/{rel}/report.html"
    assert f"[Full report]({url})" in comment["body"]
    assert "[Leaderboard](https://bot.example.org/leaderboard)" in comment["body"]
    assert "`/reprobot rerun`" in comment["body"]  # the commands a reader may use
    [run] = github.check_runs.values()
    assert run["details_url"] == url
    sub = json.loads((Path(job.result_dir or "") / "submission.json").read_text())
    assert sub["check_run_url"].endswith(f"/runs/{job.check_run_id}")
    assert sub["pass_threshold"] is None  # issue 22: no failure line unless an organizer sets one
