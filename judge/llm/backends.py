"""The judge backends by name: one table, the ``auto`` rule, and ``make_backend``.

``openai`` is any OpenAI-compatible endpoint (a key, or a ``base_url`` that needs none); ``dummy``
is the offline word-overlap judge whose caveat every output prints; ``auto`` is ``openai`` when a
key or a ``base_url`` is configured, else ``dummy``. Everything that chooses a judge (the CLI's
``--judge``, ``judge.backend`` in the configuration, the worker) names one of these.
"""

from __future__ import annotations

from collections.abc import Callable

from judge.config import JUDGE_BACKENDS, JudgeSettings
from judge.llm.dummy import DummyBackend
from judge.llm.errors import JudgeConfigError
from judge.llm.openai_compat import OpenAIBackend
from judge.llm.seam import LLMBackend

BackendFactory = Callable[[JudgeSettings, str | None], LLMBackend]

BACKENDS: dict[str, BackendFactory] = {
    "openai": OpenAIBackend.from_settings,
    "dummy": lambda settings, api_key: DummyBackend(),
}
AUTO = "auto"
BACKEND_CHOICES: tuple[str, ...] = (AUTO, *BACKENDS)
assert BACKEND_CHOICES == JUDGE_BACKENDS, "judge.config names the same backends as this table"


def backend_name(choice: str, settings: JudgeSettings, api_key: str | None) -> str:
    """The backend ``choice`` stands for: ``auto`` resolved, anything unknown refused."""
    if choice == AUTO:
        return "openai" if api_key or settings.base_url else "dummy"
    if choice not in BACKENDS:
        raise JudgeConfigError(f"unknown judge backend {choice!r} (one of {', '.join(BACKEND_CHOICES)})")
    return choice


def make_backend(settings: JudgeSettings, api_key: str | None, choice: str | None = None) -> LLMBackend:
    """The backend named by ``choice`` (default: ``settings.backend``), built from the settings."""
    return BACKENDS[backend_name(choice or settings.backend, settings, api_key)](settings, api_key)
