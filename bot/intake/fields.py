"""Every string and number a webhook payload carries is checked here before anything is stored:
valid Unicode (no lone surrogates, no NUL or control characters where a name belongs), a bounded
length, and the shape GitHub gives it (a repository name, a commit SHA, a git ref, a login, an id).

A value that fails is a ``PayloadError``: the webhook answers it 400 with one line naming the field,
never 500 and never a stored row holding it. Routing (``bot.intake.routing``) reads a payload only
through these functions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MAX_ID = 2**63  # ids fit SQLite's 64-bit integers
REPO_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
SHA_RE = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")  # SHA-1 or SHA-256 repositories
LOGIN_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,99})(?:\[bot\])?$")
NAME_RE = re.compile(r"^[a-z_]{1,64}$")  # an event or action name
DELIVERY_RE = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")
REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")
URL_RE = re.compile(r"^https?://[^\s\x00-\x1f\x7f]{1,2000}$")
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_REF = 255
MAX_TEXT = 1_000


class PayloadError(ValueError):
    """A field of a signed payload that is not what GitHub sends (answered 400, one line)."""


def _show(value: object) -> str:
    return ascii(value)[:60]


def valid_unicode(value: str, what: str) -> str:
    """``value`` when it encodes as UTF-8 (a lone surrogate such as ``"\\ud800"`` does not)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PayloadError(f"{what} is not valid Unicode (a lone surrogate)") from None
    return value


def text(value: object, what: str, max_chars: int = MAX_TEXT, *, control: bool = False) -> str:
    """A string of at most ``max_chars`` valid characters (control characters only with ``control``)."""
    if not isinstance(value, str):
        raise PayloadError(f"{what} is not a string")
    if len(value) > max_chars:
        raise PayloadError(f"{what} is longer than {max_chars} characters")
    valid_unicode(value, what)
    if not control and CONTROL_RE.search(value):
        raise PayloadError(f"{what} holds control characters")
    return value


def optional_text(value: object, what: str, max_chars: int = MAX_TEXT) -> str | None:
    return None if value is None else text(value, what, max_chars)


def _shaped(value: object, what: str, pattern: re.Pattern[str], shape: str) -> str:
    if not isinstance(value, str) or len(value) > 300 or not pattern.match(value):
        raise PayloadError(f"{what} {_show(value)} is not {shape}")
    return value


def repo_name(value: object, what: str = "repository.full_name") -> str:
    return _shaped(value, what, REPO_RE, "an owner/name")


def commit_sha(value: object, what: str = "head.sha") -> str:
    return _shaped(value, what, SHA_RE, "a commit SHA")


def login(value: object, what: str = "user.login") -> str:
    return _shaped(value, what, LOGIN_RE, "a GitHub login")


def name(value: object, what: str) -> str:
    return _shaped(value, what, NAME_RE, "an event or action name")


def delivery_id(value: object) -> str:
    return _shaped(value, "X-GitHub-Delivery", DELIVERY_RE, "a delivery id")


def git_ref(value: object, what: str) -> str:
    """A branch or tag name as git allows it (no spaces, control characters, ``..``, ``~^:?*[\\``)."""
    ref = text(value, what, MAX_REF)
    bad_ends = ref.startswith(("/", "-")) or ref.endswith((".", "/", ".lock"))
    if not ref or bad_ends or REF_FORBIDDEN.search(ref):
        raise PayloadError(f"{what} {_show(ref)} is not a git ref")
    return ref


def url(value: object, what: str) -> str | None:
    """An http(s) URL, or None when absent."""
    if value is None:
        return None
    return _shaped(value, what, URL_RE, "an http(s) URL")


def github_id(value: object, what: str = "id") -> int:
    """A number or id from a payload: an integer (or its decimal string) that fits in 64 bits."""
    if isinstance(value, bool):
        raise PayloadError(f"{what} {_show(value)} is not a number")
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        value = int(value)
    if not isinstance(value, int) or not 0 <= value < MAX_ID:
        raise PayloadError(f"{what} {_show(value)} is not a valid number or id")
    return value


def optional_id(value: object, what: str) -> int | None:
    return None if value is None else github_id(value, what)


def obj(value: object, what: str) -> Mapping[str, Any]:
    """A JSON object (an absent one reads as empty)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise PayloadError(f"{what} is not an object")
    return value
