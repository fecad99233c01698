"""``reprobot judge`` and ``reprobot judge-eval-run``: grade an executed submission with an LLM.

The judge's settings come from the ``judge:`` key of the configuration, overridden by options;
the API key from GRADER_OPENAI_API_KEY / OPENAI_API_KEY (Settings.secrets). ``--judge dummy`` grades
with the dummy judge (no key, no network); outputs print the grade's caveats, whatever they are.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from bot.cli.common import app_settings, echo_json, judge_option, resolve_paper
from bot.cli.progress import TerminalProgress
from bot.judge_setup import judge_backend_for, judge_secrets, judge_settings_for
from judge.config import JUDGE_BACKENDS, PROTOCOLS, JudgeSettings
from judge.graded import load_graded
from judge.grader import JudgeOptions, JudgeOutcome, estimate_executed, judge_executed
from judge.judge_eval import judge_eval
from judge.llm import LLMBackend
from judge.papers import Paper
from judge.rubric import parse_rubric
from judge.summary import GradeSummary, IncompleteGrade
from runner.errors import RunnerError
from runner.layout import CREATION_TIME, EXECUTED_DIR, REPRODUCE_LOG, RUN_METADATA
from runner.metadata import RunMetadata


def judge_settings(ctx: click.Context, **overrides: Any) -> JudgeSettings:
    return judge_settings_for(app_settings(ctx), **overrides)


def judge_backend(ctx: click.Context, js: JudgeSettings) -> LLMBackend:
    return judge_backend_for(app_settings(ctx), js)


def _cost(value: float | None) -> str:
    return f"${value:.4f}" if value is not None else "unpriced (no price for this model here: judge.prices)"


def _print_outcome(outcome: JudgeOutcome) -> None:
    """The summary on stdout; the score as the last line only when every leaf got a verdict,
    else the grade's one line and its exit status (1 configuration, 3 the endpoint failed)."""
    s = outcome.summary
    tok = s.tokens
    for caveat in s.caveats:
        click.echo(f"CAVEAT: {caveat}")
    click.echo(
        f"{s.paper_id} ({s.mode}, {s.protocol} protocol, {'/'.join(s.models)}): {s.leaves} leaves, "
        f"passed {s.passed}, could not grade {s.invalid}, coverage {100 * s.coverage:.1f}%"
    )
    click.echo(
        f"calls {s.calls} (leaves from cache {s.cached_leaves}), requests sent {s.attempts}, tokens in "
        f"{tok.input} (cached {tok.cached_input}) out {tok.output} (reasoning {tok.reasoning}), "
        f"{_cost(s.cost_usd)}"
    )
    endpoint = s.endpoint.describe() if s.endpoint is not None else None
    if endpoint:
        click.echo(endpoint)
    for line in s.endpoint.learned if s.endpoint else ():
        click.echo(f"learned: {line}")
    click.echo(f"wrote {outcome.grade_path}, {outcome.summary_path}, {outcome.calls_path}")
    _finish(s)


def _finish(s: GradeSummary, as_json: bool = False) -> None:
    incomplete = s.incomplete()
    if incomplete is None:
        if not as_json:
            click.echo(repr(float(s.score)))
        return
    if not as_json:
        click.echo(f"no score: {incomplete.line}")  # the last line is never a bare number then
    raise IncompleteGrade(incomplete)


def _overrides(
    model: str | None,
    base_url: str | None,
    leaves_per_call: int | None,
    concurrency: int | None,
    cache_path: Path | None,
    protocol: str | None,
    allow_missing_paper: bool,
    judge: str,
    rank_model: str | None = None,
    parse_model: str | None = None,
) -> dict[str, Any]:
    return {
        "backend": judge,
        "rank_model": rank_model,
        "parse_model": parse_model,
        "model": model,
        "base_url": base_url,
        "leaves_per_call": leaves_per_call,
        "concurrency": concurrency,
        "cache_path": cache_path,
        "protocol": protocol,
        "allow_missing_paper": True if allow_missing_paper else None,
    }


_PROTOCOL = click.option(
    "--protocol",
    type=click.Choice(PROTOCOLS),
    default=None,
    help="paperbench: SimpleJudge's rank/grade/parse per leaf (default); reprobot: cached prefix, grouped.",
)
_ALLOW = click.option(
    "--allow-missing-paper", is_flag=True, help="Grade a paper without paper.md (every output says so)."
)
_RANK_MODEL = click.option(
    "--rank-model", default=None, help="paperbench protocol's ranking model (default: the grading model)."
)
_PARSE_MODEL = click.option(
    "--parse-model",
    default=None,
    help="paperbench protocol's parsing model (default: the grading model; gpt-4o with the default model "
    "on OpenAI).",
)


@click.command("judge")
@click.argument("executed", type=click.Path(path_type=Path))
@click.option("--paper", "paper_ref", required=True, help="Paper id, or a folder in PaperBench's layout.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--code-dev", is_flag=True, help="Grade the Code-Dev variant (Code Development leaves only).")
@click.option("--model", default=None, help="Model name at the endpoint (default: judge.model).")
@click.option(
    "--base-url",
    default=None,
    help="OpenAI-compatible endpoint (OpenAI, Azure, vLLM, llama.cpp, Ollama); no key needed.",
)
@_RANK_MODEL
@_PARSE_MODEL
@_PROTOCOL
@_ALLOW
@click.option(
    "--leaves-per-call", type=click.IntRange(1, 64), default=None, help="reprobot protocol: leaves per call."
)
@click.option(
    "--concurrency", type=click.IntRange(1, 256), default=None, help="Requests in flight (default 16)."
)
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--estimate", is_flag=True, help="Print expected calls, tokens and dollars; send nothing.")
@judge_option("openai", JUDGE_BACKENDS, legacy_flag=True)
@click.option("--json", "as_json", is_flag=True, help="Print the summary (or estimate) as JSON.")
@click.pass_context
def judge_cmd(
    ctx: click.Context,
    executed: Path,
    paper_ref: str,
    out_dir: Path,
    code_dev: bool,
    model: str | None,
    base_url: str | None,
    rank_model: str | None,
    parse_model: str | None,
    protocol: str | None,
    allow_missing_paper: bool,
    leaves_per_call: int | None,
    concurrency: int | None,
    cache_path: Path | None,
    estimate: bool,
    judge: str,
    as_json: bool,
) -> None:
    """Grade EXECUTED (a `reprobot reproduce --out` folder) against the paper's rubric.

    EXECUTED may also be PaperBench's executed submission folder (reproduce.log and
    reproduce.log.creation_time inside): judged where it is, the files its run touched by mtime.

    Writes DIR/grade.json, DIR/judge_summary.json and DIR/judge_calls.jsonl; the last line of
    stdout is the root score. A paper without paper.md is refused before any call (exit 1)
    unless --allow-missing-paper is given.
    """
    paper = resolve_paper(ctx, paper_ref)
    ov = _overrides(
        model, base_url, leaves_per_call, concurrency, cache_path, protocol, allow_missing_paper, judge,
        rank_model, parse_model,
    )  # fmt: skip
    js = judge_settings(ctx, **ov)
    with tempfile.TemporaryDirectory(prefix="reprobot-judge-") as tmp:
        executed, bare = _as_executed(executed, Path(tmp))
        options = JudgeOptions(
            js, code_dev=code_dev, secrets=judge_secrets(app_settings(ctx)), submission_dir=bare
        )
        _judge(ctx, executed, paper, out_dir, options, estimate, as_json)


def _judge(
    ctx: click.Context,
    executed: Path,
    paper: Paper,
    out_dir: Path,
    options: JudgeOptions,
    estimate: bool,
    as_json: bool,
) -> None:
    js = options.settings
    if estimate:
        est, cached = estimate_executed(executed, paper, options)
        data = {**est.to_dict(), "protocol": js.protocol, "leaves_from_cache": cached}
        if as_json:
            echo_json(data)
            return
        click.echo(
            f"estimate for {paper.id} ({js.protocol} protocol, {est.model}): {est.calls} calls for "
            f"{est.leaves} leaves ({cached} from the cache)"
        )
        cost = f"${est.cost_usd:.2f}" if est.cost_usd is not None else _cost(None)
        click.echo(
            f"input tokens {est.input_tokens} (of which prefix-cached {est.cached_input_tokens}), "
            f"output tokens ~{est.output_tokens}; expected cost {cost}"
        )
        return
    backend = judge_backend(ctx, js)  # a missing key fails here, before any work
    view = TerminalProgress()
    try:
        outcome = judge_executed(executed, paper, out_dir, options, backend, progress=view.judge)
    finally:
        view.close()
    if as_json:
        echo_json(outcome.summary.to_dict())
        _finish(outcome.summary, as_json=True)
        return
    _print_outcome(outcome)


def _is_reprobot_layout(path: Path) -> bool:
    """A `reprobot reproduce --out` folder: its own metadata.json (a run record) beside submission/,
    and no reproduce.sh at the top (a submission's files, metadata.json included, sit in submission/)."""
    if (
        not ((path / EXECUTED_DIR).is_dir() and (path / RUN_METADATA).is_file())
        or (path / "reproduce.sh").exists()
    ):
        return False
    try:
        RunMetadata.read(path / RUN_METADATA)
    except RunnerError:
        return False
    return True


def _as_executed(path: Path, tmp: Path) -> tuple[Path, Path | None]:
    """The executed folder to judge and, for a bare PaperBench executed submission (the submission
    folder after its run, with reproduce.log and reproduce.log.creation_time inside), the folder
    itself: judged where it is (every mtime kept), its log and creation time copied beside a run
    record, so the files the run touched are those PaperBench counts."""
    if not path.is_dir() or _is_reprobot_layout(path):
        return path, None
    root = tmp / "executed"
    root.mkdir(parents=True)
    creation: float | None = None
    for name in (REPRODUCE_LOG, CREATION_TIME):
        source = path / name
        if source.is_file() and not source.is_symlink():
            shutil.copy2(source, root / name)  # mtimes kept: the log's is PaperBench's fallback
    try:
        creation = float(int((root / CREATION_TIME).read_text(encoding="utf-8", errors="replace")[:64]))
    except (OSError, ValueError):
        creation = None
    ran = (root / REPRODUCE_LOG).is_file()
    RunMetadata(
        None, False, False, 0.0, False, "", "", "n/a", status="completed" if ran else "not_run",
        creation_time=creation, origin="paperbench-import",
    ).write(root / RUN_METADATA)  # fmt: skip
    return root, path


@click.command("judge-eval-run")
@click.argument("submission", type=click.Path(exists=True, path_type=Path), metavar="EXECUTED")
@click.option("--paper", "paper_ref", required=True, help="The paper (its paper.md and addenda).")
@click.option(
    "--gold", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Human-graded tree."
)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--protocols",
    default=None,
    help="Comma-separated protocols to grade with and compare (default: judge.protocol).",
)
@click.option("--model", default=None)
@click.option("--base-url", default=None)
@_RANK_MODEL
@_PARSE_MODEL
@_ALLOW
@click.option("--leaves-per-call", type=click.IntRange(1, 64), default=None)
@click.option("--concurrency", type=click.IntRange(1, 256), default=None)
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@judge_option("openai", JUDGE_BACKENDS, legacy_flag=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def judge_eval_run(
    ctx: click.Context,
    submission: Path,
    paper_ref: str,
    gold: Path,
    out_dir: Path,
    protocols: str | None,
    model: str | None,
    base_url: str | None,
    rank_model: str | None,
    parse_model: str | None,
    allow_missing_paper: bool,
    leaves_per_call: int | None,
    concurrency: int | None,
    cache_path: Path | None,
    judge: str,
    as_json: bool,
) -> None:
    """Grade EXECUTED with the GOLD tree as the rubric (as PaperBench's JudgeEval runner does), with
    each protocol, and print accuracy, F1 (overall and per category) and cost side by side."""
    paper = resolve_paper(ctx, paper_ref)
    gold_tree = load_graded(gold)
    rubric = parse_rubric(gold_tree.to_dict(), str(gold))
    names = [p.strip() for p in (protocols or "").split(",") if p.strip()]
    for name in names:
        if name not in PROTOCOLS:
            raise click.BadParameter(f"unknown protocol {name!r} (one of {', '.join(PROTOCOLS)})")
    runs: list[dict[str, Any]] = []
    summaries: list[GradeSummary] = []
    with tempfile.TemporaryDirectory(prefix="reprobot-judge-eval-") as tmp:
        executed, bare = _as_executed(submission, Path(tmp))
        choices: list[str | None] = list(names) or [None]
        for choice in choices:
            ov = _overrides(
                model, base_url, leaves_per_call, concurrency, cache_path, choice, allow_missing_paper, judge,
                rank_model, parse_model,
            )  # fmt: skip
            js = judge_settings(ctx, **ov)
            target = out_dir / js.protocol if len(names) > 1 else out_dir
            secrets = judge_secrets(app_settings(ctx))
            options = JudgeOptions(js, rubric=rubric, secrets=secrets, submission_dir=bare)
            view = TerminalProgress()
            try:
                outcome = judge_executed(executed, paper, target, options, judge_backend(ctx, js), view.judge)
            finally:
                view.close()
            result = judge_eval(outcome.graded, gold_tree, source=str(outcome.grade_path))
            runs.append({"out": str(target), "judge_eval": result.to_dict(), **outcome.summary.to_dict()})
            summaries.append(outcome.summary)
    if as_json:
        echo_json(runs if len(names) > 1 else runs[0])
        _finish_runs(summaries, as_json=True)
        return
    for caveat in dict.fromkeys(c for run in runs for c in run["caveats"]):
        click.echo(f"CAVEAT: {caveat}")
    for run in runs:
        o = run["judge_eval"]["overall"]
        click.echo(
            f"{run['protocol']:<10}  acc {o['accuracy']:.3f}  F1 {o['f1']:.3f}  P {o['precision']:.3f}  "
            f"R {o['recall']:.3f}  n={o['num_samples']}  calls {run['calls']}  "
            f"input tokens {run['tokens']['input']} (cached {run['tokens']['cached_input']})  "
            f"{_cost(run['cost_usd'])}  coverage {100 * run['coverage']:.1f}%  ({run['out']})"
        )
        for cat, m in run["judge_eval"]["by_category"].items():
            click.echo(f"    {cat:<18} acc {m['accuracy']:.3f}  F1 {m['f1']:.3f}  n={m['num_samples']}")
        ev = run["judge_eval"]
        for side in ("missing_in_gold", "missing_in_prediction"):
            if ev[side]:
                click.echo(f"    {len(ev[side])} leaves {side.replace('_', ' ')}")
    sys.stdout.flush()
    _finish_runs(summaries)


def _finish_runs(summaries: list[GradeSummary], as_json: bool = False) -> None:
    """Every run graded every leaf, or the runs' lines and the exit status (1 over 3)."""
    incomplete = [(s.protocol, i) for s in summaries if (i := s.incomplete()) is not None]
    if not incomplete:
        return
    if not as_json:
        for protocol, i in incomplete:
            click.echo(f"{protocol}: {i.line}")
    worst = min(incomplete, key=lambda pi: pi[1].exit_code)[1]  # 1 (configuration) before 3 (outage)
    raise IncompleteGrade(worst)


COMMANDS: list[click.Command] = [judge_cmd, judge_eval_run]
