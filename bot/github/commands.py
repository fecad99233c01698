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

import re

COMMANDS = ("regrade", "rerun", "status", "code-dev", "help")
WRITE_PERMISSIONS = frozenset({"admin", "maintain", "write"})
COMMAND_RE = re.compile(r"^\s*/reprobot(?:\s+(\S+))?", re.MULTILINE)

HELP_TEXT = """**reprobot commands** (for users with write access to this repository):

| command | what it does |
| --- | --- |
| `/reprobot regrade` | judge again on the existing reproduction |
| `/reprobot rerun` | reproduce and judge again |
| `/reprobot status` | show the state of this pull request's grading jobs |
| `/reprobot code-dev` | grade the Code-Dev variant (Code Development leaves only) |
| `/reprobot help` | this list |
"""


def parse_command(body: str) -> str | None:
    """The command of the first ``/reprobot`` line; unknown words map to ``help``."""
    m = COMMAND_RE.search(body)
    if m is None:
        return None
    word = (m.group(1) or "help").lower()
    return word if word in COMMANDS else "help"
