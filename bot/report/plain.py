"""Plain text, for places that render no Markdown: the check's title, the local forge's git note and
the terminal. No Markdown escapes and no zero-width spaces here: untrusted text is only cleaned
(control and bidirectional characters dropped, one line, bounded).
"""

from __future__ import annotations

from bot.report.escaping import clip
from bot.report.formatting import headline, overridden_text, pct
from bot.report.model import ReportContext
from bot.report.overrides import overrides_in

NOTE_OVERRIDES = 5  # overridden leaves listed in a note (the count says how many more)


def one_line(text: object, limit: int) -> str:
    return " ".join(clip(text, limit).split())


def paper_of(ctx: ReportContext) -> str:
    return one_line(ctx.paper_id or ctx.root.id, 80)


def overridden_count(ctx: ReportContext) -> int:
    return len({leaf.id for leaf, _ in overrides_in(ctx.root)})


def headline_of(ctx: ReportContext, *, with_caveats: bool = True, paper: str | None = None) -> str:
    """``42.0% · 12/29 leaves · tiny-moons``, then the mode, coverage, overrides, caveats.
    ``paper``: the paper's id as the caller escaped it (plain text by default)."""
    s = ctx.summary
    extras = ["Code-Dev" if ctx.mode == "code-dev" else ""]
    if s.coverage < 0.9995:
        extras.append(f"coverage {pct(s.coverage)}")
    extras.append(overridden_text(overridden_count(ctx)))
    if with_caveats and ctx.judge:
        extras += [f"CAVEAT: {one_line(c, 120)}" for c in ctx.judge.caveats]
    if ctx.run is not None and ctx.run.status == "infra_error":
        extras.append("infrastructure error")
    return headline(s.score, s.passed, s.leaves, paper if paper is not None else paper_of(ctx), extras=extras)


def digest(ctx: ReportContext, *, report_url: str | None = None) -> str:
    """The grade in a few plain lines: headline, facts, each category, overrides, the report."""
    s = ctx.summary
    judge = ctx.judge
    facts = [f"coverage {pct(s.coverage)}", "Code-Dev" if ctx.mode == "code-dev" else "full rubric"]
    if judge and judge.protocol:
        facts.append(f"{one_line(judge.protocol, 40)} protocol")
    if judge and judge.model:
        facts.append(f"judge {one_line(judge.model, 60)}")
    lines = [headline_of(ctx), " · ".join(facts)]
    width = max((len(c.category) for c in s.by_category.values()), default=0)
    for c in s.by_category.values():
        failed = c.leaves - c.passed - c.invalid
        not_graded = f", {c.invalid} not graded" if c.invalid else ""
        counts = f"{c.passed}/{c.leaves} passed, {failed} failed{not_graded}"
        lines.append(f"  {c.category:<{width}}  {pct(c.score):>6}  {counts}")
    overridden = list(overrides_in(ctx.root))
    for leaf, o in overridden[:NOTE_OVERRIDES]:
        lines.append(
            f"overridden: {one_line(leaf.id, 60)} -> {o.verdict} by {one_line(o.by, 40)} "
            f"(the judge said {o.judge_verdict}): {one_line(o.reason, 120)}"
        )
    if len(overridden) > NOTE_OVERRIDES:
        lines.append(f"overridden: …and {len(overridden) - NOTE_OVERRIDES} more (see the report)")
    if report_url and not any(ch.isspace() for ch in report_url) and len(report_url) <= 2000:
        lines.append(f"report: {report_url}")
    return "\n".join(lines) + "\n"
