"""``/reprobot <command>`` in pull request comments.

regrade   judge again on the existing reproduction
rerun     reproduce and judge again
status    reply with the state of this PR's jobs
code-dev  grade the Code-Dev variant (Code Development leaves only)
help      reply with this list

Only users with write permission on the repository may run commands (GitHub's collaborator
permission: admin, maintain or write); others get a polite reply. Accepted commands are
acknowledged with a reaction on the comment.
"""

from __future__ import annotations

COMMANDS = ("regrade", "rerun", "status", "code-dev", "help")
WRITE_PERMISSIONS = frozenset({"admin", "maintain", "write"})
COMMAND = "/reprobot"
MAX_SCAN_CHARS = 65_536  # GitHub's limit for a comment body; anything past it is never read
FENCES = ("```", "~~~")

HELP_TEXT = """**reprobot commands** (for users with write access to this repository):

| command | what it does |
| --- | --- |
| `/reprobot regrade` | judge again on the existing reproduction |
| `/reprobot rerun` | reproduce and judge again |
| `/reprobot status` | show the state of this pull request's grading jobs |
| `/reprobot code-dev` | grade the Code-Dev variant (Code Development leaves only) |
| `/reprobot help` | this list |
"""


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


def parse_command(body: str) -> str | None:
    """The command of the first plain ``/reprobot`` line; unknown words map to ``help``.

    One pass over at most ``MAX_SCAN_CHARS`` characters (linear, bounded). A command counts only on a
    line of its own: not inside a fenced (``` or ~~~) or indented (4+ columns) code block, not in a
    ``>`` quote, not after other text on the line.
    """
    text = body[:MAX_SCAN_CHARS]
    if COMMAND not in text:
        return None
    fence: str | None = None
    for raw in text.split("\n"):
        line = raw.strip()
        if line[:1] not in ("`", "~", "/") or not line:
            continue  # cheap: most lines can neither open/close a fence nor hold a command
        indent = _indent(raw)
        if fence is not None:
            if indent < 4 and line.startswith(fence) and not line.strip(fence[0]):
                fence = None
            continue
        if indent >= 4:
            continue  # indented code
        opener = next((f for f in FENCES if line.startswith(f)), None)
        if opener is not None:
            run = len(line) - len(line.lstrip(opener[0]))
            fence = opener[0] * run
            continue
        if not line.startswith(COMMAND):
            continue
        rest = line[len(COMMAND) :]
        words = rest.split(maxsplit=1) if not rest or rest[0].isspace() else []
        word = (words[0] if words else "help").lower()
        return word if word in COMMANDS else "help"
    return None
