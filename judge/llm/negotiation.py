"""What an endpoint accepts, learned during a run and remembered for the rest of it.

One ``Negotiation`` per backend (per run), shared by the worker threads. It starts from the
configuration and steps down when the endpoint refuses: the response format (``json_schema`` ->
``json_object`` -> ``text``), the output-cap parameter (``max_completion_tokens`` <->
``max_tokens``, once), the context window (read from an overflow refusal, with the tokenizer
margin raised when the endpoint counts more tokens than o200k). A refusal nothing can work around
(a parameter the run needs) is remembered too: every later request is refused without being sent.
Each step is one line of ``learned``; ``record()`` is what judge_summary.json says of the endpoint.
Steps are compare-and-set: sixteen threads refused at once step down once.
"""

from __future__ import annotations

import threading

from judge.config import JudgeSettings, is_reasoning_model
from judge.context import ContextLimit, context_limit
from judge.endpoint import RESPONSE_FORMATS, Capabilities, EndpointRecord

CAP_PARAMS = ("max_completion_tokens", "max_tokens")


def default_cap_param(settings: JudgeSettings) -> str:
    """OpenAI's API takes ``max_completion_tokens`` (and refuses ``max_tokens`` for reasoning
    models); other servers read ``max_tokens`` (llama.cpp's ignores the newer name)."""
    if settings.output_cap_param != "auto":
        return settings.output_cap_param
    return "max_completion_tokens" if settings.openai_endpoint else "max_tokens"


class Negotiation:
    def __init__(self, settings: JudgeSettings, backend: str = "openai-compatible") -> None:
        self.settings = settings
        self.backend = backend
        self.host = settings.endpoint_host
        self._lock = threading.Lock()
        self.response_format = "json_schema" if settings.structured_output else "text"
        self.cap_param = default_cap_param(settings)
        self._cap_swapped = False
        self._windows: dict[str, ContextLimit] = {}
        self._learned_window: int | None = None
        self._margin = 0.0 if settings.openai_endpoint else settings.context_margin
        self._ratio: float | None = None  # the endpoint's tokens per o200k token, once it said
        self.refusal: str | None = None
        self._smaller_caps: dict[str, int] = {}  # request digest -> the cap to send it with again
        self.learned: list[str] = []
        self.requests = 0
        self.failed_requests = 0
        self.refused_unsent = 0

    # ----------------------------------------------------------------------------- the window
    def limit(self, model: str) -> ContextLimit:
        with self._lock:
            if self._learned_window is not None:
                return ContextLimit(self._learned_window, "learned", self._margin)
            limit = self._windows.get(model) or context_limit(self.settings, model)
            self._windows[model] = limit
            return ContextLimit(limit.tokens, limit.source, self._margin)

    def learn_window(self, window: int, why: str) -> None:
        with self._lock:
            if self._learned_window == window:
                return
            self._learned_window = window
            self.learned.append(f"context window {window:,} tokens, {why}")

    def learn_token_ratio(self, theirs: int, ours: int) -> None:
        """The endpoint counted ``theirs`` tokens for a prompt of ``ours`` o200k tokens: from now on
        the margin is what it measured (the largest ratio seen, plus 3%), not what was assumed."""
        if ours <= 0 or theirs <= 0:
            return
        with self._lock:
            ratio = max(theirs / ours, self._ratio or 0.0)
            margin = round(max(ratio - 1, 0.0) + 0.03, 2)
            self._ratio = ratio
            if abs(margin - self._margin) < 0.01:
                return
            self._margin = margin
            self.learned.append(f"the endpoint counts {ratio:.2f}x o200k tokens: context margin {margin:.0%}")

    # ----------------------------------------------------------------------------- formats
    def step_down_format(self, refused: str, why: str) -> bool:
        """``refused`` was refused: use the next format. False when there is none left."""
        with self._lock:
            if self.response_format != refused:
                return True  # another thread stepped down already
            i = RESPONSE_FORMATS.index(refused)
            if i + 1 >= len(RESPONSE_FORMATS):
                return False
            self.response_format = RESPONSE_FORMATS[i + 1]
            self.learned.append(f"{refused} refused ({why}): {self.response_format} from now on")
            return True

    # --------------------------------------------------------------------- output cap parameter
    def swap_cap_param(self, refused: str, why: str) -> bool:
        """``refused`` (a cap parameter) was refused: try the other one, once."""
        with self._lock:
            if self.cap_param != refused:
                return True
            if self._cap_swapped:
                return False
            self._cap_swapped = True
            self.cap_param = next(p for p in CAP_PARAMS if p != refused)
            self.learned.append(f"{refused} refused ({why}): {self.cap_param} from now on")
            return True

    # ------------------------------------------------------------------------------- timeouts
    def cap_for(self, digest: str, cap: int) -> int:
        """The cap to send this request with: halved for each time it timed out before."""
        with self._lock:
            return min(cap, self._smaller_caps.get(digest, cap))

    def timed_out(self, digest: str, cap: int) -> None:
        """A request timed out with this cap: send it again with half (never under the minimum)."""
        with self._lock:
            smaller = max(cap // 2, self.settings.min_output_tokens)
            if smaller >= cap:
                return
            if not self._smaller_caps:
                self.learned.append(
                    f"a request timed out with an output cap of {cap:,} tokens: a request that times out "
                    "is sent again with half its cap"
                )
            self._smaller_caps[digest] = smaller

    # ----------------------------------------------------------------------------- refusals
    def refuse_all(self, why: str) -> str:
        with self._lock:
            if self.refusal is None:
                self.refusal = why
                self.learned.append(f"every further request refused: {why}")
            return self.refusal

    # ----------------------------------------------------------------------------- counters
    def sent(self) -> None:
        with self._lock:
            self.requests += 1

    def failed(self) -> None:
        with self._lock:
            self.failed_requests += 1

    def unsent(self) -> None:
        with self._lock:
            self.refused_unsent += 1

    def record(self, model: str) -> EndpointRecord:
        limit = self.limit(model)
        s = self.settings
        with self._lock:
            caps = Capabilities(
                response_format=self.response_format,
                output_cap_param=self.cap_param,
                max_output_tokens=s.max_output_tokens,
                context_window_tokens=limit.tokens,
                context_source=limit.source,
                context_margin=limit.margin,
                reasoning_effort=s.reasoning_effort if is_reasoning_model(model) else None,
            )
            return EndpointRecord(
                self.backend,
                self.host,
                capabilities=caps,
                learned=tuple(self.learned),
                requests=self.requests,
                failed_requests=self.failed_requests,
                refused_unsent=self.refused_unsent,
            )
