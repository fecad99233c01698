"""An endpoint's refusal is read from its body, whatever the status: the bodies llama.cpp's server
really sent (../shared/fixtures/llamacpp/), OpenAI's and vLLM's wording, llama.cpp's C++ server's
fields. And the defaults every endpoint starts from: one model choice, the host recorded without
secrets, known windows for OpenAI's models only, output caps by model family."""

from __future__ import annotations

from typing import Any

import pytest

from judge.config import JudgeSettings
from judge.context import context_limit, known_window, output_cap, planning_window
from judge.endpoint import endpoint_host
from judge.llm.refusals import about_the_content, context_overflow, first_line, named_parameter
from judge.protocols.registry import protocol_named
from tests.standins.llamacpp import recorded_error


class Refusal(Exception):
    """What the openai client raises: a message and the JSON body."""

    def __init__(self, body: dict[str, Any], message: str = "Error code: 400") -> None:
        super().__init__(message)
        self.body = body


PAPERBENCH = protocol_named("paperbench")


def test_llamacpp_refuses_json_schema_with_a_500_naming_the_parameter() -> None:
    exc = Refusal(recorded_error(500, "Input should be 'text' or 'json_object'"), "Error code: 500")
    assert named_parameter(exc, ["max_tokens", "response_format"]) == "response_format"
    assert first_line(exc) == "body.response_format.type: Input should be 'text' or 'json_object'"
    assert context_overflow(exc) is None and not about_the_content(exc)


def test_llamacpp_context_overflow_says_window_and_prompt() -> None:
    o = context_overflow(Refusal(recorded_error(400, "maximum context length")))
    assert o is not None and (o.window, o.prompt_tokens, o.completion_tokens) == (8192, 25056, None)


@pytest.mark.parametrize(
    ("error", "window", "prompt"),
    [
        (  # OpenAI
            {"message": "This model's maximum context length is 128000 tokens. However, your messages "
             "resulted in 130512 tokens. Please reduce the length of the messages.",
             "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"},
            128000, 130512,
        ),
        (  # vLLM
            {"message": "This model's maximum context length is 4096 tokens. However, you requested 5000 "
             "tokens (3976 in the messages, 1024 in the completion). Please reduce the length of the "
             "messages or completion.", "type": "BadRequestError", "param": None, "code": 400},
            4096, 3976,
        ),
        (  # llama.cpp's C++ server
            {"code": 400, "message": "the request exceeds the available context size, try increasing it",
             "type": "exceed_context_size_error", "n_prompt_tokens": 9000, "n_ctx": 8192},
            8192, 9000,
        ),
    ],
)  # fmt: skip
def test_other_servers_overflow_wordings(error: dict[str, Any], window: int, prompt: int) -> None:
    o = context_overflow(Refusal({"error": error}))
    assert o is not None and (o.window, o.prompt_tokens) == (window, prompt)


def test_a_named_parameter_the_param_field_first_then_the_text() -> None:
    said = "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens'"
    code = "unsupported_parameter"
    openai_style = Refusal({"error": {"message": said, "param": "max_tokens", "code": code}})
    assert named_parameter(openai_style, ["max_tokens"]) == "max_tokens"
    azure_style = Refusal({"error": {"message": "Unrecognized request argument supplied: reasoning_effort"}})
    assert named_parameter(azure_style, ["max_tokens", "reasoning_effort"]) == "reasoning_effort"
    generic = Refusal({"error": {"message": "Invalid request: the model could not process the input."}})
    assert named_parameter(generic, ["max_tokens", "response_format"]) is None
    content = Refusal({"error": {"message": "flagged", "code": "invalid_prompt"}})
    assert about_the_content(content) and not about_the_content(generic)


def test_the_host_is_recorded_without_user_password_path_or_query() -> None:
    assert endpoint_host(None) == "api.openai.com"
    assert endpoint_host("https://user:sk-secret@llm.example.org:8443/v1?key=sk-x") == "llm.example.org:8443"
    assert endpoint_host("http://127.0.0.1:8080/v1") == "127.0.0.1:8080"


def test_one_model_choice_rank_and_parse_follow_the_chosen_model() -> None:
    default = JudgeSettings()
    assert (default.ranking_model, default.parsing_model) == ("o3-mini-2025-01-31", "gpt-4o-2024-08-06")
    chosen = JudgeSettings(model="gpt-4.1")
    assert (chosen.ranking_model, chosen.parsing_model) == ("gpt-4.1", "gpt-4.1")
    custom = JudgeSettings(base_url="http://127.0.0.1:8080/v1")
    assert PAPERBENCH.models(custom) == ("o3-mini-2025-01-31",)  # a custom endpoint: one model
    pinned = JudgeSettings(
        base_url="http://127.0.0.1:8080/v1", model="smollm2", parse_model="p", rank_model="r"
    )
    assert PAPERBENCH.models(pinned) == ("smollm2", "r", "p")


def test_known_windows_for_openai_models_on_openai_only() -> None:
    assert known_window("o3-mini-2025-01-31") == 200_000 and known_window("gpt-4o-2024-08-06") == 128_000
    assert known_window("gpt-4.1-mini") == 1_047_576 and known_window("smollm2") is None
    assert context_limit(JudgeSettings(model="gpt-4o")).tokens == 128_000
    custom = context_limit(JudgeSettings(model="gpt-4o", base_url="http://127.0.0.1:9/v1"))
    assert (custom.tokens, custom.source, custom.margin) == (None, "unknown", 0.10)  # its name proves nothing
    assert planning_window(JudgeSettings(context_window_tokens=8192, base_url="http://h/v1")) == 7372


def test_output_caps_by_model_family_and_configured() -> None:
    assert output_cap(JudgeSettings(), "o3-mini") == 32_768  # reasoning counts against the cap
    assert output_cap(JudgeSettings(), "gpt-4o", leaves=1) == 1_024
    assert output_cap(JudgeSettings(), "gpt-4o", leaves=24) == 16_384
    assert output_cap(JudgeSettings(max_output_tokens=300), "o3-mini", leaves=24) == 300
