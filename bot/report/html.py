"""The self-contained HTML report: what matters first (the score, the top failing requirements,
overrides, the categories with a Failed column, the figures and tables the run wrote), then the whole
tree, every explanation and the evidence it cited.

One file, inline CSS and one script of reprobot's own (``templates/report.js``, allowed by its hash
in the page's CSP), the run's images embedded as ``data:`` URIs (``bot.report.outputs``), no
network; it links the run's log and metadata beside it, and the previous run of the same submitter
and paper (``bot.report.history``). Jinja2 autoescaping covers all text; the script only toggles
attributes and never builds HTML from data. The script honours a URL fragment such as
``report.html#expand=NODE_ID&verdict=fail&category=code-execution&q=adam`` or ``#n12`` (a tree
node: the failing table links to them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from bot.report import formatting
from bot.report.escaping import clean, clip
from bot.report.formatting import BAND_LABELS, band
from bot.report.history import previous_run
from bot.report.leaf_evidence import CITATIONS_KEY, NO_EVIDENCE
from bot.report.links import report_links, run_attempts
from bot.report.model import LeafInfo, ReportContext
from bot.report.outputs import run_outputs
from bot.report.overrides import leaf_override, overrides_in
from bot.report.plain import headline_of
from bot.report.scripts import page_csp, script_markup
from bot.report.templating import html_env
from bot.report.tree import LEVELS, node_stats, tree_rows
from bot.results import OVERRIDE_KEY, REPORT_HTML
from judge.rubric import TASK_CATEGORIES

EVIDENCE_ITEMS = 200
META_CHARS = 4000
TOP_FAILING = 20
TOP_INVALID = 10


def category_slug(category: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (category or "none").lower()).strip("-")


@dataclass(frozen=True, slots=True)
class AuditFact:
    key: str
    value: str


def _item_text(x: Any) -> str:
    if isinstance(x, str):
        return clip(x, 1000)
    try:
        return clip(json.dumps(x, ensure_ascii=False, sort_keys=True), 1000)
    except (TypeError, ValueError):
        return clip(repr(x), 1000)


def audit_facts(meta: Mapping[str, Any] | None) -> list[AuditFact]:
    """The auditor's view of judge_metadata (tokens, hashes, call ids, files read): everything but
    the citations, which are the evidence and shown as such."""
    facts: list[AuditFact] = []
    for key, value in (meta or {}).items():
        if key in (CITATIONS_KEY, OVERRIDE_KEY) or value is None:
            continue
        if isinstance(value, list | tuple):
            items = [_item_text(x) for x in value[:EVIDENCE_ITEMS]]
            more = f" … {len(value) - EVIDENCE_ITEMS} more" if len(value) > EVIDENCE_ITEMS else ""
            facts.append(AuditFact(clip(key, 100), clip(", ".join(items), META_CHARS) + more))
        elif isinstance(value, dict):
            facts.append(AuditFact(clip(key, 100), clip(_item_text(value), META_CHARS)))
        else:
            facts.append(AuditFact(clip(key, 100), clip(value, META_CHARS)))
    return facts


def _size(n: int | None) -> str:
    if n is None:
        return "size unknown"
    for unit, scale in (("MB", 1_000_000), ("KB", 1_000)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _leaf_row(leaf: LeafInfo, index: dict[int, int]) -> dict[str, Any]:
    return {
        "id": clip(leaf.node.id, 200),
        "index": index.get(id(leaf.node), 0),
        "lost": formatting.pts(-leaf.lost),
        "share": formatting.pct(leaf.share, 2),
        "requirement": clip(leaf.node.requirements, 300),
        "category": leaf.node.task_category or "",
        "explanation": clip(leaf.node.explanation or "(no explanation)", 400),
    }


def render_html_report(ctx: ReportContext, *, results_root: Path | None = None) -> str:
    """The report of ``ctx``; ``results_root``: the folder of all result folders, where the previous
    run of the same submitter and paper is looked for (none: no such link)."""
    stats = node_stats(ctx)
    full = LEVELS[0]
    evidence = ctx.evidence_index()
    rows = []
    index: dict[int, int] = {}
    for i, r in enumerate(tree_rows(ctx, full, stats)):
        n = r.node
        index.setdefault(id(n), i)
        facts = audit_facts(n.judge_metadata) if n.is_leaf else []
        cats = (
            sorted({category_slug(leaf.task_category) for leaf in n.leaves()})
            if r.kind == "open"
            else [category_slug(n.task_category)]
        )
        rows.append(
            {
                "kind": r.kind,
                "depth": r.depth,
                "index": i,
                "node": n,
                "stats": r.stats,
                "requirements": clean(n.requirements),
                "explanation": clean(n.explanation),
                "categories": " ".join(cats),
                "evidence": evidence.get(id(n), NO_EVIDENCE),
                "facts": facts,
                "band": band(n.score, invalid=n.is_leaf and not n.valid_score),
                # the root, and the sections that lost points, open: failures are a click away
                "open": r.depth == 0 or (r.depth == 1 and r.stats.verdict != "pass"),
                "override": leaf_override(n) if n.is_leaf else None,
            }
        )
    s = ctx.summary
    run = ctx.run
    judge = ctx.judge
    sub = ctx.submission
    root_band = band(s.score)
    overrides = [
        {
            "id": clip(leaf.id, 200),
            "index": index.get(id(leaf), 0),
            "verdict": o.verdict,
            "judge": o.judge_verdict,
            "by": clip(o.by, 100),
            "at": o.at,
            "reason": clip(o.reason, 500),
        }
        for leaf, o in overrides_in(ctx.root)
    ]
    view = {
        "title": f"reprobot report: {clean(ctx.paper_id or ctx.root.id)}",
        "csp": Markup(page_csp("report")),
        "paper": clean(ctx.paper_id or ctx.root.id),
        "headline": headline_of(ctx, with_caveats=False),
        "score": formatting.pct(s.score),
        "coverage": formatting.pct(s.coverage),
        "mode": "Code-Dev" if ctx.mode == "code-dev" else "full rubric",
        "mode_known": ctx.mode_known,
        "summary": s,
        "categories": [(c, category_slug(c.category)) for c in s.by_category.values()],
        "all_categories": [(c, category_slug(c)) for c in TASK_CATEGORIES],
        "run": run,
        "run_duration": formatting.duration(run.duration_s) if run else None,
        "gpu": json.dumps(run.gpu, sort_keys=True) if run and run.gpu else "none",
        "judge": judge,
        "cost": formatting.usd(judge.cost_usd) if judge else None,
        "blacklist": ctx.blacklist,
        "submission": sub,
        "missing": ctx.missing,
        "problems": ctx.problems,
        "failing": [_leaf_row(f, index) for f in ctx.failing[:TOP_FAILING]],
        "failing_total": len(ctx.failing),
        "invalid": [_leaf_row(f, index) for f in ctx.invalid[:TOP_INVALID]],
        "overrides": overrides,
        "outputs": run_outputs(ctx),
        "band": root_band,
        "band_label": BAND_LABELS[root_band],
        "threshold": formatting.pct(sub.pass_threshold, 0) if sub and sub.pass_threshold else None,
        "links": report_links(ctx),
        "previous": previous_run(results_root, ctx.result_dir),
        "attempts": run_attempts(ctx),
        "protocol": judge.protocol if judge else None,
    }
    template = html_env().get_template("report.html.j2")
    return template.render(
        v=view,
        rows=rows,
        pct=formatting.pct,
        weight=formatting.weight,
        when=formatting.when,
        size=_size,
        script=script_markup("report"),
    )


def write_html_report_ctx(
    ctx: ReportContext, *, out: Path | None = None, results_root: Path | None = None
) -> Path:
    """Write the report (default RESULT_DIR/report.html), replacing any earlier one whole."""
    out = out if out is not None else ctx.result_dir / REPORT_HTML
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(render_html_report(ctx, results_root=results_root), encoding="utf-8")
    tmp.replace(out)
    return out
