"""The paperbench protocol: SimpleJudge's rules (PAPERBENCH.md section 2), in reprobot's words.

Per leaf, three calls. **Rank** (the grading model unless ``rank_model`` is set): instructions, the
paper, the joined addendum, the criterion, the tree of the files the leaf's category may see; the
first ten lines of the answer name the files to read (judge.protocols.paperbench_evidence).
**Grade**, messages in SimpleJudge's order: instructions (the code-only variant drops the run),
the paper, the joined addendum, the ranked files, reproduce.sh (not in code-only mode), the
reduced reproduce.log (Code Execution and Result Analysis only), the criterion prompt (preceding
criteria for context, the criterion, its category's question), the answer format (Expectations,
Reality, Score). **Parse** (``parse_model``, structured output): the grading answer as ``{valid_score,
score, explanation}`` (+ reprobot's citations), read as PaperBench reads it: anything but that JSON
object is a parse error, a score outside [0, 1] too; ``valid_score: false`` is kept with its score.
Result Analysis leaves of a run that touched none of their files get 0 without a call.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from judge.cache import leaf_key
from judge.calls import CallRunner, ItemResult, LeafAnswer, LeafFailure, Problem
from judge.citations import CITATIONS_SCHEMA, LOG_FILE, parse_citations
from judge.config import JudgeSettings
from judge.context import planning_window
from judge.evidence import ExecutedSubmission
from judge.failures import FailureKind
from judge.fences import fence
from judge.llm import KIND_GRADE_TEXT, KIND_PARSE, KIND_RANK, Usage
from judge.logreduce import reduce_log
from judge.papers import Paper
from judge.plan import Plan, PlannedCall, WorkItem
from judge.prompts import FAMILY_OF, Message, Verdict, extract_json
from judge.protocols import paperbench_prompts as text
from judge.protocols.common import LeafRef, category_files, joined_addendum, leaf_refs, preceding_text
from judge.protocols.paperbench_evidence import (
    CATEGORIES,
    FILES_BUFFER_TOKENS,
    category_tree,
    fit_window,
    ranked_files,
)
from judge.relevance import FileRanker, terms
from judge.rubric import CODE_DEVELOPMENT, CODE_EXECUTION, RESULT_ANALYSIS, RubricNode

PROTOCOL = "paperbench"
PARSE_SCHEMA_NAME = "parsed_grade"
PARSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "valid_score": {"type": "boolean"},
        "score": {"type": "integer"},
        "explanation": {"type": "string"},
        "citations": CITATIONS_SCHEMA,
    },
    "required": ["valid_score", "score", "explanation", "citations"],
    "additionalProperties": False,
}
PRECEDING_CAPS = {"pinn": 5}  # PaperBench caps the preceding criteria of its largest rubric
NO_FILE = "(does not exist)"


@dataclass(frozen=True)
class PaperBenchTask:
    """One leaf's three calls (the ranking answer decides the files of the grading call)."""

    ref: LeafRef
    category: str
    sub: ExecutedSubmission
    rank_messages: tuple[Message, ...]
    grade_head: tuple[Message, ...]  # system, paper, addendum
    grade_tail: tuple[Message, ...]  # reproduce.sh, log, criterion prompt, answer format
    files_budget: int
    rank_model: str
    grade_model: str
    parse_model: str
    guess: FileRanker  # for --estimate only: the ranked files guessed without a call

    def files_message(self, answer: str) -> tuple[Message, tuple[str, ...]]:
        body, shown = ranked_files(self.sub, answer, self.files_budget, self.grade_model)
        title = (
            "The most relevant docs of the submission and the files its run touched (created or "
            "modified), concatenated"
            if self.category == RESULT_ANALYSIS
            else "The most relevant files of the submission, concatenated"
        )
        return text.msg(title, body or "(none of the named files could be read)"), shown

    def grade_messages(self, answer: str) -> tuple[tuple[Message, ...], tuple[str, ...]]:
        files, shown = self.files_message(answer)
        return (*self.grade_head, files, *self.grade_tail), shown

    def planned_calls(self, settings: JudgeSettings) -> list[PlannedCall]:
        guess = "\n".join(f.path for f in self.guess.rank(Counter(terms(self.ref.leaf.requirements)))[:10])
        out = settings.expected_output_tokens_per_leaf
        answer = "Expectations: ...\nReality: ...\nScore: 1\n" + "x " * out
        return [
            (self.rank_model, self.rank_messages, 200),
            (self.grade_model, self.grade_messages(guess)[0], out),
            (self.parse_model, text.parse_messages(answer), 200),
        ]


def preceding_cap(paper: Paper, settings: JudgeSettings) -> int | None:
    return settings.preceding_criteria_cap or PRECEDING_CAPS.get(paper.id)


def _submission_digest(sub: ExecutedSubmission) -> str:
    """Everything a ranking answer could make the judge read: every file's text (or size and mtime)."""
    h = hashlib.sha256()
    read = {f.path: f for f in sub.files}
    for path in sub.paths:
        f = read.get(path)
        token = (f.text or "") if f is not None else ""
        h.update(f"{path}\x00{f.size if f else -1}\x00".encode("utf-8", "surrogatepass"))
        h.update(token.encode("utf-8", "surrogatepass") + b"\x00")
    h.update(sorted(sub.touched).__repr__().encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def build_paperbench_plan(
    sub: ExecutedSubmission, paper: Paper, rubric: RubricNode, settings: JudgeSettings, code_only: bool
) -> Plan[PaperBenchTask]:
    leaves = leaf_refs(rubric, preceding_cap(paper, settings))
    raw_log = sub.read_as_paperbench(LOG_FILE)
    reduced = reduce_log(raw_log, "paperbench") if raw_log is not None else None
    log = reduced.text if reduced is not None else NO_FILE
    window = fit_window(
        paper.paper_md or "", log, planning_window(settings), settings.buffer_tokens, settings.model
    )
    paper_msg = text.msg(
        "The paper", window.paper or "(the paper text is unavailable: grading without it was allowed)"
    )
    addendum_msg = text.msg(
        "Addendum (clarifies the paper and how to judge its reproduction)", joined_addendum(paper)
    )
    grade_head = (("system", text.grade_system(code_only)), paper_msg, addendum_msg)
    script = sub.read_as_paperbench("reproduce.sh")
    script_msg = text.msg(
        "reproduce.sh of the submission, if any",
        fence("reproduce.sh", script) if script is not None else NO_FILE,
    )
    if reduced is None:
        log_body = NO_FILE
    elif window.log.strip():
        log_body = fence(LOG_FILE, window.log)
    else:
        log_body = "(the log is empty)"
    log_msg = text.msg("reproduce.log of running it, if any", log_body)
    trees = {c: category_tree(sub, c, window.avail[c], settings.model) for c in CATEGORIES}
    guesses = {c: FileRanker(category_files(sub, c)) for c in CATEGORIES}
    digest = _submission_digest(sub)

    items: list[WorkItem[PaperBenchTask]] = []
    no_call: list[LeafRef] = []
    for ref in leaves:
        cat = ref.leaf.task_category or CODE_DEVELOPMENT
        known = cat if cat in trees else CODE_DEVELOPMENT
        if cat == RESULT_ANALYSIS and not trees[RESULT_ANALYSIS].ra_touched:
            no_call.append(ref)
            continue
        rank_messages = (
            ("system", text.RANK_SYSTEM),
            paper_msg,
            addendum_msg,
            text.msg("Criterion", text.criterion_block(ref.leaf, cat)),
            text.msg("The submission's files", text.rank_request(trees[known].text)),
        )
        tail: list[Message] = []
        if not code_only:
            tail.append(script_msg)
            if cat in (CODE_EXECUTION, RESULT_ANALYSIS):
                tail.append(log_msg)
        tail += [
            text.criterion_message(preceding_text(ref.preceding), ref.leaf, cat),
            text.msg("Answer format", text.ANSWER_FORMAT),
        ]
        task = PaperBenchTask(
            ref, cat, sub, rank_messages, grade_head, tuple(tail),
            window.avail[known] - FILES_BUFFER_TOKENS, settings.ranking_model, settings.model,
            settings.parsing_model, guesses[known],
        )  # fmt: skip
        h = hashlib.sha256()
        for _, content in (*rank_messages, *grade_head, *tail):
            h.update(content.encode("utf-8", "surrogatepass") + b"\x00")
        h.update(digest.encode())
        ev = h.hexdigest()
        version = f"{settings.prompt_version}/{PROTOCOL}/{settings.ranking_model}/{settings.parsing_model}"
        key = leaf_key(settings.model, version, ref.leaf, ref.ancestors, ev)
        items.append(WorkItem(len(items), FAMILY_OF.get(cat, "cd"), (ref,), (key,), ev, (), task))
    notes = (f"reproduce.log not reduced: {reduced.fallback}",) if reduced and reduced.fallback else ()
    return Plan(tuple(items), tuple(no_call), leaves, notes)


class _Parsed(BaseModel):
    """The parse call's answer, validated as PaperBench validates it (pydantic's lax JSON mode)."""

    valid_score: bool
    score: int
    explanation: str


def parse_grade(answer: str, structured: bool = True) -> tuple[Verdict | None, str | None]:
    """The parse call's answer as a verdict, or the reason it is a parse error. With structured
    output (as PaperBench always asks) only the JSON object itself is read; when the endpoint
    refused structured output and the answer came back as text, the object is taken out of it."""
    body = answer
    if not structured:
        try:
            body = json.dumps(extract_json(answer))
        except ValueError as exc:
            return None, f"parse error: {exc}"
    try:
        parsed = _Parsed.model_validate_json(body)
    except ValidationError as exc:
        return None, f"parse error: {exc.error_count()} problem(s): {exc.errors()[0]['msg']}"
    if not 0 <= parsed.score <= 1:
        return None, f"parse error: score {parsed.score} is outside [0, 1]"
    raw = json.loads(body)
    cites = parse_citations(raw.get("citations") if isinstance(raw, dict) else None)
    return Verdict(parsed.score, parsed.explanation, cites, parsed.valid_score), None


def run_paperbench_item(runner: CallRunner, item: WorkItem[PaperBenchTask]) -> ItemResult:
    task = item.payload
    leaf_id = item.leaf_ids[0]
    result = ItemResult(item, {}, {}, Usage(), [], 0, runner.structured)
    try:
        sent = runner.send(item, task.rank_messages, item.leaf_ids, kind=KIND_RANK, model=task.rank_model)
        result.add(task.rank_model, sent)
        grade_msgs, shown = task.grade_messages(sent.response.text)
        sent = runner.send(item, grade_msgs, item.leaf_ids, kind=KIND_GRADE_TEXT, model=task.grade_model)
        result.add(task.grade_model, sent)
        answer = sent.response.text
        sent = runner.send(
            item,
            text.parse_messages(answer),
            item.leaf_ids,
            kind=KIND_PARSE,
            model=task.parse_model,
            schema=PARSE_SCHEMA,
            schema_name=PARSE_SCHEMA_NAME,
        )
        result.add(task.parse_model, sent)
        result.structured = sent.response.structured
    except LeafFailure as exc:
        result.problems[leaf_id] = exc.problem
        return result
    verdict, problem = parse_grade(sent.response.text, sent.response.structured)
    result.details[leaf_id] = LeafAnswer(answer, shown)
    if verdict is None:
        result.problems[leaf_id] = Problem(FailureKind.PARSE, problem or "unusable parse")
    else:
        result.verdicts[leaf_id] = verdict
    return result


class PaperBenchProtocol:
    """SimpleJudge's rules: per leaf a ranking, a grading and a parsing call."""

    name = PROTOCOL

    def models(self, settings: JudgeSettings) -> tuple[str, ...]:
        return tuple(dict.fromkeys((settings.model, settings.ranking_model, settings.parsing_model)))

    def leaves_per_call(self, settings: JudgeSettings) -> int:
        return 1

    def plan(
        self,
        sub: ExecutedSubmission,
        paper: Paper,
        rubric: RubricNode,
        settings: JudgeSettings,
        code_only: bool,
    ) -> Plan[PaperBenchTask]:
        return build_paperbench_plan(sub, paper, rubric, settings, code_only)

    def planned_calls(self, item: WorkItem[PaperBenchTask], settings: JudgeSettings) -> list[PlannedCall]:
        return item.payload.planned_calls(settings)

    def run(self, item: WorkItem[PaperBenchTask], calls: CallRunner) -> ItemResult:
        return run_paperbench_item(calls, item)
