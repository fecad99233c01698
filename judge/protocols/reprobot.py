"""The reprobot protocol: PaperBench's information in a byte-identical cached prefix, leaves grouped.

Every call of a submission starts with the same bytes (system instructions; the paper; the joined
addendum; the bounded file tree; reproduce.sh), then the evidence of the leaf's family: shared code
(CD, CE), the reduced log (CE, RA), the docs and run-touched tables (RA, PaperBench's whitelist),
all chosen without a ranking call (lexical relevance to the rubric). Only then the group's own part:
a few more files, the preceding criteria, the criteria. Groups are the leaves of one
category in tree order (``judge.leaves_per_call``, 24 by default). Result Analysis leaves of a run that
touched no whitelisted file get 0 without a call, as in PaperBench.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from judge.cache import leaf_key
from judge.calls import CallRunner, ItemResult, LeafAnswer, LeafFailure, Problem
from judge.config import REPROBOT_LEAVES_PER_CALL, JudgeSettings
from judge.evidence import ExecutedSubmission
from judge.failures import FailureKind
from judge.llm import Usage
from judge.logreduce import ReducedLog, fit_tokens, reduce_log
from judge.papers import Paper
from judge.plan import Plan, PlannedCall, WorkItem
from judge.prompts import (
    FAMILY_OF,
    RESPONSE_SCHEMA,
    RETRY_MESSAGE,
    SYSTEM_PROMPT,
    Message,
    evidence_hash,
    files_block,
    leaf_message,
    log_block,
    paper_block,
    parse_verdicts,
)
from judge.protocols.common import (
    LeafRef,
    bounded_tree,
    category_files,
    category_paths,
    joined_addendum,
    leaf_refs,
    ra_outputs_exist,
)
from judge.relevance import FileRanker, head_tail, take_within, terms
from judge.rubric import CODE_DEVELOPMENT, RESULT_ANALYSIS, RubricNode

PROTOCOL = "reprobot"


@dataclass(frozen=True)
class GroupCall:
    """One call grading a group of leaves: the shared prefix, then the group's own message."""

    prefix: tuple[Message, ...]
    leaf_files: tuple[tuple[str, str], ...]  # (path, text shown)
    leaves: tuple[LeafRef, ...]

    def messages(self, leaves: Sequence[LeafRef] | None = None) -> tuple[Message, ...]:
        shown = self.leaves if leaves is None else tuple(leaves)
        return (*self.prefix, ("user", leaf_message(shown, self.leaf_files)))


def _query(refs: Sequence[LeafRef]) -> Counter[str]:
    q: Counter[str] = Counter()
    for ref in refs:
        q.update(terms(ref.leaf.requirements))
        q.update(terms(ref.leaf.requirements))  # the leaf counts twice as much as its parent
        if ref.ancestors:
            q.update(terms(ref.ancestors[-1].requirements))
    return q


def group_leaves(leaves: Sequence[LeafRef], per_call: int) -> list[list[LeafRef]]:
    """The leaves of each category in rubric order, cut into groups of at most ``per_call``
    (rubrics interleave categories, so grouping only neighbours would leave most groups of one)."""
    by_category: dict[str, list[LeafRef]] = {}
    for ref in leaves:
        by_category.setdefault(ref.leaf.task_category or "", []).append(ref)
    groups: list[list[LeafRef]] = []
    for refs in by_category.values():
        groups += [list(refs[i : i + per_call]) for i in range(0, len(refs), per_call)]
    return groups


def run_note(sub: ExecutedSubmission) -> str:
    m = sub.metadata
    parts = [
        f"exit code {m.exit_code}" if m.exit_code is not None else "no exit code",
        f"ran {m.duration_s:.0f} s",
    ]
    if m.timed_out:
        parts.append("stopped at the time limit")
    if m.oom_killed:
        parts.append("killed for using too much memory")
    if m.log_truncated:
        parts.append("log cut by the runner (head and tail kept)")
    return (
        "Run facts recorded by reprobot (trusted): " + ", ".join(parts) + ". A long run of lines of "
        "one form is shown as its first and last line with the count between them; shorter runs "
        "(tables) are kept whole."
    )


LOG_HEAD_BYTES = 8 * 1024 * 1024  # the runner keeps 8 MiB of head and 8 MiB of tail by default
LOG_TAIL_BYTES = 8 * 1024 * 1024


def reduced_log(sub: ExecutedSubmission, budget_tokens: int) -> tuple[str, tuple[str, ...]]:
    """The log the runner kept, its head and its tail, each reduced (``reprobot`` style), within the
    budget (head and tail kept); and what to say if a reduction fell back."""
    head, tail = sub.log_ends(LOG_HEAD_BYTES, LOG_TAIL_BYTES)
    parts: list[ReducedLog] = [reduce_log(head, "reprobot")]
    if tail:
        parts.append(reduce_log(tail.split("\n", 1)[-1], "reprobot"))  # from the first whole line
    text = parts[0].text
    if len(parts) > 1:
        text += "\n[... the middle of the log was not read ...]\n" + parts[1].text
    notes = tuple(f"reproduce.log not reduced: {r.fallback}" for r in parts if r.fallback)
    return fit_tokens(text, budget_tokens), notes


def build_reprobot_plan(
    sub: ExecutedSubmission, paper: Paper, rubric: RubricNode, settings: JudgeSettings
) -> Plan[GroupCall]:
    leaves = leaf_refs(rubric, settings.preceding_criteria_cap)
    code_files = [
        f for f in category_files(sub, CODE_DEVELOPMENT) if f.path != "reproduce.sh"
    ]  # in the prefix
    ranker = FileRanker(code_files)
    paper_md = head_tail(paper.paper_md, settings.paper_tokens) if paper.paper_md else None
    sizes = {f.path: f.size for f in sub.files}
    tree = bounded_tree([f.path for f in sub.files] + list(sub.listed_only), settings.rank_tree_tokens, sizes)
    m_paper = paper_block(paper_md, joined_addendum(paper), tree, sub.reproduce_sh)

    code_leaves = [r for r in leaves if r.leaf.task_category != RESULT_ANALYSIS]
    shared = take_within(ranker.rank(_query(code_leaves)), settings.shared_code_tokens) if code_leaves else []
    shared_paths = frozenset(f.path for f, _ in shared)
    m_code = files_block(
        "Submission files most relevant to this rubric",
        [(f.path, text) for f, text in shared],
        "(no readable files besides reproduce.sh)",
    )
    log, notes = reduced_log(sub, settings.log_tokens)
    m_log = log_block(log, run_note(sub))

    ra_files = category_files(sub, RESULT_ANALYSIS)
    ra_leaves = [r for r in leaves if r.leaf.task_category == RESULT_ANALYSIS]
    has_outputs = ra_outputs_exist(sub)
    ra_ranker = FileRanker(ra_files)
    outputs = (
        take_within(ra_ranker.rank(_query(ra_leaves)), settings.outputs_tokens)
        if ra_leaves and has_outputs
        else []
    )
    output_paths = frozenset(f.path for f, _ in outputs)
    touched = [p for p in category_paths(sub, RESULT_ANALYSIS) if p in sub.touched]
    m_outputs = files_block(
        "Documentation and the table files the run touched (the only files that count for results)",
        [(f.path, text) for f, text in outputs],
        "(none readable)",
    ) + files_block(
        "Table and doc files the run touched",
        [("list", bounded_tree(touched, settings.rank_tree_tokens // 4) if touched else "(none)")],
        "(none)",
    )

    system: Message = ("system", SYSTEM_PROMPT)
    prefixes: dict[str, tuple[Message, ...]] = {
        "cd": (system, ("user", m_paper), ("user", m_code)),
        "ce": (system, ("user", m_paper), ("user", m_code), ("user", m_log)),
        "ra": (system, ("user", m_paper), ("user", m_log), ("user", m_outputs)),
    }

    def no_call(r: LeafRef) -> bool:
        return r.leaf.task_category == RESULT_ANALYSIS and not has_outputs

    items: list[WorkItem[GroupCall]] = []
    per_call = settings.leaves_per_call or REPROBOT_LEAVES_PER_CALL
    for group in group_leaves([r for r in leaves if not no_call(r)], per_call):
        family = FAMILY_OF[group[0].leaf.task_category or ""]
        if family == "ra":
            picked = take_within(
                ra_ranker.rank(_query(group)), settings.leaf_files_tokens, exclude=output_paths
            )
        else:
            picked = take_within(ranker.rank(_query(group)), settings.leaf_files_tokens, exclude=shared_paths)
        leaf_files = tuple((f.path, text) for f, text in picked)
        prefix = prefixes[family]
        ev = evidence_hash((*prefix, *(("file", f"{p}\x00{t}") for p, t in leaf_files)))
        version = f"{settings.prompt_version}/{PROTOCOL}"
        keys = tuple(leaf_key(settings.model, version, r.leaf, r.ancestors, ev) for r in group)
        call = GroupCall(prefix, leaf_files, tuple(group))
        evidence = tuple(p for p, _ in leaf_files)
        items.append(WorkItem(len(items), family, tuple(group), keys, ev, evidence, call))
    return Plan(tuple(items), tuple(r for r in leaves if no_call(r)), leaves, notes)


def run_group(runner: CallRunner, item: WorkItem[GroupCall]) -> ItemResult:
    """JSON verdicts for the item's leaves (asked twice at most)."""
    messages = list(item.payload.messages(item.leaves))
    pending = list(item.leaf_ids)
    result = ItemResult(item, {}, {}, Usage(), [], 0, runner.structured)
    for ask in (1, 2):
        try:
            sent = runner.send(item, messages, pending, schema=RESPONSE_SCHEMA)
        except LeafFailure as exc:
            for leaf_id in pending:
                result.problems[leaf_id] = exc.problem
            break
        result.add(runner.backend.model, sent)
        result.structured = sent.response.structured
        got, bad = parse_verdicts(sent.response.text, pending)
        result.verdicts.update(got)
        for leaf_id, v in got.items():
            result.problems.pop(leaf_id, None)
            own = {"leaf_id": leaf_id, "explanation": v.explanation, "score": v.score}
            own["citations"] = [c.to_dict() for c in v.citations]
            result.details[leaf_id] = LeafAnswer(json.dumps(own, ensure_ascii=False))
        result.problems.update(
            {k: Problem(FailureKind.PARSE, f"unusable verdict: {v}") for k, v in bad.items()}
        )
        pending = [leaf_id for leaf_id in pending if leaf_id in bad]
        if not pending:
            break
        if ask == 1:
            summary = "; ".join(f"{k}: {v}" for k, v in list(bad.items())[:5])
            retry = RETRY_MESSAGE.format(problem=summary)
            messages += [("assistant", sent.response.text), ("user", retry)]
        else:
            for leaf_id in pending:
                result.problems[leaf_id] = result.problems[leaf_id].also(" (asked twice)")
    return result


class ReprobotProtocol:
    """A byte-identical cached prefix, evidence chosen without a ranking call, leaves grouped."""

    name = PROTOCOL

    def models(self, settings: JudgeSettings) -> tuple[str, ...]:
        return (settings.model,)

    def leaves_per_call(self, settings: JudgeSettings) -> int:
        return settings.leaves_per_call or REPROBOT_LEAVES_PER_CALL

    def plan(
        self,
        sub: ExecutedSubmission,
        paper: Paper,
        rubric: RubricNode,
        settings: JudgeSettings,
        code_only: bool,
    ) -> Plan[GroupCall]:
        return build_reprobot_plan(sub, paper, rubric, settings)

    def planned_calls(self, item: WorkItem[GroupCall], settings: JudgeSettings) -> list[PlannedCall]:
        out = len(item.leaves) * settings.expected_output_tokens_per_leaf
        return [(settings.model, item.payload.messages(item.leaves), out)]

    def run(self, item: WorkItem[GroupCall], calls: CallRunner) -> ItemResult:
        return run_group(calls, item)
