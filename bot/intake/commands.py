"""``/reprobot <command>`` in pull request comments.

regrade   judge again on the existing reproduction
rerun     reproduce and judge again
status    reply with the state of this PR's jobs
code-dev  grade the Code-Dev variant (Code Development leaves only)
override  ``/reprobot override LEAF pass|fail REASON``: a maintainer's verdict on one leaf (the
          argument text is carried to the command job, which parses it)
help      reply with this list

Only users with write permission on the repository may run commands (GitHub's collaborator
permission: admin, maintain or write); others get a polite reply. Accepted commands are
acknowledged with a reaction on the comment.

A command counts only where a Markdown renderer shows it as a plain line of its own: not inside
fenced or indented code, not in a ``>`` quote or a lazy continuation of one, not inside an HTML
comment (invisible once rendered) or a ``<pre>``/``<script>``/``<style>``/``<textarea>`` block, and
the word ``/reprobot`` must end at a word boundary (``/reprobotrerun`` is no command).
"""

from __future__ import annotations

from dataclasses import dataclass

OVERRIDE = "override"  # its argument text is carried to the command job (bot/jobs/override_job.py)
COMMANDS = ("regrade", "rerun", "status", "code-dev", OVERRIDE, "help")  # advertised (help, the comment)
WORDS = COMMANDS
WRITE_PERMISSIONS = frozenset({"admin", "maintain", "write"})
COMMAND = "/reprobot"
MAX_SCAN_CHARS = 65_536  # GitHub's limit for a comment body; anything past it is never read
MAX_ARGUMENT_CHARS = 1_000  # the text after the command word, on its line, kept at most
FENCES = ("```", "~~~")
COMMENT_OPEN, COMMENT_CLOSE = "<!--", "-->"
RAW_BLOCKS = ("pre", "script", "style", "textarea")  # HTML blocks whose text is never Markdown

HELP_TEXT = r"""**reprobot commands** (for users with write access to this repository):

| command | what it does |
| --- | --- |
| `/reprobot regrade` | judge again on the existing reproduction |
| `/reprobot rerun` | reproduce and judge again |
| `/reprobot status` | show the state of this pull request's grading jobs |
| `/reprobot code-dev` | grade the Code-Dev variant (Code Development leaves only) |
| `/reprobot override LEAF pass\|fail REASON` | your verdict on one leaf, the judge's kept beside it |
| `/reprobot help` | this list |
"""


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed command: its word (one of ``WORDS``; an unknown word is ``help``) and the rest
    of its line (``override``'s ``LEAF pass REASON``), stripped and bounded."""

    word: str
    argument: str = ""


def _indent(line: str) -> int:
    """Columns of leading blanks (a tab counts 4), the way Markdown measures indentation."""
    width = 0
    for ch in line:
        if ch == " ":
            width += 1
        elif ch == "\t":
            width += 4 - width % 4
        else:
            break
    return width


def _comment_left_open(line: str) -> bool:
    """Whether an HTML comment opened on ``line`` is still open at its end."""
    opened = line.rfind(COMMENT_OPEN)
    return opened >= 0 and line.find(COMMENT_CLOSE, opened + len(COMMENT_OPEN)) < 0


def _raw_block_opened(lower: str) -> str | None:
    """The closing tag of a ``<pre>``-like block opened (and not closed) on this line, if any."""
    for tag in RAW_BLOCKS:
        opened = lower.rfind(f"<{tag}")
        if opened < 0:
            continue
        after = lower[opened + len(tag) + 1 : opened + len(tag) + 2]
        closing = f"</{tag}>"
        if after in ("", ">", " ", "\t") and lower.find(closing, opened) < 0:
            return closing
    return None


def _command_of(line: str) -> Command | None:
    """``/reprobot WORD ARGUMENT`` on a stripped line; None when ``/reprobot`` runs into a word."""
    rest = line[len(COMMAND) :]
    if rest and not rest[0].isspace():
        return None  # /reprobotrerun, /reprobot-x: no word boundary, no command
    words = rest.split(maxsplit=1)
    if not words:
        return Command("help")
    word = words[0].lower()
    if word not in WORDS:
        return Command("help")
    argument = " ".join(words[1].split()) if len(words) > 1 else ""
    return Command(word, argument[:MAX_ARGUMENT_CHARS])


def parse_command(body: str) -> Command | None:
    """The command of the first plain ``/reprobot`` line, or None.

    One pass over at most ``MAX_SCAN_CHARS`` characters (linear, bounded): each line is looked at
    a constant number of times. Open constructs are tracked the way CommonMark does: a fenced code
    block until its closing fence, an HTML comment until ``-->``, a ``<pre>``-like block until its
    closing tag, a block quote until a blank line (its lazy continuation lines are quoted too).
    """
    text = body[:MAX_SCAN_CHARS]
    if COMMAND not in text:
        return None
    fence: str | None = None
    html_end: str | None = None  # "-->" or "</pre>" etc. while an HTML comment/raw block is open
    quoted = False
    for raw in text.split("\n"):
        line = raw.strip()
        if html_end is not None:
            at = line.lower().find(html_end)
            if at >= 0:
                html_end = None
                if _comment_left_open(line[at:]):
                    html_end = COMMENT_CLOSE
            continue
        indent = _indent(raw)
        if fence is not None:
            if indent < 4 and line.startswith(fence) and not line.strip(fence[0]):
                fence = None
            continue
        if not line:
            quoted = False  # a blank line ends a block quote
            continue
        if COMMENT_OPEN in line or "<" in line and _raw_block_opened(line.lower()):
            if _comment_left_open(line):
                html_end = COMMENT_CLOSE
            else:
                html_end = _raw_block_opened(line.lower())
            continue  # a line holding HTML is never a plain command line
        opener = next((f for f in FENCES if line.startswith(f)), None) if indent < 4 else None
        if opener is not None:
            run = len(line) - len(line.lstrip(opener[0]))
            fence, quoted = opener[0] * run, False  # a fence interrupts a quote's paragraph
            continue
        if line.startswith(">"):
            quoted = True
            continue
        if quoted or indent >= 4 or not line.startswith(COMMAND):
            continue  # a lazy continuation of a quote, indented code, or not a command line
        command = _command_of(line)
        if command is not None:
            return command
    return None
