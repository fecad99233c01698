"""A GitHub REST stand-in: a real HTTP server on 127.0.0.1 held to the published OpenAPI subset.

Every request is matched to an operation of ``../shared/fixtures/github/rest-openapi-subset.json``
(method + path template), its path and query parameters are checked against the parameter schemas,
and its JSON body against the operation's request body schema (OpenAPI 3.0 ``nullable`` turned into
JSON Schema). A request that does not conform is answered 422 and recorded in ``violations`` (tests
assert there are none). The server keeps the state it was sent (check runs, comments, reactions,
workflow dispatches, installation tokens) and fails on demand (502, 403 secondary rate limit).
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import referencing
from referencing.jsonschema import DRAFT4

from tests.shared import SHARED
from tests.standins.github_contents import ContentsState, merge_extra_paths
from tests.standins.github_contents import dispatch as contents_dispatch

SPEC_PATH = SHARED / "fixtures/github/rest-openapi-subset.json"
SPEC_URI = "urn:github-rest-openapi-subset"


def openapi30_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 schema objects -> JSON Schema (draft 4): ``nullable: true`` admits null."""
    if isinstance(node, list):
        return [openapi30_to_jsonschema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: openapi30_to_jsonschema(v) for k, v in node.items() if k not in ("nullable", "example", "examples")
    }
    if "examples" in node and not isinstance(node["examples"], list):
        out["examples"] = openapi30_to_jsonschema(node["examples"])  # components.examples stays addressable
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            return {"anyOf": [out, {"type": "null"}]}
    return out


@dataclass
class Operation:
    method: str
    template: str
    regex: re.Pattern[str]
    op_id: str
    pointer: str  # JSON pointer of the operation in the spec
    params: list[dict[str, Any]]
    body_required: bool
    has_body: bool


@dataclass
class Fault:
    operation: str | None  # operationId or None for any
    status: int
    times: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    lost: bool = False  # do the operation, then answer the error (GitHub did it; the answer was lost)
    delay_s: float = 0.0  # wait this long before answering (past the client's read timeout)


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


class GitHubStandIn:
    def __init__(self, spec_path: Path = SPEC_PATH) -> None:
        raw = json.loads(spec_path.read_text(encoding="utf-8"))
        merge_extra_paths(raw)  # contents API and pulls/create: not in the shared subset (see its x-note)
        self.spec = openapi30_to_jsonschema(raw)
        resource = referencing.Resource.from_contents(self.spec, default_specification=DRAFT4)
        self.registry: referencing.Registry[Any] = referencing.Registry().with_resource(SPEC_URI, resource)
        self.operations = self._operations(raw)
        self.lock = threading.RLock()
        self.ids = itertools.count(1000)
        self.check_runs: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, dict[str, Any]] = {}
        self.reactions: list[dict[str, Any]] = []
        self.dispatches: list[dict[str, Any]] = []
        self.pulls: dict[tuple[str, int], dict[str, Any]] = {}
        self.permissions: dict[tuple[str, str], str] = {}
        self.tokens: list[dict[str, Any]] = []
        self.contents = ContentsState()
        self.token_lifetime_s = 3600
        self.token_login = "reprobot-token-user"  # the user behind a plain (non-installation) token
        self.app_public_key: str | None = None
        self.app_id: int | None = None
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str, str, int]] = []  # method, path, operationId, status
        self.violations: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- spec ---------------------------------------------------------------------------------
    def _operations(self, raw: dict[str, Any]) -> list[Operation]:
        ops = []
        for template, item in raw["paths"].items():
            pattern = "^" + re.sub(r"\\\{([a-z_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
            pattern = pattern.replace("(?P<path>[^/]+)", "(?P<path>.+)")  # a file path spans segments
            for method, op in item.items():
                if method not in ("get", "post", "patch", "put", "delete"):
                    continue
                params = [self._deref(p) for p in [*item.get("parameters", []), *op.get("parameters", [])]]
                body = op.get("requestBody")
                ops.append(
                    Operation(
                        method.upper(),
                        template,
                        re.compile(pattern),
                        op["operationId"],
                        f"/paths/{_escape(template)}/{method}",
                        params,
                        bool(body and body.get("required")),
                        body is not None,
                    )
                )
        return ops

    def _deref(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = self.spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def _validate(self, instance: Any, schema: dict[str, Any], where: str) -> list[str]:
        validator = jsonschema.Draft4Validator(schema, registry=self.registry)
        return [
            f"{where}: {e.message[:300]} at {list(e.absolute_path)}" for e in validator.iter_errors(instance)
        ]

    def check(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[Operation | None, dict[str, str], list[str]]:
        for op in self.operations:
            m = op.regex.match(path)
            if op.method != method or m is None:
                continue
            problems: list[str] = []
            known_query = set()
            for p in op.params:
                name, where = p["name"], p["in"]
                schema = p.get("schema", {})
                if where == "query":
                    known_query.add(name)
                    if name not in query:
                        if p.get("required"):
                            problems.append(f"missing query parameter {name}")
                        continue
                    value: Any = query[name][0]
                elif where == "path":
                    value = (
                        m.group(name.replace("-", "_")) if name.replace("-", "_") in m.groupdict() else None
                    )
                    if value is None:
                        continue
                else:
                    continue
                if schema.get("type") in ("integer", ["integer", "null"]):
                    try:
                        value = int(value)
                    except ValueError:
                        problems.append(f"{where} parameter {name}={value!r} is not an integer")
                        continue
                problems += self._validate(value, schema, f"{where} parameter {name}")
            for name in query:
                if name not in known_query:
                    problems.append(f"unknown query parameter {name}")
            pointer = f"{SPEC_URI}#{op.pointer}/requestBody/content/application~1json/schema"
            if body is None and op.body_required:
                problems.append("missing JSON body")
            elif body is not None and op.has_body:
                problems += self._validate(body, {"$ref": pointer}, "body")
            elif body is not None:
                problems.append("unexpected body")
            return op, {k: v for k, v in m.groupdict().items()}, problems
        return None, {}, [f"no operation {method} {path} in the spec subset"]

    # -- control ------------------------------------------------------------------------------
    def fail(
        self,
        operation: str | None = None,
        status: int = 502,
        times: int = 1,
        *,
        secondary_rate_limit: bool = False,
        retry_after: int = 1,
        lost: bool = False,
        delay_s: float = 0.0,
    ) -> None:
        headers: dict[str, str] = {}
        body: dict[str, Any] = {"message": "Server Error"}
        if secondary_rate_limit:
            status = 403
            headers = {"Retry-After": str(retry_after)}
            body = {
                "message": "You have exceeded a secondary rate limit. "
                "Please wait a few minutes before you try again.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
            }
        with self.lock:
            self.faults.append(Fault(operation, status, times, headers, body, lost, delay_s))

    def add_pull(self, repo: str, pull: dict[str, Any]) -> None:
        with self.lock:
            self.pulls[(repo, int(pull["number"]))] = copy.deepcopy(pull)

    def set_permission(self, repo: str, user: str, permission: str) -> None:
        with self.lock:
            self.permissions[(repo, user)] = permission

    def calls(self, operation: str) -> int:
        return sum(1 for entry in self.log if entry[2] == operation and entry[3] < 400)

    def start(self) -> str:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                standin._serve(self)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self.base_url

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- HTTP ---------------------------------------------------------------------------------
    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        split = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                self._send(h, 400, {"message": "Problems parsing JSON"})
                return
        query = parse_qs(split.query)
        op, path_params, problems = self.check(h.command, split.path, query, body)
        auth = h.headers.get("Authorization", "")
        if not auth:
            problems.append("no Authorization header")
        if problems:
            with self.lock:
                self.violations.extend(f"{h.command} {split.path}: {p}" for p in problems)
                self.log.append((h.command, split.path, op.op_id if op else "?", 422))
            self._send(h, 422, {"message": "Validation Failed", "errors": problems})
            return
        assert op is not None
        with self.lock:
            fault = next((f for f in self.faults if f.times > 0 and f.operation in (None, op.op_id)), None)
            if fault is not None:
                fault.times -= 1
                if fault.lost:  # GitHub does it; only the answer goes wrong
                    try:
                        self._dispatch(op.op_id, path_params, query, body, auth)
                    except (KeyError, PermissionError):
                        pass
                self.log.append((h.command, split.path, op.op_id, fault.status))
            else:
                try:
                    status, payload = self._dispatch(op.op_id, path_params, query, body, auth)
                except KeyError as exc:
                    status, payload = 404, {"message": f"Not Found ({exc})"}
                except PermissionError as exc:
                    status, payload = 401, {"message": f"Bad credentials ({exc})"}
                self.log.append((h.command, split.path, op.op_id, status))
        if fault is not None:
            time.sleep(fault.delay_s)  # outside the lock: past the client's read timeout
            try:
                self._send(h, fault.status, fault.body, fault.headers)
            except OSError:
                pass  # the client gave up waiting
            return
        headers = {}
        if isinstance(payload, tuple):  # (items, link header)
            payload, link = payload
            if link:
                headers["Link"] = link
        self._send(h, status, payload, headers)

    def _send(
        self, h: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str] | None = None
    ) -> None:
        data = b"" if status == 204 else json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        h.send_header("X-RateLimit-Remaining", "4999")
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        if data:
            h.wfile.write(data)

    # -- state --------------------------------------------------------------------------------
    def _repo_url(self, p: dict[str, str]) -> str:
        return f"{self.base_url}/repos/{p['owner']}/{p['repo']}"

    def _now(self) -> str:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _page(self, items: list[Any], query: dict[str, list[str]], path: str) -> tuple[list[Any], str]:
        per_page = int(query.get("per_page", ["30"])[0])
        page = int(query.get("page", ["1"])[0])
        chunk = items[(page - 1) * per_page : page * per_page]
        link = ""
        if page * per_page < len(items):
            link = f'<{self.base_url}{path}?per_page={per_page}&page={page + 1}>; rel="next"'
        return chunk, link

    def _dispatch(self, op: str, p: dict[str, str], query: dict[str, list[str]], body: Any, auth: str) -> Any:
        repo = f"{p.get('owner')}/{p.get('repo')}"
        user, app = self._author(auth)
        if op == "apps/create-installation-access-token":
            self._check_jwt(auth)
            expires = datetime.now(UTC) + timedelta(seconds=self.token_lifetime_s)
            token = {
                "token": f"ghs_standin{next(self.ids)}",
                "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "permissions": {"checks": "write"},
                "repository_selection": "all",
            }
            self.tokens.append(token)
            return 201, token
        self._check_token(auth)
        if op == "apps/get-repo-installation":
            return 200, {"id": 1, "app_id": self.app_id or 1, "account": {"login": p["owner"]}}
        if op == "repos/get":
            return 200, {"id": 1, "name": p["repo"], "full_name": repo, "url": self._repo_url(p)}
        if op == "pulls/get":
            return 200, self.pulls[(repo, int(p["pull_number"]))]
        if op == "checks/create":
            cid = next(self.ids)
            run = {
                "id": cid,
                "name": body["name"],
                "head_sha": body["head_sha"],
                "status": body.get("status", "queued"),
                "conclusion": body.get("conclusion"),
                "external_id": body.get("external_id", ""),
                "details_url": body.get("details_url"),
                "output": dict(body.get("output") or {}),
                "annotations": list((body.get("output") or {}).get("annotations") or []),
                "url": f"{self._repo_url(p)}/check-runs/{cid}",
                "repo": repo,
                "history": [body.get("status")],
                "started_at": self._now(),
                "completed_at": None,
            }
            if run["conclusion"]:
                run["status"] = "completed"
            self.check_runs[cid] = run
            return 201, self._public_run(run)
        if op == "checks/update":
            run = self.check_runs[int(p["check_run_id"])]
            for key in ("status", "conclusion", "details_url", "name"):
                if key in body:
                    run[key] = body[key]
            if body.get("conclusion"):
                run["status"] = "completed"
            if "output" in body:
                out = dict(body["output"])
                run["annotations"] += out.pop("annotations", []) or []
                run["output"].update(out)
            run["history"].append(run["status"])
            return 200, self._public_run(run)
        if op == "checks/list-for-ref":
            runs = [
                self._public_run(r)
                for r in self.check_runs.values()
                if r["repo"] == repo
                and r["head_sha"] == p["ref"]
                and ("check_name" not in query or r["name"] == query["check_name"][0])
            ]
            return 200, {"total_count": len(runs), "check_runs": runs}
        if op == "issues/list-comments":
            items = [
                self._public_comment(c)
                for c in self.comments.values()
                if c["repo"] == repo and c["issue"] == int(p["issue_number"])
            ]
            return 200, self._page(items, query, f"/repos/{repo}/issues/{p['issue_number']}/comments")
        if op == "issues/create-comment":
            cid = next(self.ids)
            self.comments[cid] = {
                "id": cid,
                "repo": repo,
                "issue": int(p["issue_number"]),
                "body": body["body"],
                "user": user,
                "performed_via_github_app": app,
                "edits": 0,
                "created_at": self._now(),
            }
            return 201, self._public_comment(self.comments[cid])
        if op == "issues/update-comment":
            c = self.comments[int(p["comment_id"])]
            c["body"] = body["body"]
            c["edits"] += 1
            return 200, self._public_comment(c)
        if op == "reactions/create-for-issue-comment":
            reaction = {
                "id": next(self.ids),
                "content": body["content"],
                "comment_id": int(p["comment_id"]),
                "user": user,
                "created_at": self._now(),
            }
            existing = [
                r
                for r in self.reactions
                if r["comment_id"] == reaction["comment_id"] and r["content"] == reaction["content"]
            ]
            if existing:
                return 200, existing[0]
            self.reactions.append(reaction)
            return 201, reaction
        if op == "repos/get-collaborator-permission-level":
            perm = self.permissions.get((repo, p["username"]), "read")
            return 200, {"permission": perm, "role_name": perm, "user": {"login": p["username"], "id": 7}}
        if op == "actions/create-workflow-dispatch":
            self.dispatches.append({"repo": repo, "workflow": p["workflow_id"], **body})
            return 204, None
        if op == "rate-limit/get":
            core = {"limit": 5000, "remaining": 4999, "reset": int(time.time()) + 3600, "used": 1}
            return 200, {"resources": {"core": core}, "rate": core}
        extra = contents_dispatch(self, op, p, query, body)
        return extra if extra is not None else (404, {"message": f"stand-in does not implement {op}"})

    def _public_run(self, run: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in run.items() if k not in ("annotations", "repo", "history")}
        out["output"] = {**run["output"], "annotations_count": len(run["annotations"])}
        return out

    def _author(self, auth: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Who writes with this credential: an installation token writes as the App's bot user
        (and GitHub marks ``performed_via_github_app``); a plain token as its user."""
        token = auth.partition(" ")[2]
        if token.startswith("ghs_standin"):
            app_id = self.app_id or 1
            app = {"id": app_id, "slug": "reprobot", "name": "reprobot", "owner": None}
            return {"login": "reprobot[bot]", "id": 1, "type": "Bot"}, app
        return {"login": self.token_login, "id": 2, "type": "User"}, None

    def add_comment(self, repo: str, issue: int, body: str, login: str, user_type: str = "User") -> int:
        """A comment written by someone else (a participant, another bot) on the pull request."""
        with self.lock:
            cid = next(self.ids)
            self.comments[cid] = {
                "id": cid,
                "repo": repo,
                "issue": issue,
                "body": body,
                "user": {"login": login, "id": 50_000 + cid, "type": user_type},
                "performed_via_github_app": None,
                "edits": 0,
                "created_at": self._now(),
            }
            return cid

    def _public_comment(self, c: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": c["id"],
            "body": c["body"],
            "user": c["user"],
            "performed_via_github_app": c.get("performed_via_github_app"),
            "created_at": c["created_at"],
            "url": f"{self.base_url}/repos/{c['repo']}/issues/comments/{c['id']}",
            "html_url": f"https://github.invalid/{c['repo']}/pull/{c['issue']}#issuecomment-{c['id']}",
        }

    def _check_jwt(self, auth: str) -> None:
        import jwt

        if not auth.startswith("Bearer "):
            raise PermissionError("app endpoints need a JWT")
        claims = jwt.decode(
            auth[7:],
            self.app_public_key or "",
            algorithms=["RS256"],
            options={"verify_signature": self.app_public_key is not None, "verify_iat": False},
        )
        if self.app_id is not None and str(claims.get("iss")) != str(self.app_id):
            raise PermissionError("JWT iss is not the app id")

    def _check_token(self, auth: str) -> None:
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("token", "bearer") or not token:
            self.violations.append(f"bad Authorization scheme {scheme!r}")
        if token.startswith("ghs_standin"):
            issued = {t["token"]: t for t in self.tokens}
            t = issued.get(token)
            if t is None or datetime.strptime(t["expires_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=UTC
            ) < datetime.now(UTC):
                self.violations.append("expired or unknown installation token")

    def comments_on(self, repo: str, issue: int) -> Iterator[dict[str, Any]]:
        return (c for c in self.comments.values() if c["repo"] == repo and c["issue"] == issue)
