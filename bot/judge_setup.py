"""The judge's settings and backend as the bot builds them (CLI and LocalGrader alike)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.settings import Settings
from judge.config import JudgeSettings
from judge.llm import LLMBackend, make_backend


def judge_settings_for(settings: Settings, **overrides: Any) -> JudgeSettings:
    """settings.judge with the given overrides (None = keep); the leaf cache defaults to
    <data_dir>/judge-cache.sqlite. The bot's LocalGrader uses this too."""
    js: JudgeSettings = settings.judge
    update = {k: v for k, v in overrides.items() if v is not None}
    if js.cache_path is None and "cache_path" not in update:
        update["cache_path"] = Path(settings.data_dir) / "judge-cache.sqlite"
    return js.model_copy(update=update) if update else js


def judge_secrets(settings: Settings) -> tuple[str, ...]:
    """Every secret of the deployment: scrubbed from whatever the judge writes."""
    s = settings.secrets
    values = (s.webhook_secret, s.judge_api_key, s.github_token, s.github_app_private_key)
    return tuple(v.get_secret_value() for v in values if v is not None)


def judge_backend_for(settings: Settings, js: JudgeSettings) -> LLMBackend:
    """The backend ``js.backend`` names (judge.llm.backends), with the key from the environment
    (GRADER_OPENAI_API_KEY, else OPENAI_API_KEY); a missing key raises JudgeConfigError."""
    secret = settings.secrets.judge_api_key
    return make_backend(js, secret.get_secret_value() if secret is not None else None)
