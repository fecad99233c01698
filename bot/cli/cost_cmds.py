"""``reprobot costs``: what judging cost, totalled by paper, submitter and day."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import click

from bot.cli.common import app_settings, echo_json
from bot.report.costs import DIMENSIONS, scan_costs
from bot.report.formatting import usd


@click.command("costs")
@click.option(
    "--results",
    "results_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of result folders (default: the configured results folder).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable totals and rows.")
@click.pass_context
def costs(ctx: click.Context, results_dir: Path | None, as_json: bool) -> None:
    """Judge cost (USD) of every graded result folder, totalled by paper, submitter and UTC day."""
    from bot.settings import results_dir as configured_results

    folder = results_dir or configured_results(app_settings(ctx))
    if not folder.is_dir():
        raise click.UsageError(f"{folder}: no such results folder")
    totals = scan_costs(folder)
    if as_json:
        echo_json(
            {
                "total_usd": totals.total,
                "unknown": totals.unknown,
                "by": {d: [{"key": k, "usd": v, "runs": n} for k, v, n in totals.by[d]] for d in DIMENSIONS},
                "rows": [asdict(r) for r in totals.rows],
            }
        )
        return
    for dim in DIMENSIONS:
        click.echo(f"by {dim}:")
        for key, value, runs in totals.by[dim]:
            click.echo(f"  {usd(value):>12}  {runs:>4} run(s)  {key}")
    extra = f" ({totals.unknown} result folder(s) without a recorded cost)" if totals.unknown else ""
    click.echo(f"total: {usd(totals.total)} over {len(totals.rows)} graded run(s){extra}")


COMMANDS: list[click.Command] = [costs]
