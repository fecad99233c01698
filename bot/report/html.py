"""The self-contained HTML report: the whole tree, every explanation and the evidence it cited.

One file, inline CSS and JS, no network; it links the run's log and metadata
beside it. Jinja2 autoescaping covers all text; the script only
toggles attributes and never builds HTML from data. The script honours a URL fragment such as
``report.html#expand=NODE_ID&verdict=fail&category=code-execution&q=adam`` (used by the browser
tests and handy for links from the PR comment).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.report import formatting
from bot.report.escaping import clean, clip
from bot.report.formatting import DEFAULT_PASS_THRESHOLD, band
from bot.report.leaf_evidence import CITATIONS_KEY, NO_EVIDENCE
from bot.report.links import report_links, run_attempts
from bot.report.model import ReportContext
from bot.report.templating import html_env
from bot.report.tree import LEVELS, node_stats, tree_rows
from bot.results import REPORT_HTML
from judge.rubric import TASK_CATEGORIES

EVIDENCE_ITEMS = 200
META_CHARS = 4000


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
        if key == CITATIONS_KEY or value is None:
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


def threshold_of(ctx: ReportContext) -> float:
    sub = ctx.submission
    return sub.pass_threshold if sub and sub.pass_threshold is not None else DEFAULT_PASS_THRESHOLD


def render_html_report(ctx: ReportContext) -> str:
    stats = node_stats(ctx)
    full = LEVELS[0]
    threshold = threshold_of(ctx)
    evidence = ctx.evidence_index()
    rows = []
    for i, r in enumerate(tree_rows(ctx, full, stats)):
        n = r.node
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
                "band": band(n.score, threshold, invalid=n.is_leaf and not n.valid_score),
            }
        )
    s = ctx.summary
    run = ctx.run
    judge = ctx.judge
    sub = ctx.submission
    view = {
        "title": f"reprobot report: {clean(ctx.paper_id or ctx.root.id)}",
        "paper": clean(ctx.paper_id or ctx.root.id),
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
        "failing": ctx.failing[:20],
        "band": band(s.score, threshold),
        "threshold": formatting.pct(threshold, 0),
        "links": report_links(ctx),
        "attempts": run_attempts(ctx),
        "protocol": judge.protocol if judge else None,
    }
    template = html_env().get_template("report.html.j2")
    return template.render(v=view, rows=rows, pct=formatting.pct, weight=formatting.weight)


def write_html_report_ctx(ctx: ReportContext, *, out: Path | None = None) -> Path:
    out = out if out is not None else ctx.result_dir / REPORT_HTML
    out.write_text(render_html_report(ctx), encoding="utf-8")
    return out
