"""Posts are exactly once and only the bot's own comment is ever edited.

A create whose response is lost (GitHub did it, then answered 502) is not repeated blindly: the
worker looks for the check run by its ``external_id`` and for the comment by its marker first, so
one check run (never a second one stuck ``queued``) and one score comment exist. Only a comment
written by this App (``performed_via_github_app``) or the token's user, carrying the marker scoped
to the check name, is edited; a participant's copy of the marker is ignored. Real PyGithub against
the GitHub stand-in, which keeps comment authors as GitHub does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.github.pygithub import github_factory
from bot.jobs.comment import score_marker
from bot.report import COMMENT_MARKER
from bot.settings import Settings
from tests.bot.test_bot_actions_and_auth import _app_settings
from tests.bot.test_bot_worker import REPO, deliver, work
from tests.standins.github_server import GitHubStandIn


def test_a_lost_check_run_create_leaves_one_check_run(settings: Settings, github: GitHubStandIn) -> None:
    github.fail("checks/create", status=502, times=1, lost=True)
    deliver(settings, "pull_request", _opened())
    [job] = work(settings).jobs()
    assert job.state == "posted"
    [run] = github.check_runs.values()  # not two, one of them stuck queued
    assert run["status"] == "completed" and run["id"] == job.check_run_id


def test_a_lost_comment_create_leaves_one_comment(settings: Settings, github: GitHubStandIn) -> None:
    github.fail("issues/create-comment", status=502, times=1, lost=True)
    deliver(settings, "pull_request", _opened())
    work(settings)
    assert len(github.comments) == 1


def test_a_participants_copy_of_the_marker_is_never_edited(settings: Settings, github: GitHubStandIn) -> None:
    marker = score_marker(settings.bot.check_name)
    planted = github.add_comment(REPO, 2, f"{COMMENT_MARKER}\n{marker}\nI got 100%!", "mallory")
    deliver(settings, "pull_request", _opened())
    work(settings)
    assert github.comments[planted]["body"].endswith("I got 100%!") and github.comments[planted]["edits"] == 0
    ours = [c for c in github.comments.values() if c["id"] != planted]
    assert len(ours) == 1 and ours[0]["user"]["login"] == github.token_login


def test_another_check_names_comment_is_not_ours(
    make_settings: Any, github: GitHubStandIn, tmp_path: Path
) -> None:
    other = make_settings(bot={"check_name": "reprobot-staging"})
    other = other.model_copy(update={"data_dir": tmp_path / "staging"})  # another deployment
    deliver(other, "pull_request", _opened())
    work(other)
    settings = make_settings()  # same token user, another check name: a comment of its own
    deliver(settings, "pull_request", _opened(sha="b" * 40))
    work(settings)
    assert len(github.comments) == 2


def test_app_mode_recognises_its_comments_by_the_app(tmp_path: Path, github: GitHubStandIn) -> None:
    settings = _app_settings(tmp_path, github)
    client = github_factory(settings)(1, REPO)
    marker = score_marker("reprobot")
    github.add_comment(REPO, 2, f"{marker}\ncopied", "other-app[bot]", user_type="Bot")
    assert client.find_comment(REPO, 2, marker) is None
    cid = client.create_comment(REPO, 2, f"{marker}\nscore")
    assert client.find_comment(REPO, 2, marker) == cid


def _opened(sha: str | None = None) -> dict[str, Any]:
    from tests.bot.conftest import payload

    data = payload("pull_request/opened")
    if sha:
        data["pull_request"]["head"]["sha"] = sha
    return data


def test_a_create_whose_answer_times_out_leaves_one_check_run(
    make_settings: Any, github: GitHubStandIn
) -> None:
    settings = make_settings(github={"timeout_s": 1})
    github.fail("checks/create", status=201, times=1, lost=True, delay_s=3)  # done, answer too late
    deliver(settings, "pull_request", _opened())
    [job] = work(settings).jobs()
    assert job.state == "posted", job.message
    [run] = github.check_runs.values()
    assert run["status"] == "completed"
