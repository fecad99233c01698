"""Invariant: the judge's structure is what judge/protocols/base.py says. The grader asks the
registry once for the configured protocol and then only talks to that object (a third protocol
registered in a test is planned and run without the grader knowing it); a leaf that cannot be
graded carries the typed kind set where its exception was caught (transient, refused, permanent,
parse; a backend may declare one); every leaf's judge_metadata has one shape, whatever way it ended;
the judge reports its progress as typed events whose tokens grow, and ``reprobot judge`` shows them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from judge.calls import CallRunner, ItemResult, LeafFailure
from judge.config import PROTOCOLS, JudgeSettings
from judge.endpoint import Capabilities, EndpointRecord
from judge.evidence import ExecutedSubmission
from judge.failures import FailureKind
from judge.grader import JudgeOptions, judge_executed
from judge.leaf_metadata import LeafMetadata
from judge.llm import DummyBackend, LLMRequest, LLMResponse, Usage
from judge.llm.errors import RequestRefused
from judge.papers import Paper
from judge.plan import Plan, PlannedCall, WorkItem
from judge.progress import JudgeProgress, JudgeStage
from judge.protocols import registry
from judge.protocols.common import leaf_refs
from judge.protocols.registry import UnknownProtocol, protocol_named
from judge.rubric import RubricNode
from tests.judge.conftest import backend_for, fast_settings
from tests.judge.fixtures import make_executed
from tests.standins.openai_server import Fault, OpenAIStandIn


def test_the_registry_names_every_protocol_the_settings_allow() -> None:
    assert tuple(registry.REGISTRY) == PROTOCOLS
    for name in PROTOCOLS:
        assert protocol_named(name).name == name
    with pytest.raises(UnknownProtocol, match="one of paperbench, reprobot"):
        protocol_named("simple")


@dataclass(frozen=True)
class Whole:
    """A third protocol: every leaf in one call, answered by the dummy backend's word overlap."""

    note: str


class OneCallProtocol:
    name = "paperbench"  # registered in its place for this test

    def __init__(self) -> None:
        self.planned = 0
        self.ran: list[tuple[str, ...]] = []

    def models(self, settings: JudgeSettings) -> tuple[str, ...]:
        return ("whole-model",)

    def leaves_per_call(self, settings: JudgeSettings) -> int:
        return 99

    def plan(
        self,
        sub: ExecutedSubmission,
        paper: Paper,
        rubric: RubricNode,
        settings: JudgeSettings,
        code_only: bool,
    ) -> Plan[Whole]:
        self.planned += 1
        refs = leaf_refs(rubric)
        item = WorkItem(0, "cd", refs, tuple(f"k-{r.leaf.id}" for r in refs), "ev", (), Whole("all"))
        return Plan((item,), (), refs, notes=("a third protocol",))

    def planned_calls(self, item: WorkItem[Whole], settings: JudgeSettings) -> list[PlannedCall]:
        return [("whole-model", (("user", item.payload.note),), 10)]

    def run(self, item: WorkItem[Whole], calls: CallRunner) -> ItemResult:
        self.ran.append(item.leaf_ids)
        result = ItemResult(item, {}, {}, Usage(), [], 0, False)
        try:
            calls.send(item, [("user", "grade all")], item.leaf_ids)
        except LeafFailure as exc:
            result.problems = {leaf: exc.problem for leaf in item.leaf_ids}
        return result


def test_the_grader_plans_and_runs_through_the_registered_protocol_only(
    executed: Path, paper: Paper, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    third = OneCallProtocol()
    monkeypatch.setitem(registry.REGISTRY, "paperbench", third)  # type: ignore[arg-type]
    out = judge_executed(executed, paper, tmp_path / "o", JudgeOptions(), DummyBackend())
    assert third.planned == 1 and third.ran == [("impl-loss", "impl-batch", "run-train", "res-kl")]
    assert out.summary.models == ("whole-model",) and out.summary.leaves_per_call == 99
    assert "a third protocol" in out.summary.caveats
    leaf = out.graded.find("impl-loss")
    assert leaf is not None and not leaf.valid_score  # it returned no verdict: a parse failure
    assert LeafMetadata.from_dict(leaf.judge_metadata).error_kind is FailureKind.PARSE


class OverTheWindow(Exception):
    """An exception of a backend's own that declares its kind (as a context-window check may)."""

    failure_kind = "refused"


class Declaring:
    """A backend whose errors declare a kind: a permanent error refused for a parameter, and its
    own exception for a prompt over the context window."""

    name, caveat, secrets, model = "declaring", None, (), "m"

    def endpoint(self) -> EndpointRecord:
        return EndpointRecord(self.name, "none (in process)", "none", Capabilities("text", None))

    def complete(self, request: LLMRequest) -> LLMResponse:
        if "impl-loss" in request.leaf_ids:
            raise OverTheWindow("the prompt is over the model's context window")
        raise RequestRefused("parameter reasoning_effort is not supported")  # a PermanentLLMError


@pytest.mark.parametrize(
    ("faults", "structured", "kind"),
    [
        ([Fault("server_error")] * 4, True, FailureKind.TRANSIENT),
        ([Fault("bad_request")], True, FailureKind.REFUSED),  # a 400 not about the content: configuration
        ([Fault("content_refused")], True, FailureKind.PERMANENT),  # refused for what it held
        ([Fault("malformed"), Fault("malformed")], True, FailureKind.PARSE),
        ([], False, None),  # structured output refused once: resent as text, graded
    ],
)
def test_failure_kinds_are_set_where_the_exception_is_caught(
    executed: Path,
    paper: Paper,
    tmp_path: Path,
    faults: list[Fault],
    structured: bool,
    kind: FailureKind | None,
) -> None:
    with OpenAIStandIn(structured_output=structured) as srv:
        srv.leaf_faults["impl-loss"] = list(faults)
        settings = fast_settings(srv, max_retries=3, concurrency=1)
        out = judge_executed(executed, paper, tmp_path / "o", JudgeOptions(settings), backend_for(settings))
    leaf = out.graded.find("impl-loss")
    assert leaf is not None and leaf.valid_score is (kind is None)
    assert LeafMetadata.from_dict(leaf.judge_metadata).error_kind is kind


def test_a_declared_kind_and_the_budget_are_typed_too(executed: Path, paper: Paper, tmp_path: Path) -> None:
    js = JudgeSettings(protocol="reprobot", leaves_per_call=1, model="m")
    out = judge_executed(executed, paper, tmp_path / "a", JudgeOptions(js), Declaring())
    kinds = {
        LeafMetadata.from_dict(x.judge_metadata).error_kind for x in out.graded.leaves() if not x.valid_score
    }
    assert kinds == {FailureKind.REFUSED}
    with OpenAIStandIn() as srv:
        settings = fast_settings(srv, budget_tokens=1, concurrency=1)
        out = judge_executed(executed, paper, tmp_path / "b", JudgeOptions(settings), backend_for(settings))
    over = [x for x in out.graded.leaves() if not x.valid_score]
    assert over and all(
        LeafMetadata.from_dict(x.judge_metadata).error_kind is FailureKind.REFUSED for x in over
    )


def test_every_leaf_metadata_has_one_shape(paper: Paper, tmp_path: Path) -> None:
    """Graded, failed, cached and no-call leaves: the same keys, and a record reads back unchanged."""
    ex = make_executed(tmp_path, changed=())  # nothing touched: Result Analysis gets 0 without a call
    cache = tmp_path / "c.sqlite"
    with OpenAIStandIn() as srv:
        srv.leaf_faults["impl-batch"] = [Fault("content_refused")]
        settings = fast_settings(srv)
        first = judge_executed(
            ex, paper, tmp_path / "a", JudgeOptions(settings, cache_path=cache), backend_for(settings)
        )
        again = judge_executed(
            ex, paper, tmp_path / "b", JudgeOptions(settings, cache_path=cache), backend_for(settings)
        )
    metas = [x.judge_metadata for out in (first, again) for x in out.graded.leaves()]
    assert all(m is not None for m in metas)
    assert len({tuple(sorted(m)) for m in metas if m is not None}) == 1
    by_way = {(m["cached"], m["no_call"], m["error_kind"]) for m in metas if m is not None}
    assert {
        (False, False, None),
        (True, False, None),
        (False, True, None),
        (False, False, "permanent"),
    } <= by_way
    for m in metas:
        record = LeafMetadata.from_dict(m)
        assert record.to_dict() == m and LeafMetadata.from_dict(record.to_dict()) == record


def test_progress_is_typed_and_its_tokens_grow(executed: Path, paper: Paper, tmp_path: Path) -> None:
    events: list[JudgeProgress] = []
    with OpenAIStandIn() as srv:
        priced = {"gpt-4o-mini": {"input": 0.15, "cached_input": 0.075, "output": 0.6}}  # a custom endpoint
        settings = fast_settings(srv, concurrency=1, prices=priced)  # is unpriced unless given prices
        judge_executed(
            executed, paper, tmp_path / "o", JudgeOptions(settings), backend_for(settings), events.append
        )
    assert events[0].stage is JudgeStage.PLANNED and events[0].items_to_send == 4
    graded = [e for e in events if e.stage is JudgeStage.GRADED]
    assert [e.done for e in graded] == [1, 2, 3, 4] and all(e.total == 4 for e in events)
    totals = [e.tokens_total for e in graded]
    assert totals == sorted(totals) and totals[0] > 0 and graded[-1].calls == 4
    assert "tokens in" in graded[-1].describe() and "$" in graded[-1].describe()


def test_reprobot_judge_shows_tokens_on_the_terminal(executed: Path, paper: Paper, tmp_path: Path) -> None:
    env = {"GRADER_OPENAI_API_KEY": "", "OPENAI_API_KEY": "", "REPROBOT_CONFIG": ""}
    args = ["judge", str(executed), "--paper", str(paper.folder), "--out", str(tmp_path / "o"), "--dummy"]
    args += ["--cache", str(tmp_path / "c.sqlite")]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    judging = [line for line in result.stderr.splitlines() if "judging" in line]
    assert judging and all("tokens in" in line for line in judging)
    assert any("4/4 leaves graded" in line for line in judging)
