"""A local OpenAI-compatible Chat Completions server for tests and benchmarks.

It listens on 127.0.0.1 (a real socket: point the official ``openai`` client at ``base_url``),
validates every request body against the published OpenAPI subset in
``../shared/fixtures/openai/chat-completions-openapi-subset.json`` (OpenAPI 3.1: JSON Schema
2020-12, resolved with a ``referencing`` registry built from the document), and answers with
scripted verdicts and faults:

* ``Fault("rate_limit", retry_after=1)``: 429 with a Retry-After header
* ``Fault("server_error")``: 500; ``Fault("unavailable")``: 503; ``Fault("bad_request")``: 400
* ``Fault("hang", seconds=3)``: sleep past the client's timeout, then answer
* ``Fault("malformed")``: a reply whose content is not JSON
* ``Fault("score", score=7)``: a reply with an out-of-range score
* ``Fault("bad_body")``: HTTP 200 whose body is not JSON at all
* ``Fault("echo_key")``: 400 whose error message repeats the request's API key (a leaky proxy)
* ``Fault("echo_key_answer")``: an answer whose text repeats the API key

Faults are queued globally (``server.faults``, consumed in arrival order) or per leaf
(``server.leaf_faults[leaf_id]``, consumed by the first request that grades that leaf).
``structured_output=False`` plays an endpoint that rejects ``response_format`` with a 400, as
vLLM/Ollama builds without guided decoding do, and then answers in prose around the JSON.
The server emulates OpenAI's prompt cache in ``usage.prompt_tokens_details.cached_tokens``
(prefixes of 1,024+ tokens seen before, in 128-token steps), with real token counts (o200k_base).
It answers both judge protocols: reprobot's JSON verdicts (leaf ids from "one entry for each of:"),
and the paperbench protocol's three calls, told apart as an endpoint would have to, by content: a
ranking request (ends asking for paths) gets the first paths of the fenced tree it shows; a grading
request (carries "(criterion id: ...)" and the answer format) gets Expectations/Reality/Score text;
a request with the ``parsed_grade`` json_schema gets the grading answer's score as JSON.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from judge.protocols.tree import tree_paths as drawn_tree_paths
from judge.tokens import encode, estimate_tokens, flatten_messages, prefix_reuse_ids
from tests.shared import SHARED

SPEC_PATH = SHARED / "fixtures/openai/chat-completions-openapi-subset.json"
SPEC_URI = "urn:reprobot:openai-chat-completions-subset"
_IDS_RE = re.compile(r"one entry for each of: (.*)\.\s*$", re.DOTALL)
_CRITERION_RE = re.compile(r'\(criterion id: ("(?:[^"\\]|\\.)*")\)')
_SCORE_RE = re.compile(r"Score:\s*(\S+)")


def spec_validator(component: str) -> Draft202012Validator:
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    resource = Resource.from_contents(spec, default_specification=DRAFT202012)
    registry: Registry = Registry().with_resource(SPEC_URI, resource)
    return Draft202012Validator({"$ref": f"{SPEC_URI}#/components/schemas/{component}"}, registry=registry)


@dataclass
class Fault:
    # rate_limit | server_error | unavailable | bad_request | hang | malformed | score | bad_body
    # | echo_key | echo_key_answer
    kind: str
    retry_after: float = 1.0
    seconds: float = 3.0
    score: Any = 7


@dataclass
class Received:
    leaf_ids: list[str]
    structured: bool
    model: str
    chars: int
    answered: str  # ok | fault kind | rejected_format | invalid_request
    body: dict[str, Any] | None = None
    kind: str = "grades"  # grades | rank | grade_text | parse


def _shortened(value: Any) -> Any:
    """The body with very long strings cut to 4 KB for validation. The only length limit in the
    subset is maxLength 64 (names), so nothing is lost, and jsonschema stops spending its time on
    repr() of 400 KB prompts while it rules out the non-string branches of anyOf/oneOf."""
    if isinstance(value, str):
        return value[:4096]
    if isinstance(value, list):
        return [_shortened(v) for v in value]
    if isinstance(value, dict):
        return {k: _shortened(v) for k, v in value.items()}
    return value


def leaf_ids_of(messages: list[dict[str, Any]]) -> list[str]:
    for m in reversed(messages):
        content = m.get("content")
        if isinstance(content, str):
            match = _IDS_RE.search(content)
            if match:
                try:
                    return [str(x) for x in json.loads("[" + match.group(1) + "]")]
                except ValueError:
                    return []
            crit = _CRITERION_RE.search(content)
            if crit:
                return [str(json.loads(crit.group(1)))]
    return []


def kind_of(body: dict[str, Any]) -> str:
    """grades | rank | grade_text | parse, from what the request carries."""
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and (fmt.get("json_schema") or {}).get("name") == "parsed_grade":
        return "parse"
    messages = body.get("messages") or []
    last = messages[-1].get("content") if messages and isinstance(messages[-1], dict) else ""
    last = last if isinstance(last, str) else ""
    if "Answer with the paths" in last:
        return "rank"
    if "Score: 0 or 1" in last:
        return "grade_text"
    if messages and any("grader's answer" in str(m.get("content", "")) for m in messages[-1:]):
        return "parse"
    return "grades"


def tree_paths(text: str) -> list[str]:
    """The paths of the first fenced block in ``text`` (the file tree: drawn with ├── branches, as
    the paperbench protocol draws it, or one path a line)."""
    if "<<<UNTRUSTED" not in text:
        return []
    body = text.split("<<<UNTRUSTED", 1)[1].split("\n", 1)[-1].split("<<<END UNTRUSTED", 1)[0]
    if "── " in body:
        return drawn_tree_paths(body)
    out = []
    for line in body.splitlines():
        line = line.strip()
        if line and not line.startswith(("(", "[")) and not line.endswith("files below)"):
            out.append(line.split(" (", 1)[0])
    return out


@dataclass
class OpenAIStandIn:
    latency_s: float = 0.0
    structured_output: bool = True
    keep_bodies: bool = False
    verdict: Callable[[str], int] = lambda leaf_id: 1
    rank: Callable[[list[str]], list[str]] = lambda paths: paths[:10]
    # called with (kind, leaf ids, [(role, content)]) for every valid request: tests record facts
    observe: Callable[[str, list[str], list[tuple[str, str]]], None] | None = None
    faults: deque[Fault] = field(default_factory=deque)
    leaf_faults: dict[str, list[Fault]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    validation_errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: set[bytes] = set()
        self._request_validator = spec_validator("CreateChatCompletionRequest")
        self.response_validator = spec_validator("CreateChatCompletionResponse")
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------------------------- lifecycle
    def start(self) -> OpenAIStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def do_GET(self) -> None:  # noqa: N802
                if self.path != "/_standin/stats":
                    self.send_error(404)
                    return
                body = json.dumps(standin.stats()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                status, headers, body = standin.handle(self.path, self.headers.get("Authorization"), raw)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> OpenAIStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"calls": len(self.received), "validation_errors": list(self.validation_errors)}

    @property
    def calls(self) -> int:
        return len(self.received)

    # ---------------------------------------------------------------------------------- handling
    def _error(
        self, status: int, message: str, param: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}}
        return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode()

    def _next_fault(self, leaf_ids: list[str]) -> Fault | None:
        with self._lock:
            for leaf_id in leaf_ids:
                queue = self.leaf_faults.get(leaf_id)
                if queue:
                    return queue.pop(0)
            if self.faults:
                return self.faults.popleft()
        return None

    def handle(self, path: str, auth: str | None, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        if path.rstrip("/") != "/v1/chat/completions":
            return self._error(404, f"no route {path}")
        if not auth or not auth.startswith("Bearer "):
            return self._error(401, "missing API key")
        try:
            body = json.loads(raw)
        except ValueError:
            with self._lock:
                self.validation_errors.append("request body is not JSON")
            return self._error(400, "request body is not JSON")
        errors = sorted(self._request_validator.iter_errors(_shortened(body)), key=lambda e: list(e.path))
        messages = body.get("messages") if isinstance(body, dict) else None
        leaf_ids = leaf_ids_of(messages) if isinstance(messages, list) else []
        kind = kind_of(body) if isinstance(body, dict) and isinstance(messages, list) else "grades"
        if kind == "parse":
            leaf_ids = []
        structured = isinstance(body, dict) and "response_format" in body
        rec = Received(
            leaf_ids,
            structured,
            str(body.get("model")) if isinstance(body, dict) else "",
            len(raw),
            "ok",
            body if self.keep_bodies else None,
            kind,
        )
        with self._lock:
            self.received.append(rec)
        if errors:
            first = errors[0]
            msg = f"{'/'.join(str(p) for p in first.path) or '(body)'}: {first.message[:300]}"
            with self._lock:
                self.validation_errors.append(msg)
            rec.answered = "invalid_request"
            return self._error(400, f"request does not match the OpenAPI schema: {msg}")
        if structured and not self.structured_output:
            rec.answered = "rejected_format"
            return self._error(
                400,
                "Invalid parameter: 'response_format' of type 'json_schema'"
                " is not supported with this model.",
                "response_format",
            )
        if self.observe is not None:
            contents = [(str(m.get("role")), str(m.get("content") or "")) for m in body["messages"]]
            self.observe(kind, leaf_ids, contents)
        if self.latency_s:
            time.sleep(self.latency_s)
        fault = self._next_fault(leaf_ids)
        content: str | None = None
        if fault is not None:
            rec.answered = fault.kind
            if fault.kind == "rate_limit":
                return self._error(
                    429, "Rate limit reached, slow down", headers={"Retry-After": f"{fault.retry_after:g}"}
                )
            if fault.kind == "server_error":
                return self._error(500, "The server had an error while processing your request.")
            if fault.kind == "unavailable":
                return self._error(503, "The engine is currently overloaded, please try again later.")
            if fault.kind == "bad_request":
                return self._error(400, "Invalid request: the model could not process the input.")
            if fault.kind == "echo_key":
                return self._error(400, f"Unsupported request for credentials {auth}: model overloaded")
            if fault.kind == "echo_key_answer":
                content = json.dumps(
                    {
                        "grades": [
                            {
                                "leaf_id": i,
                                "explanation": f"the header was {auth}",
                                "score": 1,
                                "citations": [],
                            }
                            for i in leaf_ids
                        ]
                    }
                )
            if fault.kind == "bad_body":
                return 200, {"Content-Type": "application/json"}, b'{"id": "chatcmpl-x", "choices": [ oops'
            if fault.kind == "hang":
                time.sleep(fault.seconds)
            if fault.kind == "malformed":
                content = "I think it passes. {score: maybe"
            if fault.kind == "score":
                content = json.dumps(
                    {
                        "grades": [
                            {
                                "leaf_id": i,
                                "explanation": "out of range",
                                "score": fault.score,
                                "citations": [],
                            }
                            for i in leaf_ids
                        ]
                    }
                    if kind == "grades"
                    else {"valid_score": True, "score": fault.score, "explanation": "odd", "citations": []}
                )
        if content is None and kind != "grades":
            content = self.protocol_answer(kind, body, leaf_ids)
        if content is None:
            grades = [
                {
                    "leaf_id": i,
                    "explanation": f"stand-in verdict for {i}",
                    "citations": [{"file": "reproduce.log", "lines": None, "quote": "stand-in quote"}],
                    "score": self.verdict(i),
                }
                for i in leaf_ids
            ]
            content = json.dumps({"grades": grades})
            if not structured:
                content = f"Here is my assessment.\n```json\n{content}\n```\nThat is all."
        return 200, {"Content-Type": "application/json"}, json.dumps(self.completion(body, content)).encode()

    def protocol_answer(self, kind: str, body: dict[str, Any], leaf_ids: list[str]) -> str:
        """The paperbench protocol's answers: ranked paths, a graded text, its parse."""
        messages = [m.get("content") if isinstance(m.get("content"), str) else "" for m in body["messages"]]
        if kind == "rank":
            return "\n".join(self.rank(tree_paths(messages[-1])))
        if kind == "grade_text":
            leaf = leaf_ids[0] if leaf_ids else "?"
            return (
                f"Expectations: the criterion {leaf} is implemented and run.\n"
                f"Reality: stand-in verdict for {leaf}.\nScore: {self.verdict(leaf)}"
            )
        match = _SCORE_RE.search(messages[-1])
        score: Any = match.group(1) if match else None
        try:
            score = int(score)
        except (TypeError, ValueError):
            pass
        answer = {
            "valid_score": match is not None,
            "score": score if match else 0,
            "explanation": "stand-in parse of the grading answer",
            "citations": [],
        }
        content = json.dumps(answer)
        if "response_format" not in body:
            content = f"Parsed:\n```json\n{content}\n```"
        return content

    def completion(self, body: dict[str, Any], content: str) -> dict[str, Any]:
        msgs = [
            (str(m.get("role")), m.get("content") if isinstance(m.get("content"), str) else "")
            for m in body["messages"]
        ]
        ids = encode(flatten_messages(msgs))
        with self._lock:
            cached = prefix_reuse_ids(ids, self._seen)
        prompt = len(ids)
        out = estimate_tokens(content)
        return {
            "id": f"chatcmpl-standin-{len(self.received)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "stand-in"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": out + 50,
                "total_tokens": prompt + out + 50,
                "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 50, "audio_tokens": 0},
            },
        }


def main() -> None:
    """Serve in its own process (benchmarks): prints the base URL, serves until killed."""
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.0)
    args = ap.parse_args()
    server = OpenAIStandIn(latency_s=args.latency).start()
    print(server.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
