"""``reprobot score`` and ``reprobot judge-eval``: recompute and compare graded trees."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli.common import echo_json
from judge.graded import aggregate, code_dev_graded, dump_graded, load_graded, summarize
from judge.judge_eval import JudgeEvalResult, judge_eval_pooled


@click.command("score")
@click.argument("graded", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON document.")
@click.option("--code-dev", is_flag=True, help="Score the Code-Dev variant (Code Development leaves only).")
@click.option(
    "--write", "write_to", type=click.Path(dir_okay=False, path_type=Path), help="Write the recomputed tree."
)
def score(graded: Path, as_json: bool, code_dev: bool, write_to: Path | None) -> None:
    """Recompute every internal score from the leaves; the last stdout line is the root score.

    Stale internal scores in the input are ignored. With --json, stdout is one JSON document
    whose "score" is the root score.
    """
    tree = load_graded(graded)
    if code_dev:
        tree = code_dev_graded(tree)
    root = aggregate(tree)
    summary = summarize(root)
    if write_to is not None:
        dump_graded(root, write_to)
    if as_json:
        echo_json({"file": str(graded), "mode": "code-dev" if code_dev else "full", **summary.to_dict()})
        return
    click.echo(f"{graded}: {'Code-Dev' if code_dev else 'full'} rubric, {summary.leaves} leaves")
    click.echo(
        f"passed {summary.passed}, failed {summary.leaves - summary.passed - summary.invalid}, "
        f"could not grade {summary.invalid}; coverage {100 * summary.coverage:.1f}%"
    )
    for cat in summary.by_category.values():
        click.echo(
            f"  {cat.category:<18} {cat.score:.4f}  ({cat.passed}/{cat.leaves} passed, "
            f"coverage {100 * cat.coverage:.1f}%)"
        )
    click.echo(repr(float(root.score)))


def _fmt(m: dict[str, float | int]) -> str:
    return (
        f"acc {m['accuracy']:.3f}  P {m['precision']:.3f}  R {m['recall']:.3f}  F1 {m['f1']:.3f}  "
        f"n={m['num_samples']} (+{m['num_positives']}/-{m['num_negatives']})"
    )


@click.command("judge-eval")
@click.argument(
    "trees", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PRED GOLD [PRED GOLD]..."
)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON document.")
def judge_eval_cmd(trees: tuple[Path, ...], as_json: bool) -> None:
    """Leaf-level accuracy and macro P/R/F1 of PRED against a human-graded GOLD tree.

    With several PRED GOLD pairs, the metrics are PaperBench's: every pair's leaves pooled (raw
    scores, not binarised), then each pair's own line. --json: the pooled {overall, by_category,
    ...} plus "pairs" (one pair: that pair's object, as before).
    """
    if len(trees) % 2:
        raise click.BadParameter(f"{len(trees)} paths given: PRED and GOLD come in pairs", param_hint="TREES")
    pairs = [(load_graded(trees[i]), load_graded(trees[i + 1])) for i in range(0, len(trees), 2)]
    sources = [str(trees[i]) for i in range(0, len(trees), 2)]
    result = judge_eval_pooled(pairs)
    if as_json:
        echo_json(result.pooled.to_dict() if len(pairs) == 1 else result.to_dict(sources))
        return
    if len(pairs) > 1:
        for source, own in zip(sources, result.per_pair, strict=True):
            click.echo(f"{source}")
            click.echo(f"  {'overall':<18}{_fmt(own.overall.to_dict())}")
        click.echo(f"pooled over {len(pairs)} pairs (PaperBench's aggregate)")
    _print_result(result.pooled)


def _print_result(result: JudgeEvalResult) -> None:
    data = result.to_dict()
    click.echo(f"overall             {_fmt(data['overall'])}")
    for category, metrics in data["by_category"].items():
        click.echo(f"  {category:<18}{_fmt(metrics)}")
    if result.num_skipped:
        click.echo(f"skipped {result.num_skipped} leaves the prediction marks invalid (or below such nodes)")
    for side, ids in (("gold", result.missing_in_gold), ("prediction", result.missing_in_prediction)):
        if ids:
            shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
            click.echo(f"{len(ids)} leaves missing in the {side}: {shown}")


COMMANDS: list[click.Command] = [score, judge_eval_cmd]
