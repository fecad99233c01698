"""A local OpenAI-compatible Chat Completions server for tests and benchmarks.

It listens on 127.0.0.1 (a real socket: point the official ``openai`` client at ``base_url``),
validates every request body against the published OpenAPI subset in
``../shared/fixtures/openai/chat-completions-openapi-subset.json`` (OpenAPI 3.1: JSON Schema
2020-12, resolved with a ``referencing`` registry built from the document), and answers with
scripted verdicts and faults:

* ``Fault("rate_limit", retry_after=1)``: 429 with a Retry-After header
* ``Fault("server_error")``: 500; ``Fault("unavailable")``: 503; ``Fault("bad_request")``: 400;
  ``Fault("content_refused")``: 400 ``invalid_prompt``
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

Other servers' manners (``tests/standins/llamacpp.py`` sets them as llama.cpp's server was
recorded): ``require_key=False`` (no key needed); ``json_schema_status`` (a JSON-schema format
refused with that status and body, a JSON object accepted); ``context_window`` and ``token_ratio``
(the server counts ``ratio`` x o200k tokens; prompt plus cap over the window: 400 in the
OpenAI/llama.cpp wording); ``cap_params`` (the output-cap parameters it reads; an answer longer
than the cap is cut, ``finish_reason: length``); ``refuse_params`` (parameters refused, with status
and message); ``echo_model`` (the model name it answers with, whatever was asked);
``seconds_per_token`` (generation time, spent watching the connection: a client that goes away
stops the generation, recorded as ``abandoned``); ``junk`` (answers as SmolLM2's were recorded,
rambling until the cap, or until the context is full without one).
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
import select
import socket
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
from judge.tokens import encode, encoding, estimate_tokens, flatten_messages, prefix_reuse_ids
from tests.shared import SHARED

SPEC_PATH = SHARED / "fixtures/openai/chat-completions-openapi-subset.json"
SPEC_URI = "urn:reprobot:openai-chat-completions-subset"
_IDS_RE = re.compile(r"one entry for each of: (.*)\.\s*$", re.DOTALL)
_CRITERION_RE = re.compile(r'\(criterion id: ("(?:[^"\\]|\\.)*")\)')
_SCORE_RE = re.compile(r"Score:\s*(\S+)")


def _contents(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (str(m.get("role")), str(m.get("content")) if isinstance(m.get("content"), str) else "")
        for m in body.get("messages") or ()
        if isinstance(m, dict)
    ]


def _decode(ids: list[int]) -> str:
    return encoding().decode(ids)


def _closed(conn: socket.socket) -> bool:
    """The peer closed (or reset) the connection: readable with nothing to read."""
    try:
        readable, _, _ = select.select([conn], [], [], 0)
        if not readable:
            return False
        return conn.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


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
    answered: str  # ok | fault kind | rejected_format | invalid_request | context | refused_<param>
    body: dict[str, Any] | None = None
    kind: str = "grades"  # grades | rank | grade_text | parse
    auth: bool = True  # an Authorization header came
    cap: int | None = None  # the output cap the server read (one of its cap_params)
    cap_params: tuple[str, ...] = ()  # the cap parameters the request carried, read or not
    response_format: str | None = None  # the type asked for
    generated: int = 0  # tokens generated (or, when abandoned, generated before the client left)
    abandoned: bool = False  # the client went away during the generation


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
    if messages and any("grader's answer" in str(m.get("content", "")) for m in messages[-2:]):
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
    require_key: bool = True
    json_schema_status: int | None = None
    json_schema_body: dict[str, Any] | None = None  # the error body of that refusal (default: OpenAI-ish)
    context_window: int | None = None
    token_ratio: float = 1.0
    cap_params: tuple[str, ...] = ("max_completion_tokens", "max_tokens")
    refuse_params: dict[str, tuple[int, str]] = field(default_factory=dict)
    echo_model: str | None = None
    seconds_per_token: float = 0.0
    junk: dict[str, list[str]] | None = None  # kind -> recorded answers (cycled)
    usage_details: bool = True

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
                auth = self.headers.get("Authorization")
                status, headers, body = standin.handle(self.path, auth, raw, self.connection)
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
        self,
        status: int,
        message: str,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
        return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode()

    def _generate(self, rec: Received, tokens: int, conn: socket.socket | None) -> bool:
        """Spend ``seconds_per_token`` a token, watching the connection as vLLM's server does; False
        (and ``rec.abandoned``) when the client went away before the end."""
        if not self.seconds_per_token or tokens <= 0:
            rec.generated = tokens
            return True
        deadline = time.monotonic() + tokens * self.seconds_per_token
        start = time.monotonic()
        while time.monotonic() < deadline:
            if conn is not None and _closed(conn):
                rec.generated = int((time.monotonic() - start) / self.seconds_per_token)
                rec.abandoned = True
                return False
            time.sleep(min(0.02, max(deadline - time.monotonic(), 0)))
        rec.generated = tokens
        return True

    def _refusal(
        self, rec: Received, body: dict[str, Any], prompt: int
    ) -> tuple[int, dict[str, str], bytes] | None:
        """This server's own refusals: a parameter, a JSON-schema format, a prompt over its context."""
        for name, (status, message) in self.refuse_params.items():
            if name in body:
                rec.answered = f"refused_{name}"
                return self._error(status, message, name, code="unsupported_parameter")
        if rec.response_format == "json_schema" and self.json_schema_status is not None:
            rec.answered = "rejected_format"
            err = self.json_schema_body or {
                "error": {"message": "response_format json_schema is not supported"}
            }
            return self.json_schema_status, {"Content-Type": "application/json"}, json.dumps(err).encode()
        if self.context_window is not None and prompt + (rec.cap or 0) > self.context_window:
            rec.answered = "context"
            asked = prompt + (rec.cap or 0)
            message = (
                f"This model's maximum context length is {self.context_window} tokens. However, you "
                f"requested {asked} tokens ({prompt} in the messages, {rec.cap} in the completion). "
                "Please reduce the length of the messages or completion."
            )
            return self._error(400, message, "messages", code="context_length_exceeded")
        return None

    def _next_fault(self, leaf_ids: list[str]) -> Fault | None:
        with self._lock:
            for leaf_id in leaf_ids:
                queue = self.leaf_faults.get(leaf_id)
                if queue:
                    return queue.pop(0)
            if self.faults:
                return self.faults.popleft()
        return None

    def handle(
        self, path: str, auth: str | None, raw: bytes, conn: socket.socket | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        if path.rstrip("/") != "/v1/chat/completions":
            return self._error(404, f"no route {path}")
        if self.require_key and (not auth or not auth.startswith("Bearer ")):
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
            auth=auth is not None,
        )
        if isinstance(body, dict):
            rec.cap_params = tuple(p for p in ("max_completion_tokens", "max_tokens") if p in body)
            read = [body[p] for p in self.cap_params if isinstance(body.get(p), int)]
            rec.cap = read[0] if read else None
            fmt = body.get("response_format")
            rec.response_format = str(fmt.get("type")) if isinstance(fmt, dict) else None
        with self._lock:
            self.received.append(rec)
        if errors:
            first = errors[0]
            msg = f"{'/'.join(str(p) for p in first.path) or '(body)'}: {first.message[:300]}"
            with self._lock:
                self.validation_errors.append(msg)
            rec.answered = "invalid_request"
            return self._error(400, f"request does not match the OpenAPI schema: {msg}")
        ids = encode(flatten_messages(_contents(body)))
        prompt = int(len(ids) * self.token_ratio)
        refused = self._refusal(rec, body, prompt)
        if refused is not None:
            return refused
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
            if fault.kind == "content_refused":  # a content filter: about what the request held
                return self._error(400, "Invalid prompt: flagged by the usage policy.", code="invalid_prompt")
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
        if content is None and self.junk is not None:
            content = self.junk_answer(kind, prompt, rec)
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
        out_ids = encode(content)
        finish = "stop"
        if rec.cap is not None and len(out_ids) > rec.cap:  # the cap cuts the answer
            content, finish = _decode(out_ids[: rec.cap]), "length"
        if not self._generate(rec, min(len(out_ids), rec.cap or len(out_ids)), conn):
            return 499, {}, b""  # nobody is listening any more
        completion = self.completion(body, content, finish, ids)
        return 200, {"Content-Type": "application/json"}, json.dumps(completion).encode()

    def junk_answer(self, kind: str, prompt: int, rec: Received) -> str:
        """A recorded SmolLM2 answer of this kind, rambling on until the cap (or the full context)."""
        assert self.junk is not None
        texts = self.junk.get(kind) or self.junk.get("any") or ["(nothing)"]
        with self._lock:
            text = texts[len(self.received) % len(texts)]
        limit = rec.cap if rec.cap is not None else max((self.context_window or 4096) - prompt, 1)
        ids = encode(text)
        while len(ids) <= limit:  # it does not stop by itself
            ids += encode("\n" + text)
        return _decode(ids[: limit + 1])

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
        answer_text = next((m for m in reversed(messages) if "grader's answer" in m), messages[-1])
        match = _SCORE_RE.search(answer_text)
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

    def completion(
        self, body: dict[str, Any], content: str, finish: str = "stop", ids: list[int] | None = None
    ) -> dict[str, Any]:
        ids = ids if ids is not None else encode(flatten_messages(_contents(body)))
        with self._lock:
            cached = prefix_reuse_ids(ids, self._seen)
        prompt = int(len(ids) * self.token_ratio)
        out = estimate_tokens(content)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": out + 50,
            "total_tokens": prompt + out + 50,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 50, "audio_tokens": 0},
        }
        if not self.usage_details:  # llama.cpp: counts only
            usage = {"prompt_tokens": prompt, "completion_tokens": out, "total_tokens": prompt + out}
        return {
            "id": f"chatcmpl-standin-{len(self.received)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.echo_model or body.get("model", "stand-in"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "finish_reason": finish,
                    "logprobs": None,
                }
            ],
            "usage": usage,
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
