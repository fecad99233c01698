"""``reprobot judge`` and ``reprobot judge-eval-run``: grade an executed submission with an LLM.

The judge's settings come from the ``judge:`` key of the configuration, overridden by options;
the API key from GRADER_OPENAI_API_KEY / OPENAI_API_KEY (Settings.secrets). ``--judge dummy`` grades
with the seeded dummy judge (no key, no network) and every output says so.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from bot.cli.common import app_settings, echo_json, judge_option, resolve_paper
from bot.judge_setup import judge_backend_for, judge_settings_for
from judge.config import JudgeSettings
from judge.graded import load_graded
from judge.grader import JudgeOptions, JudgeOutcome, estimate_executed, judge_executed
from judge.judge_eval import judge_eval
from judge.llm import LLMBackend
from judge.papers import Paper
from runner.metadata import RunMetadata


def judge_settings(ctx: click.Context, **overrides: Any) -> JudgeSettings:
    return judge_settings_for(app_settings(ctx), **overrides)


def judge_backend(ctx: click.Context, js: JudgeSettings, dummy: bool) -> LLMBackend:
    return judge_backend_for(app_settings(ctx), js, dummy)


def _progress(done: int, total: int, info: dict[str, Any]) -> None:
    if info.get("stage") == "cache":
        click.echo(
            f"judge: {info['cached']} leaves from the cache, {info['calls_planned']} calls to send", err=True
        )
        return
    step = max(total // 10, 1)
    if done == total or done % step == 0:
        click.echo(f"judge: {done}/{total} leaves graded", err=True)


def _print_outcome(outcome: JudgeOutcome) -> None:
    s = outcome.summary
    tok = s["tokens"]
    cost = (
        f"${s['cost_usd']:.4f}"
        if s["cost_usd"] is not None
        else "unknown cost (model not in the price table)"
    )
    if s["dummy"]:
        click.echo("[dummy judge] these scores are placeholders, not a model's verdicts")
    click.echo(
        f"{s['paper_id']} ({s['mode']}): {s['leaves']} leaves, passed {s['passed']}, "
        f"could not grade {s['invalid']}, "
        f"coverage {100 * s['coverage']:.1f}%"
    )
    click.echo(
        f"calls {s['calls']} (leaves from cache {s['cached_leaves']}), tokens in {tok['input']} "
        f"(cached {tok['cached_input']}) out {tok['output']} (reasoning {tok['reasoning']}), {cost}"
    )
    click.echo(f"wrote {outcome.grade_path}, {outcome.summary_path}, {outcome.calls_path}")
    click.echo(repr(float(s["score"])))


@click.command("judge")
@click.argument("executed", type=click.Path(path_type=Path))
@click.option("--paper", "paper_ref", required=True, help="Paper id, or a folder in PaperBench's layout.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--code-dev", is_flag=True, help="Grade the Code-Dev variant (Code Development leaves only).")
@click.option("--model", default=None, help="Model name at the endpoint (default: judge.model).")
@click.option("--base-url", default=None, help="OpenAI-compatible endpoint (OpenAI, Azure, vLLM, Ollama).")
@click.option("--leaves-per-call", type=click.IntRange(1, 64), default=None, help="Sibling leaves per call.")
@click.option(
    "--concurrency", type=click.IntRange(1, 256), default=None, help="Requests in flight (default 16)."
)
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--estimate", is_flag=True, help="Print expected calls, tokens and dollars; send nothing.")
@judge_option("openai", ("openai", "dummy"), legacy_flag=True)
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
    leaves_per_call: int | None,
    concurrency: int | None,
    cache_path: Path | None,
    estimate: bool,
    dummy: bool,
    as_json: bool,
) -> None:
    """Grade EXECUTED (a `reprobot reproduce --out` folder) against the paper's rubric.

    Writes DIR/grade.json, DIR/judge_summary.json and DIR/judge_calls.jsonl; the last line of
    stdout is the root score.
    """
    paper = resolve_paper(ctx, paper_ref)
    js = judge_settings(
        ctx,
        model=model,
        base_url=base_url,
        leaves_per_call=leaves_per_call,
        concurrency=concurrency,
        cache_path=cache_path,
    )
    options = JudgeOptions(js, code_dev=code_dev)
    if estimate:
        est, cached = estimate_executed(executed, paper, options)
        data = {**est.to_dict(), "leaves_from_cache": cached, "leaves_per_call": js.leaves_per_call}
        if as_json:
            echo_json(data)
            return
        cost = (
            f"${est.cost_usd:.2f}" if est.cost_usd is not None else "unknown (model not in the price table)"
        )
        click.echo(
            f"estimate for {paper.id} with {est.model}: {est.calls} calls for {est.leaves} leaves "
            f"({cached} from the cache)"
        )
        click.echo(
            f"input tokens {est.input_tokens} (of which prefix-cached {est.cached_input_tokens}), "
            f"output tokens ~{est.output_tokens}; expected cost {cost}"
        )
        return
    backend = judge_backend(ctx, js, dummy)  # a missing key fails here, before any work
    outcome = judge_executed(executed, paper, out_dir, options, backend, progress=_progress)
    if as_json:
        echo_json(outcome.summary)
        return
    _print_outcome(outcome)


def _as_executed(path: Path, tmp: Path) -> Path:
    """An executed-submission folder as is; a bare submission wrapped as one that was never run."""
    if (path / "metadata.json").is_file():
        return path
    if not path.is_dir():
        raise click.BadParameter(f"{path}: not a directory", param_hint="SUBMISSION_OR_EXECUTED")
    root = tmp / "executed"
    shutil.copytree(path, root / "submission", symlinks=True)
    log = path / "reproduce.log"
    (root / "reproduce.log").write_text(
        log.read_text(errors="replace") if log.is_file() else "", encoding="utf-8"
    )
    RunMetadata(None, False, False, 0.0, False, "", "", "n/a", error=None).write(root / "metadata.json")
    return root


def _grade_and_score(
    ctx: click.Context,
    executed: Path,
    paper: Paper,
    gold: Path,
    out_dir: Path,
    js: JudgeSettings,
    dummy: bool,
) -> dict[str, Any]:
    backend = judge_backend(ctx, js, dummy)
    outcome = judge_executed(executed, paper, out_dir, JudgeOptions(js), backend, progress=_progress)
    result = judge_eval(outcome.graded, load_graded(gold), source=str(outcome.grade_path))
    return {
        "leaves_per_call": js.leaves_per_call,
        "out": str(out_dir),
        "judge_eval": result.to_dict(),
        "calls": outcome.summary["calls"],
        "tokens": outcome.summary["tokens"],
        "cost_usd": outcome.summary["cost_usd"],
        "coverage": outcome.summary["coverage"],
        "dummy": outcome.summary["dummy"],
    }


@click.command("judge-eval-run")
@click.argument("submission", type=click.Path(exists=True, path_type=Path), metavar="SUBMISSION_OR_EXECUTED")
@click.option("--paper", "paper_ref", required=True)
@click.option(
    "--gold", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Human-graded tree."
)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--model", default=None)
@click.option("--base-url", default=None)
@click.option("--leaves-per-call", type=click.IntRange(1, 64), default=None)
@click.option("--concurrency", type=click.IntRange(1, 256), default=None)
@click.option(
    "--compare-grouped",
    type=click.IntRange(2, 64),
    default=None,
    help="Grade twice, 1 leaf per call and N per call, and compare JudgeEval F1 and cost.",
)
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@judge_option("openai", ("openai", "dummy"), legacy_flag=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def judge_eval_run(
    ctx: click.Context,
    submission: Path,
    paper_ref: str,
    gold: Path,
    out_dir: Path,
    model: str | None,
    base_url: str | None,
    leaves_per_call: int | None,
    concurrency: int | None,
    compare_grouped: int | None,
    cache_path: Path | None,
    dummy: bool,
    as_json: bool,
) -> None:
    """Grade a JudgeEval submission with a model and report F1 against the human GOLD tree."""
    paper = resolve_paper(ctx, paper_ref)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="reprobot-judge-eval-") as tmp:
        executed = _as_executed(submission, Path(tmp))
        variants = [leaves_per_call] if compare_grouped is None else [1, compare_grouped]
        for lpc in variants:
            js = judge_settings(
                ctx,
                model=model,
                base_url=base_url,
                leaves_per_call=lpc,
                concurrency=concurrency,
                cache_path=cache_path,
            )
            target = out_dir if compare_grouped is None else out_dir / f"leaves-per-call-{js.leaves_per_call}"
            runs.append(_grade_and_score(ctx, executed, paper, gold, target, js, dummy))
    if as_json:
        echo_json(runs if compare_grouped is not None else runs[0])
        return
    if dummy:
        click.echo("[dummy judge] placeholder verdicts: these figures say nothing about a model")
    for run in runs:
        o = run["judge_eval"]["overall"]
        cost = f"${run['cost_usd']:.4f}" if run["cost_usd"] is not None else "cost unknown"
        click.echo(
            f"leaves/call {run['leaves_per_call']:>2}: F1 {o['f1']:.3f}  acc {o['accuracy']:.3f}  "
            f"P {o['precision']:.3f}  R {o['recall']:.3f}  n={o['num_samples']}  calls {run['calls']}  "
            f"input tokens {run['tokens']['input']}  {cost}  ({run['out']})"
        )
        for cat, m in run["judge_eval"]["by_category"].items():
            click.echo(f"    {cat:<18} F1 {m['f1']:.3f}  acc {m['accuracy']:.3f}  n={m['num_samples']}")
    if compare_grouped is not None:
        d = runs[1]["judge_eval"]["overall"]["f1"] - runs[0]["judge_eval"]["overall"]["f1"]
        click.echo(f"grouped ({compare_grouped}/call) minus single: F1 {d:+.3f}")
    sys.stdout.flush()


COMMANDS: list[click.Command] = [judge_cmd, judge_eval_run]
