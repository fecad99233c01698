"""Judge configuration (the ``judge:`` key of the reprobot YAML file).

Read once by the CLI/bot and passed down; nothing here touches the environment. The API key is a
secret and never lives here: it comes from ``Settings.secrets.judge_api_key`` (env only).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from judge.endpoint import endpoint_host, is_openai_host

PROMPT_VERSION = "reprobot-judge-v2"
PROTOCOLS = ("paperbench", "reprobot")
JUDGE_BACKENDS = ("auto", "openai", "dummy")  # judge.llm.backends.BACKENDS, and "auto"
REPROBOT_LEAVES_PER_CALL = 24  # the reprobot protocol's default grouping
DEFAULT_MODEL = "o3-mini-2025-01-31"  # PaperBench's grading model (its dated snapshot)
# PaperBench's parsing model (with the default model on OpenAI only)
DEFAULT_PARSE_MODEL = "gpt-4o-2024-08-06"


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
    model: str = DEFAULT_MODEL  # grades (and ranks files and parses, unless rank_model / parse_model are set)
    rank_model: str | None = None  # paperbench protocol's file-ranking call; None = model
    parse_model: str | None = None  # paperbench protocol's parsing call; None: see parsing_model
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
    prices: dict[str, ModelPrice] = Field(default_factory=lambda: dict(DEFAULT_PRICES))  # off OpenAI: yours
    # The endpoint's bounds (judge.llm.negotiation: the backend steps down where the endpoint refuses).
    max_output_tokens: int | None = Field(default=None, ge=16)  # output cap per call; None: by model family
    output_cap_param: Literal["auto", "max_completion_tokens", "max_tokens"] = "auto"  # auto: by API
    context_margin: float = Field(default=0.10, ge=0, le=0.5)  # window share kept free off OpenAI
    min_output_tokens: int = Field(default=512, ge=1)  # a call leaving less room than this is refused
    cache_path: Path | None = None  # None: <data_dir>/judge-cache.sqlite (the CLI decides)
    prompt_version: str = PROMPT_VERSION
    # Budgets, in real tokens (o200k_base).
    context_window_tokens: int | None = Field(default=None, ge=1_024)  # None: the model's known window
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

    @property
    def parsing_model(self) -> str:
        """parse_model if set; PaperBench's gpt-4o with its default model on OpenAI; else the
        chosen model (a custom endpoint or another model: one model choice for every call)."""
        if self.parse_model:
            return self.parse_model
        if self.openai_endpoint and self.model == DEFAULT_MODEL:
            return DEFAULT_PARSE_MODEL
        return self.model

    @property
    def endpoint_host(self) -> str:
        """host[:port] of the endpoint (no secret): api.openai.com unless base_url says otherwise."""
        return endpoint_host(self.base_url)

    @property
    def openai_endpoint(self) -> bool:
        return is_openai_host(self.endpoint_host)

    def price(self, model: str | None = None) -> ModelPrice | None:
        """USD per million tokens of ``model`` as configured (never the name an endpoint echoes).
        Off OpenAI's endpoint only the prices the organizer gave count: a custom endpoint is
        unpriced (None) unless ``judge.prices`` is set."""
        model = model or self.model
        if model == "dummy":
            return DEFAULT_PRICES["dummy"]
        prices = self.prices if self.openai_endpoint or "prices" in self.model_fields_set else {}
        if model in prices:
            return prices[model]
        # "o3-mini-2025-01-31" -> "o3-mini"
        best = max((k for k in prices if model.startswith(k)), key=len, default=None)
        return prices[best] if best else None


def is_reasoning_model(model: str) -> bool:
    m = model.lower().rsplit("/", 1)[-1]
    return m.startswith(("o1", "o3", "o4", "gpt-5"))
