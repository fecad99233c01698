"""The judge protocols by name: the one place a protocol is chosen (``judge.protocol``).

``protocol_named`` is asked once per grade by the grader; everything after goes through the
``JudgeProtocol`` it returns. The names are ``judge.config.PROTOCOLS`` (the command line's choices).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from judge.errors import JudgeError
from judge.protocols.base import JudgeProtocol
from judge.protocols.paperbench import PaperBenchProtocol
from judge.protocols.reprobot import ReprobotProtocol

REGISTRY: Mapping[str, JudgeProtocol[Any]] = {
    PaperBenchProtocol.name: PaperBenchProtocol(),
    ReprobotProtocol.name: ReprobotProtocol(),
}


class UnknownProtocol(JudgeError):
    """No protocol of that name."""


def protocol_named(name: str) -> JudgeProtocol[Any]:
    try:
        return REGISTRY[name]
    except KeyError:
        raise UnknownProtocol(f"unknown judge protocol {name!r} (one of {', '.join(REGISTRY)})") from None
