"""The LLM seam and its backends, one module per concern:

- ``seam``: the records (``LLMRequest``, ``LLMResponse``, ``Usage``) and the ``LLMBackend`` Protocol;
- ``errors``: what a backend raises, each exception with its ``FailureKind``;
- ``openai_compat``: Chat Completions through the official client, against any compatible endpoint;
- ``dummy``: the offline, deterministic dummy judge (its caveat says it is not a grade);
- ``scrub``: a backend wrapped so that nothing it returns carries a configured secret;
- ``backends``: the backends by name (one table) and ``make_backend``.
"""

from judge.llm.backends import make_backend
from judge.llm.dummy import DUMMY_PREFIX, DummyBackend
from judge.llm.errors import (
    ContextOverflow,
    JudgeBackendFatal,
    JudgeConfigError,
    PermanentLLMError,
    RequestRefused,
    StructuredOutputUnsupported,
    TransientLLMError,
)
from judge.llm.openai_compat import OpenAIBackend, usage_from
from judge.llm.scrub import ScrubbedBackend, scrubbed
from judge.llm.seam import (
    KIND_GRADE_TEXT,
    KIND_GRADES,
    KIND_PARSE,
    KIND_RANK,
    LLMBackend,
    LLMRequest,
    LLMResponse,
    Usage,
)

__all__ = [
    "DUMMY_PREFIX",
    "KIND_GRADES",
    "KIND_GRADE_TEXT",
    "KIND_PARSE",
    "KIND_RANK",
    "ContextOverflow",
    "DummyBackend",
    "JudgeBackendFatal",
    "JudgeConfigError",
    "LLMBackend",
    "LLMRequest",
    "LLMResponse",
    "OpenAIBackend",
    "PermanentLLMError",
    "RequestRefused",
    "ScrubbedBackend",
    "StructuredOutputUnsupported",
    "TransientLLMError",
    "Usage",
    "make_backend",
    "scrubbed",
    "usage_from",
]
