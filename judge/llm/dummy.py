"""The dummy judge: offline and deterministic, for wiring tests and the no-key demo, NOT a grade."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence

from judge.endpoint import Capabilities, EndpointRecord
from judge.fences import FENCE_CLOSE, FENCE_OPEN
from judge.llm.seam import KIND_GRADE_TEXT, KIND_PARSE, KIND_RANK, LLMRequest, LLMResponse, Usage
from judge.protocols.tree import tree_paths
from judge.summary import DUMMY_CAVEAT
from judge.tokens import estimate_tokens

DUMMY_PREFIX = "[dummy judge]"


_WORD = re.compile(r"[a-z][a-z0-9_]{3,}")
_STOP = frozenset(
    "been have that this with from which their there were they when into only also such than then them "
    "these those each other more most some does done using used uses both least about above below under "
    "same paper section table figure results result reproduced reproduction implemented implementation "
    "correctly described computed code script submission criterion requirement".split()
)


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


class DummyBackend:
    """Offline and deterministic, for wiring tests and the no-key demo: NOT a real grade.

    It "grades" a criterion by word overlap: the share of the requirement's content words that
    appear in the submission evidence of the prompt (fenced files, file tree, log; never the paper).
    That keeps it honest enough for a demo (a submission without the code scores lower); its
    caveat says what it is, and every explanation it writes starts with "[dummy judge]".
    """

    name = "dummy"
    caveat: str | None = DUMMY_CAVEAT
    secrets: tuple[str, ...] = ()

    def __init__(self, pass_rate: float = 0.5, model: str = "dummy") -> None:
        self.pass_rate = pass_rate  # overlap share needed to pass
        self.model = model
        self._requests = 0
        self._lock = threading.Lock()

    def endpoint(self) -> EndpointRecord:
        with self._lock:
            return EndpointRecord(
                self.name, "none (offline)", "none", Capabilities("json_schema", None), (), self._requests
            )

    @staticmethod
    def _evidence(messages: Sequence[tuple[str, str]]) -> str:
        chunks = []
        for _, content in messages:
            for block in content.split(FENCE_OPEN)[1:]:  # only fenced submission text, never the paper
                chunks.append(block.split(FENCE_CLOSE, 1)[0])
        return "\n".join(chunks).lower()

    @staticmethod
    def _requirement(messages: Sequence[tuple[str, str]], leaf_id: str) -> str:
        marker = f"### Criterion {leaf_id}\n"
        for _, content in reversed(messages):
            start = content.find(marker)
            if start < 0:
                continue
            end = content.find("\n\n", start)
            for line in content[start : end if end > 0 else None].splitlines():
                if line.startswith("Requirement:"):
                    return line.removeprefix("Requirement:")
        return ""

    def grade(self, messages: Sequence[tuple[str, str]], leaf_id: str) -> tuple[int, str]:
        words = _content_words(self._requirement(messages, leaf_id))
        evidence = self._evidence(messages)
        found = sorted(w for w in words if w in evidence)
        share = len(found) / len(words) if words else 0.0
        score = 1 if share >= self.pass_rate else 0
        why = (
            f"{DUMMY_PREFIX} not a real grade: {len(found)}/{len(words)} of the requirement's words "
            f"appear in the submission evidence ({share:.0%}; passes at {self.pass_rate:.0%})."
        )
        return score, why

    def _answer(self, request: LLMRequest) -> str:
        if request.kind == KIND_RANK:  # the first paths of the tree shown
            return "\n".join(tree_paths(self._evidence(request.messages[-1:]))[:10])
        if request.kind == KIND_GRADE_TEXT:
            leaf_id = request.leaf_ids[0] if request.leaf_ids else ""
            score, why = self.grade(request.messages, leaf_id)
            return f"Expectations: the requirement.\nReality: {why}\nScore: {score}"
        if request.kind == KIND_PARSE:
            text = request.messages[-1][1]
            found = re.search(r"Score:\s*([01])", text)
            reality = re.search(r"Reality:\s*(.*)", text)
            return json.dumps(
                {
                    "valid_score": found is not None,
                    "score": int(found.group(1)) if found else 0,
                    "explanation": reality.group(1) if reality else f"{DUMMY_PREFIX} no score in the answer",
                    "citations": [],
                }
            )
        grades = []
        for leaf_id in request.leaf_ids:
            score, why = self.grade(request.messages, leaf_id)
            grades.append({"leaf_id": leaf_id, "explanation": why, "score": score, "citations": []})
        return json.dumps({"grades": grades})

    def complete(self, request: LLMRequest) -> LLMResponse:
        with self._lock:
            self._requests += 1
        text = self._answer(request)
        prompt_tokens = sum(estimate_tokens(c) for _, c in request.messages)
        usage = Usage(input=prompt_tokens, output=estimate_tokens(text))
        structured = request.schema is not None
        fmt = "json_schema" if structured else "text"
        return LLMResponse(text, usage, self.model, structured, {"dummy": True}, fmt)
