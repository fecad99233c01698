"""``/reprobot`` commands count only where a Markdown renderer shows them as a plain line of their
own (not in fenced or indented code, not in quotes or their lazy continuations, not inside an HTML
comment or a ``<pre>`` block), the word ends at a word boundary, the parser returns a typed
``Command`` (word and argument text, carried to the command job), and parsing is linear and bounded
(counted in executed lines, not seconds): a hostile comment cannot stall the webhook."""

from __future__ import annotations

import json

import pytest

from bot.intake import commands as commands_module
from bot.intake.commands import MAX_ARGUMENT_CHARS, MAX_SCAN_CHARS, Command, parse_command
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
        # a lazy continuation: CommonMark keeps the unmarked line inside the quote
        (">/reprobot rerun\n/reprobot code-dev", None),
        (">/reprobot rerun\n\n/reprobot code-dev", "code-dev"),  # a blank line ends the quote
        ("> quoted\n```\n/reprobot rerun\n```\n/reprobot status", "status"),  # a fence ends it too
        ("see `/reprobot rerun`", None),
        ("/reprobot", "help"),
        # hidden once rendered: HTML comments, on one line or many
        ("<!--\n/reprobot rerun\n-->", None),
        ("<!-- /reprobot rerun -->", None),
        ("text <!-- start\n/reprobot rerun\nend --> more\n/reprobot status", "status"),
        ("<!-- a --> <!-- b\n/reprobot rerun\n-->", None),
        # raw HTML blocks: <pre> (any case), <script>, <textarea>
        ("<pre>\n/reprobot rerun\n</pre>\n/reprobot status", "status"),
        ("<PRE class=x>\n/reprobot rerun\n</PRE>", None),
        ("<textarea>\n/reprobot rerun\n</textarea>", None),
        ("<pre>one line</pre>\n/reprobot status", "status"),
        # the word must end at a word boundary
        ("/reprobotrerun", None),
        ("/reprobot-rerun", None),
        ("/reprobot\trerun", "rerun"),
    ],
)
def test_commands_only_on_their_own_plain_line(body: str, command: str | None) -> None:
    parsed = parse_command(body)
    assert (parsed.word if parsed else None) == command


def test_the_parser_returns_a_typed_command_with_its_argument() -> None:
    assert parse_command("/reprobot override  root.a.b   pass  the log shows it") == Command(
        "override", "root.a.b pass the log shows it"
    )
    assert parse_command("/reprobot rerun") == Command("rerun", "")
    assert parse_command("/reprobot frobnicate now") == Command("help", "")
    long = parse_command("/reprobot override x pass " + "y" * 5000)
    assert long is not None and len(long.argument) == MAX_ARGUMENT_CHARS


def test_the_override_command_reaches_its_job_with_the_argument_text(settings: Settings) -> None:
    """The ``NewCommand`` action carries the argument text: the command job gets ``override`` and
    ``LEAF pass REASON`` to parse (the report's handler)."""
    queue = JobQueue(queue_path(settings))
    client = create_app(settings, queue).test_client()
    data = payload("issue_comment/created")
    data["issue"]["pull_request"] = {"url": "https://api.github.invalid/repos/Codertocat/Hello-World/pulls/1"}
    data["comment"]["body"] = "Judge missed it.\n/reprobot override root/leaf-3 pass  see results.csv line 4"
    raw = json.dumps(data).encode()
    assert client.post("/webhook", data=raw, headers=headers("issue_comment", raw)).status_code == 202
    [job] = queue.jobs()
    assert (job.kind, job.info.command, job.info.argument) == (
        "command", "override", "root/leaf-3 pass see results.csv line 4"
    )


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
