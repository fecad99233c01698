"""``reprobot rubric check|show`` and ``reprobot papers``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bot.cli.common import echo_json, registry, resolve_paper
from judge.errors import JudgeError
from judge.outline import outline, outline_text
from judge.rubric import load_rubric


@click.group("rubric")
def rubric_group() -> None:
    """Validate and inspect rubric trees."""


@rubric_group.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def rubric_check(files: tuple[Path, ...]) -> None:
    """Validate rubric JSON files: exit 0 when all are valid, 1 otherwise (the message names the node)."""
    failed = 0
    for path in files:
        try:
            root = load_rubric(path)
        except JudgeError as exc:
            failed += 1
            click.echo(f"invalid: {exc}", err=True)
            continue
        leaves = sum(1 for _ in root.leaves())
        click.echo(f"ok: {path} ({leaves} leaves)")
    if failed:
        raise SystemExit(1)


@rubric_group.command("show")
@click.argument("ref")
@click.option("--depth", type=int, default=1, show_default=True, help="Outline depth to print.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable outline.")
@click.pass_context
def rubric_show(ctx: click.Context, ref: str, depth: int, as_json: bool) -> None:
    """A readable outline of a rubric: a paper id, a paper folder, or a rubric.json file."""
    path = Path(ref)
    if path.is_file():
        root, title = load_rubric(path), str(path)
    else:
        paper = resolve_paper(ctx, ref)
        root, title = paper.rubric, f"{paper.id}: {paper.title}"
    info = outline(root)
    if as_json:
        echo_json({"title": title, **info.to_dict()})
        return
    click.echo(outline_text(root, title, depth=depth))


@click.group("papers", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable list.")
@click.pass_context
def papers(ctx: click.Context, as_json: bool) -> None:
    """List the papers of the configured papers folder (gradable = paper.md present)."""
    if ctx.invoked_subcommand is not None:
        return
    reg = registry(ctx)
    rows: list[dict[str, Any]] = []
    for paper in reg:
        root = paper.rubric
        rows.append(
            {
                "id": paper.id,
                "title": paper.title,
                "leaves": sum(1 for _ in root.leaves()),
                "blacklisted": len(paper.blacklist),
                "paper_md": paper.paper_md is not None,
                "gradable": bool(paper.paper_md and paper.paper_md.strip()),
                "addendum": paper.addendum is not None,
            }
        )
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(f"no papers in {reg.rubrics_dir}")
        return
    width = max(len(r["id"]) for r in rows)
    for r in rows:
        extras = " +addendum" if r["addendum"] else ""
        gradable = "gradable yes" if r["gradable"] else "gradable no (no paper.md)"
        click.echo(f"{r['id']:<{width}}  {r['leaves']:>4} leaves  {gradable:<25}  {r['title']}{extras}")
    click.echo(f"{len(rows)} papers in {reg.rubrics_dir}")


@papers.command("import")
@click.argument("data_dir", type=click.Path(path_type=Path), metavar="PAPERBENCH_DATA_DIR")
@click.argument("ids", nargs=-1)
@click.pass_context
def papers_import(ctx: click.Context, data_dir: Path, ids: tuple[str, ...]) -> None:
    """Copy papers (rubric, paper.md, addenda, blacklist, config, assets) from a PaperBench checkout or
    data folder into the configured papers folder; all of them when no ID is given. Each paper is
    imported whole or not at all; exit 1 when any was refused (each named with its reason)."""
    from judge.paper_import import import_papers

    reg = registry(ctx)
    report = import_papers(data_dir, reg.rubrics_dir, reg.blacklists_dir, ids)
    for p in report.imported:
        click.echo(f"{p.id}: {', '.join(p.files)} -> {p.folder} (gradable {'yes' if p.gradable else 'no'})")
        for why in p.skipped:
            click.echo(f"  skipped {why}")
    for r in report.refused:
        click.echo(f"refused {r.name}: {r.reason}", err=True)
    click.echo(f"imported {len(report.imported)} papers from {report.root}, refused {len(report.refused)}")
    if report.refused:
        ctx.exit(1)

COMMANDS: list[click.Command] = [rubric_group, papers]
