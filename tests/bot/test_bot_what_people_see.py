"""What a participant reads on GitHub means what it shows (issue 22), through PyGithub and the
stand-in: a graded submission's check is a ``success`` whatever its score (the score is the result,
first in the title), ``failure`` only below an organizer's ``bot.pass_threshold`` or when
PaperBench's blacklist monitor zeroed the score, ``neutral`` when it could not be graded; the
comment's heading starts with the score and keeps the earlier runs of the PR in a collapsed table,
each linking its report. On the local forge, PR numbers are 1, 2, 3 in the order branches were
first pushed, shared by every push of a branch and by its comments' folder."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bot.forge.repo import LocalForge
from bot.report import COMMENT_MARKER
from judge.graded import load_graded, summarize
from tests.bot.conftest import payload
from tests.bot.fake_grader import EXPECTED
from tests.bot.test_bot_worker import deliver, fake, work
from tests.standins.github_server import GitHubStandIn

TITLE = re.compile(r"^\d+\.\d% · \d+/\d+ leaves · all-in-one")


def test_graded_is_a_success_whatever_the_score(make_settings: Any, github: GitHubStandIn) -> None:
    settings = make_settings()  # no organizer's line (the default)
    deliver(settings, "pull_request", payload("pull_request/opened"))
    work(settings)
    [run] = github.check_runs.values()
    assert run["conclusion"] == "success"
    assert TITLE.match(run["output"]["title"]), run["output"]["title"]  # the score first
    assert "CAVEAT: dummy judge" in run["output"]["title"]  # the caveat after it, still there
    [comment] = github.comments.values()
    heading = comment["body"].splitlines()[2]
    assert re.match(r"^### \S+ \d+\.\d% · \d+/\d+ leaves · `all-in-one`", heading), heading


def test_failure_only_under_the_line_or_the_blacklist(make_settings: Any, github: GitHubStandIn) -> None:
    score = summarize(load_graded(EXPECTED)).score
    settings = make_settings(bot={"pass_threshold": round(score + 0.01, 4)})
    deliver(settings, "pull_request", payload("pull_request/opened"))
    queue = work(settings)
    [run] = github.check_runs.values()
    assert run["conclusion"] == "failure"  # an organizer's line above the score
    # PaperBench's monitor zeroed the score (blacklist policy fail): a failure with no line at all
    from bot.jobs.check_runs import graded_conclusion

    [job] = queue.jobs()
    folder = Path(job.result_dir or "")
    assert graded_conclusion(score, None, folder) == "success"
    (folder / "blacklist.json").write_text(
        json.dumps({"policy": "fail", "score_zero": True, "violations": []})
    )
    assert graded_conclusion(0.0, None, folder) == "failure"


def test_infrastructure_trouble_is_neutral(make_settings: Any, github: GitHubStandIn) -> None:
    settings = make_settings(bot={"max_attempts": 1})
    fake(settings, status="infra_error")
    deliver(settings, "pull_request", payload("pull_request/opened"))
    work(settings)
    [run] = github.check_runs.values()
    assert run["conclusion"] == "neutral"


def test_comment_keeps_earlier_runs_collapsed_with_links(make_settings: Any, github: GitHubStandIn) -> None:
    settings = make_settings(bot={"public_url": "https://bot.example.org"})
    first = payload("pull_request/opened")
    deliver(settings, "pull_request", first)
    work(settings)
    for sha in ("b" * 40, "c" * 40):
        newer = payload("pull_request/synchronize")
        newer["pull_request"]["head"]["sha"] = sha
        deliver(settings, "pull_request", newer)
        work(settings)
    [comment] = [c for c in github.comments.values() if COMMENT_MARKER in c["body"]]
    body = comment["body"]
    assert comment["edits"] == 2
    section = body[body.index("<details><summary>Earlier runs of this pull request (2)</summary>") :]
    section = section[: section.index("</details>")]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "%" in line]
    assert (
        len(rows) == 2
        and "`bbbbbbb`" in rows[0]
        and f"`{first['pull_request']['head']['sha'][:7]}`" in rows[1]
    )
    links = re.findall(r"\[report\]\((https://[^)]+)\)", section)
    assert links == [
        "https://bot.example.org/results/Codertocat__Hello-World/pr2/job2-g0/report.html",
        "https://bot.example.org/results/Codertocat__Hello-World/pr2/job1-g0/report.html",
    ]
    assert "`ccccccc`" not in section  # this run is the heading, not history


def test_forge_pr_numbers_follow_first_pushes(tmp_path: Path) -> None:
    forge = LocalForge(tmp_path / "forge.git")
    forge.init(["tiny-moons"])
    assert forge.pr_number("submit/tiny-moons/alice") == 1
    assert forge.pr_number("submit/tiny-moons/bob") == 2
    assert forge.pr_number("submit/tiny-moons/alice") == 1  # a later push of the same branch
    assert LocalForge(tmp_path / "forge.git").pr_number("submit/tiny-moons/carol") == 3  # kept in the forge
