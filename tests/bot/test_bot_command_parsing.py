"""``/reprobot`` commands count only on their own plain line (not in fenced or indented code, not in
quotes), and parsing is linear and bounded (counted in executed lines, not seconds): a hostile
comment cannot stall the webhook."""

from __future__ import annotations

import json

import pytest

from bot.intake import commands as commands_module
from bot.intake.commands import MAX_SCAN_CHARS, parse_command
from bot.jobs.queue import JobQueue
from bot.server import create_app
from bot.settings import Settings, queue_path
from tests.bot.conftest import headers, payload
from tests.workcount import line_events


@pytest.mark.parametrize(
    "body,command",
    [
        ("/reprobot rerun", "rerun"),
        ("thanks!\r\n/reprobot regrade\r\n", "regrade"),
        ("   /reprobot status", "status"),
        ("```\n/reprobot rerun\n```", None),
        ("~~~~python\n/reprobot rerun\n~~~\n/reprobot status\n~~~~", None),
        ("```\n/reprobot rerun\n```\n/reprobot status", "status"),
        ("    /reprobot rerun", None),
        ("\t/reprobot rerun", None),
        ("> /reprobot rerun", None),
        (">/reprobot rerun\n/reprobot code-dev", "code-dev"),
        ("see `/reprobot rerun`", None),
        ("/reprobot", "help"),
    ],
)
def test_commands_only_on_their_own_plain_line(body: str, command: str | None) -> None:
    assert parse_command(body) == command


HOSTILE = [
    "\n" * 65_536,
    "/reprobot" + "\n" * 65_536,
    "```\n" * 16_384,
    " \n" * 32_768,
    "\t" * 65_536,
    "/reprobot" + " " * 65_536 + "x",
    "`" * 65_536,
]


@pytest.mark.parametrize(
    "body",
    HOSTILE,
    ids=["newlines", "command-then-newlines", "fences", "blank-lines", "tabs", "spaces", "backticks"],
)
def test_parsing_is_linear_and_bounded(body: str) -> None:
    """Counted, not timed: the work done on 26 MB is the work done on its first 65,536 characters,
    and doubling the input at most doubles the work (plus a constant)."""
    module = commands_module.__file__
    assert module is not None
    big = body * 400  # 26 MB: only the first MAX_SCAN_CHARS characters are read
    assert line_events(module, parse_command, big) == line_events(
        module, parse_command, big[:MAX_SCAN_CHARS]
    )
    half = line_events(module, parse_command, big[: MAX_SCAN_CHARS // 2])
    whole = line_events(module, parse_command, big[:MAX_SCAN_CHARS])
    assert whole <= 2 * half + 50, (half, whole)


def test_a_hostile_comment_is_acknowledged_without_work_growing_with_it(settings: Settings) -> None:
    """A 65,536-newline comment is acknowledged (202, committed); the parse behind it is bounded by
    the test above. Its latency under a burst is measured by ``bench/webhook_load.py --hostile``."""
    app = create_app(settings, JobQueue(queue_path(settings)))
    client = app.test_client()
    data = payload("issue_comment/created")
    data["issue"]["pull_request"] = {"url": "https://api.github.invalid/repos/Codertocat/Hello-World/pulls/1"}
    for body in ("\n" * 65_536, "\n" * 65_536 * 4):
        data["comment"]["body"] = body
        raw = json.dumps(data).encode()
        resp = client.post("/webhook", data=raw, headers=headers("issue_comment", raw))
        assert resp.status_code == 202
