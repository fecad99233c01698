"""The judge backends by name: one table, and ``make_backend`` that builds the one asked for."""

from __future__ import annotations

from judge.config import JudgeSettings
from judge.llm.dummy import DummyBackend
from judge.llm.openai_compat import OpenAIBackend
from judge.llm.seam import LLMBackend


def make_backend(settings: JudgeSettings, api_key: str | None, dummy: bool = False) -> LLMBackend:
    """The backend the CLI and the bot use: dummy when asked, else OpenAI-compatible (key required)."""
    if dummy:
        return DummyBackend()
    return OpenAIBackend.from_settings(settings, api_key)
