"""Judge configuration (the ``judge:`` key of the reprobot YAML file).

Read once by the CLI/bot and passed down; nothing here touches the environment. The API key is a
secret and never lives here: it comes from ``Settings.secrets.judge_api_key`` (env only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PROMPT_VERSION = "reprobot-judge-v2"
PROTOCOLS = ("paperbench", "reprobot")
JUDGE_BACKENDS = ("auto", "openai", "dummy")  # judge.llm.backends.BACKENDS, and "auto"
REPROBOT_LEAVES_PER_CALL = 24  # the reprobot protocol's default grouping


class ModelPrice(BaseModel):
    """USD per one million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    cached_input: float = Field(ge=0)
    output: float = Field(ge=0)


DEFAULT_PRICES: dict[str, ModelPrice] = {
    "o3-mini": ModelPrice(input=1.10, cached_input=0.55, output=4.40),
    "o4-mini": ModelPrice(input=1.10, cached_input=0.275, output=4.40),
    "o3": ModelPrice(input=2.00, cached_input=0.50, output=8.00),
    "gpt-4o": ModelPrice(input=2.50, cached_input=1.25, output=10.00),
    "gpt-4o-mini": ModelPrice(input=0.15, cached_input=0.075, output=0.60),
    "gpt-4.1": ModelPrice(input=2.00, cached_input=0.50, output=8.00),
    "gpt-4.1-mini": ModelPrice(input=0.40, cached_input=0.10, output=1.60),
    "dummy": ModelPrice(input=0.0, cached_input=0.0, output=0.0),
}


class JudgeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # paperbench: SimpleJudge's structure (rank, grade, parse per leaf); reprobot: cached prefix, grouped
    protocol: Literal["paperbench", "reprobot"] = "paperbench"
    backend: Literal["auto", "openai", "dummy"] = "auto"  # auto: openai with a key or base_url, else dummy
    model: str = "o3-mini-2025-01-31"  # grades (and ranks files, unless rank_model is set): PaperBench's
    rank_model: str | None = None  # paperbench protocol's file-ranking call; None = model
    parse_model: str = "gpt-4o-2024-08-06"  # paperbench protocol's parsing call (structured output)
    base_url: str | None = None  # any OpenAI-compatible endpoint; None = the client's default
    reasoning_effort: str | None = "high"  # sent to reasoning models only (o1, o3, o4, gpt-5 families)
    allow_missing_paper: bool = False  # grade a paper without paper.md (every output then says so)
    concurrency: int = Field(default=16, ge=1, le=256)
    timeout_s: float = Field(default=600.0, gt=0)  # per call (PaperBench's SDK timeout)
    # Transient failures (429, 5xx, timeouts) are retried for retry_for_s per call (PaperBench: 2 h),
    # and at most max_retries times when that is set.
    retry_for_s: float = Field(default=7200.0, ge=0)
    max_retries: int | None = Field(default=None, ge=0)
    backoff_base_s: float = Field(default=1.0, ge=0)
    backoff_max_s: float = Field(default=60.0, ge=0)
    budget_usd: float | None = Field(default=None, ge=0)  # stop sending calls past this spend
    budget_tokens: int | None = Field(default=None, ge=0)  # ... or past this many input+output tokens
    leaves_per_call: int | None = Field(default=None, ge=1, le=64)  # reprobot protocol; None = 24
    structured_output: bool = True  # send response_format json_schema (falls back when refused)
    prices: dict[str, ModelPrice] = Field(default_factory=lambda: dict(DEFAULT_PRICES))
    cache_path: Path | None = None  # None: <data_dir>/judge-cache.sqlite (the CLI decides)
    prompt_version: str = PROMPT_VERSION
    # Budgets, in real tokens (o200k_base).
    context_window_tokens: int = Field(default=200_000, ge=8_000)  # paperbench protocol: the model's window
    buffer_tokens: int = Field(default=10_000, ge=0)  # paperbench protocol: kept free (SimpleJudge's)
    rank_tree_tokens: int = Field(default=8_000, ge=200)  # reprobot: the file tree in the cached prefix
    # the last N preceding criteria only; None: PaperBench's rule (pinn: 5, other papers: all)
    preceding_criteria_cap: int | None = Field(default=None, ge=1)
    shared_code_tokens: int = Field(default=24_000, ge=0)  # reprobot: code shown to every CD/CE leaf (cached)
    leaf_files_tokens: int = Field(default=6_000, ge=0)  # reprobot: extra files for the leaf (or group)
    outputs_tokens: int = Field(default=12_000, ge=0)  # reprobot: docs and touched tables for Result Analysis
    log_tokens: int = Field(default=60_000, ge=0)  # reprobot: the reduced reproduce.log (head and tail kept)
    paper_tokens: int = Field(default=80_000, ge=0)  # reprobot: paper.md (head and tail kept)
    expected_output_tokens_per_leaf: int = Field(default=600, ge=0)  # for --estimate (incl. reasoning)

    @property
    def ranking_model(self) -> str:
        return self.rank_model or self.model

    def price(self, model: str | None = None) -> ModelPrice | None:
        model = model or self.model
        if model in self.prices:
            return self.prices[model]
        # "o3-mini-2025-01-31" -> "o3-mini"
        best = max((k for k in self.prices if model.startswith(k)), key=len, default=None)
        return self.prices[best] if best else None


def is_reasoning_model(model: str) -> bool:
    m = model.lower().rsplit("/", 1)[-1]
    return m.startswith(("o1", "o3", "o4", "gpt-5"))
