"""The judge backend is chosen by name through one table (``openai|dummy|auto``), and every exception
a backend raises carries its FailureKind, through the scrubbing wrapper too."""

from __future__ import annotations

import pytest

from judge.config import JUDGE_BACKENDS, JudgeSettings
from judge.failures import FailureKind
from judge.llm import (
    ContextOverflow,
    DummyBackend,
    JudgeBackendFatal,
    JudgeConfigError,
    LLMRequest,
    LLMResponse,
    OpenAIBackend,
    PermanentLLMError,
    RequestRefused,
    StructuredOutputUnsupported,
    TransientLLMError,
    make_backend,
    scrubbed,
)
from judge.llm.backends import BACKEND_CHOICES, BACKENDS, backend_name


def test_one_table_names_every_backend() -> None:
    assert BACKEND_CHOICES == JUDGE_BACKENDS == ("auto", *BACKENDS)
    assert isinstance(make_backend(JudgeSettings(), None, "dummy"), DummyBackend)
    assert isinstance(make_backend(JudgeSettings(backend="dummy"), "sk-unused-key"), DummyBackend)
    assert isinstance(make_backend(JudgeSettings(), "sk-test-key", "openai"), OpenAIBackend)


def test_auto_is_the_model_when_one_is_configured_else_the_dummy() -> None:
    assert backend_name("auto", JudgeSettings(), None) == "dummy"
    assert backend_name("auto", JudgeSettings(), "sk-test-key") == "openai"
    assert backend_name("auto", JudgeSettings(base_url="http://127.0.0.1:9/v1"), None) == "openai"
    with pytest.raises(JudgeConfigError, match="unknown judge backend 'gpt'"):
        make_backend(JudgeSettings(), None, "gpt")


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (TransientLLMError("429"), FailureKind.TRANSIENT),
        (PermanentLLMError("400"), FailureKind.PERMANENT),
        (RequestRefused("max_tokens refused"), FailureKind.REFUSED),
        (ContextOverflow("over", 8192, 9000), FailureKind.REFUSED),
        (StructuredOutputUnsupported("json_schema refused"), FailureKind.REFUSED),
        (JudgeBackendFatal("401"), FailureKind.REFUSED),
        (JudgeConfigError("no key"), FailureKind.REFUSED),
    ],
)
def test_every_backend_exception_carries_its_kind(exc: Exception, kind: FailureKind) -> None:
    assert getattr(exc, "kind", None) is kind


class _Raising:
    model = "m"
    name = "raising"
    caveat = None
    secrets = ("sk-secret-value-123",)

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def complete(self, request: LLMRequest) -> LLMResponse:
        raise self.exc


@pytest.mark.parametrize(
    "exc",
    [
        TransientLLMError("server said sk-secret-value-123", 2.0),
        ContextOverflow("prompt with sk-secret-value-123", 8192, 9000),
        StructuredOutputUnsupported("sk-secret-value-123 json_schema"),
        JudgeBackendFatal("key sk-secret-value-123 refused"),
    ],
)
def test_scrubbing_keeps_the_class_the_kind_and_the_fields(exc: Exception) -> None:
    backend = scrubbed(_Raising(exc))
    with pytest.raises(type(exc)) as caught:
        backend.complete(LLMRequest((("user", "hi"),), ()))
    assert caught.value.kind is exc.kind  # type: ignore[attr-defined]
    assert "sk-secret-value-123" not in str(caught.value) and "[REDACTED]" in str(caught.value)
    if isinstance(exc, TransientLLMError):
        assert caught.value.retry_after == 2.0 and "sk-secret" not in caught.value.reason  # type: ignore[attr-defined]
    if isinstance(exc, ContextOverflow):
        assert caught.value.window == 8192  # type: ignore[attr-defined]
