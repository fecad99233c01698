"""The PR comment and the check-run output (GitHub-flavoured Markdown, from ``templates/``).

Both must fit GitHub's limits for any rubric. The header (score, categories, top failures, facts) is
small and bounded; the score tree is rendered at the most detailed level of ``tree.LEVELS`` that
fits the remaining budget, and as a last resort cut at a line boundary with a pointer to the full
report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from bot.github.api import MAX_COMMENT
from bot.intake.commands import COMMANDS
from bot.report import formatting
from bot.report.escaping import clip, md_code, md_inline
from bot.report.formatting import ICONS, VERDICT_ICONS, band
from bot.report.history import HistoryEntry, comment_history
from bot.report.leaf_evidence import NO_EVIDENCE, LeafEvidence
from bot.report.links import report_links
from bot.report.model import LeafInfo, ReportContext
from bot.report.overrides import leaf_override, overrides_in
from bot.report.plain import digest, headline_of
from bot.report.templating import markdown_env
from bot.report.tree import LEVELS, NodeStats, TreeStyle, node_stats, tree_rows
from bot.results import BLACKLIST, JUDGE_SUMMARY, REPORT_HTML, RUN_METADATA, SUBMISSION_RECORD
from judge.graded import GradedNode

COMMENT_MARKER = "<!-- reprobot:score-comment -->"
COMMENT_LIMIT = MAX_COMMENT  # GitHub's limit on a comment body
CHECK_TEXT_LIMIT = 65_535
CHECK_TITLE_LIMIT = 255
TOP_FAILING = 10
TOP_INVALID = 5
TOP_VIOLATIONS = 10


@dataclass(frozen=True, slots=True)
class CheckOutput:
    title: str  # <= 255 chars
    summary: str  # <= 65,535 chars
    text: str  # <= 65,535 chars
    digest: str = ""  # the same in plain text (score, categories, link), for the local forge's git note


_MISSING_WHAT = {
    JUDGE_SUMMARY: "judge model, cost and mode unknown",
    RUN_METADATA: "no reproduction facts",
    BLACKLIST: "the blacklist scan result is unknown",
    SUBMISSION_RECORD: "submitter and commit unknown",
}


def icon(stats: NodeStats, node: GradedNode | None = None) -> str:
    """A leaf's verdict (PaperBench's 0/1); an internal node's band (none, partial, full), as the
    HTML badges show them."""
    if node is not None and not node.is_leaf:
        return ICONS[band(node.score)]
    return VERDICT_ICONS[stats.verdict]


def override_md(node: GradedNode) -> Markup:
    """A leaf's override, after its verdict: who settled it and what the judge had said."""
    found = leaf_override(node)
    if found is None:
        return Markup("")
    return Markup(
        f" ✋ <i>overridden by {md_inline(found.by, 60)} (the judge said {found.judge_verdict}): "
        f"{md_inline(found.reason, 200)}</i>"
    )


def evidence_md(ev: LeafEvidence, style: TreeStyle) -> Markup:
    """A leaf's citations on one Markdown line (empty when the tree leaves explanations out)."""
    if style.explanation_chars == 0:
        return Markup("")
    if ev.none:
        return Markup("<br>📎 <i>no evidence cited</i>")
    quote_chars = 160 if style.explanation_chars is None else min(160, style.explanation_chars // 2)
    shown = ev.citations[:3] if style.explanation_chars and style.explanation_chars < 1000 else ev.citations
    parts = []
    for c in shown:
        text = f"{md_code(c.where, 200)}"
        if c.quote:
            text += f" “{md_inline(' '.join(c.quote.split()), quote_chars)}”"
        if c.found is False:
            text += " **(quote not found in the submission)**"
        parts.append(text)
    more = len(ev.citations) - len(shown) + ev.more
    tail = f" · …{more} more" if more else ""
    return Markup("<br>📎 " + " · ".join(parts) + tail)


def _failing_row(leaf: LeafInfo) -> dict[str, Any]:
    return {
        "lost": -leaf.lost,
        "share": leaf.share,
        "requirement": md_inline(leaf.node.requirements, 200),
        "category": leaf.node.task_category or "",
        "explanation": md_inline(leaf.node.explanation or "(no explanation)", 240),
    }


def _run_facts(ctx: ReportContext) -> dict[str, Any] | None:
    run = ctx.run
    if run is None:
        return None
    gpu = "none"
    if run.gpu:
        names = run.gpu.get("names") or run.gpu.get("devices") or run.gpu.get("name")
        requested = run.gpu.get("requested") or run.gpu.get("spec")
        if isinstance(names, list):
            gpu = ", ".join(str(n) for n in names[:4]) or "requested, none seen"
        elif names:
            gpu = str(names)
        elif requested:
            gpu = f"requested {requested}"
        else:
            gpu = "yes"
    yes_no = {True: "**yes**", False: "no"}
    return {
        "duration": formatting.duration(run.duration_s),
        "exit_code": "none" if run.exit_code is None else str(run.exit_code),
        "timed_out": yes_no[bool(run.timed_out)],
        "oom": yes_no[bool(run.oom_killed)],
        "gpu": clip(gpu, 120),
        "log_truncated": yes_no[bool(run.log_truncated)],
        "network": md_inline(run.egress.summary(), 400) if run.egress is not None else None,
        "notes": [md_inline(note, 400) for note in run.notes[:8]],  # disk limit, egress, collection caps
    }


def build_view(
    ctx: ReportContext, *, history: Sequence[HistoryEntry] | None = None, report_url: str | None = None
) -> dict[str, Any]:
    """Everything the Markdown templates show, computed once."""
    s = ctx.summary
    judge = ctx.judge
    failing = ctx.failing
    invalid = ctx.invalid
    bl = ctx.blacklist
    sub = ctx.submission
    sub_parts: list[str] = []
    if sub is not None:
        if sub.submitter:
            sub_parts.append(
                f"by {md_inline(sub.submitter, 80)}" + (" (human baseline)" if sub.human_baseline else "")
            )
        if sub.repository:
            sub_parts.append(f"repository {md_code(sub.repository, 120)}")
        if sub.head_sha:
            sub_parts.append(f"commit {md_code(sub.head_sha[:12])}")
    tokens = judge.tokens if judge else {}
    token_text = (
        ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in tokens.items() if v) if tokens else "n/a"
    )
    overridden = [
        {
            "id": md_code(leaf.id, 100),
            "verdict": o.verdict,
            "judge": o.judge_verdict,
            "by": md_inline(o.by, 60),
            "at": md_inline(formatting.when(o.at)),
            "reason": md_inline(o.reason, 300),
        }
        for leaf, o in overrides_in(ctx.root)
    ]
    view: dict[str, Any] = {
        "score": s.score,
        "coverage": s.coverage,
        "icon": "⚠️" if s.coverage < 0.999 else "📊",
        # the score first, as the check's title; only the paper's id is untrusted text here
        "heading": Markup(
            headline_of(ctx, with_caveats=False, paper=str(md_code(ctx.paper_id or ctx.root.id, 100)))
        ),
        "overridden": overridden,
        "paper_code": md_code(ctx.paper_id or ctx.root.id, 100),
        "mode_label": "Code-Dev" if ctx.mode == "code-dev" else "full rubric",
        "mode_text": (
            "Code-Dev (Code Development requirements only)" if ctx.mode == "code-dev" else "full rubric"
        )
        + ("" if ctx.mode_known else " (inferred: no mode recorded)"),
        "caveats": list(judge.caveats) if judge else [],
        "protocol": md_inline(judge.protocol, 40) if judge and judge.protocol else None,
        "links": [
            Markup(f"[{md_inline(link.label)}]({link.url})")
            for link in report_links(ctx, report_url=report_url, local=False)
            if link.key not in ("report", "pr")  # the comment sits on the PR; the report link has its line
        ],
        "commands": [Markup(f"`/reprobot {c}`") for c in COMMANDS],
        "infra_error": (
            md_inline(ctx.run.error or "unknown error", 300)
            if ctx.run is not None and ctx.run.status == "infra_error"
            else None
        ),
        "blocked": bool(bl and bl.blocked),
        "leaves": s.leaves,
        "passed": s.passed,
        "failed": s.leaves - s.passed - s.invalid,
        "invalid_leaves": s.invalid,
        "missing": [{"file": f, "what": _MISSING_WHAT.get(f, "")} for f in ctx.missing],
        "problems": list(ctx.problems),
        "submission_line": Markup(" · ".join(sub_parts)) if sub_parts else None,
        "history": comment_history(s.score, sub.head_sha if sub else None, history),
        "categories": [
            {
                "category": c.category,
                "score": c.score,
                "coverage": c.coverage,
                "passed": c.passed,
                "failed": c.leaves - c.passed - c.invalid,
                "invalid": c.invalid,
            }
            for c in s.by_category.values()
        ],
        "top_failing": [_failing_row(f) for f in failing[:TOP_FAILING]],
        "more_failing": max(0, len(failing) - TOP_FAILING),
        "top_invalid": [_failing_row(f) for f in invalid[:TOP_INVALID]],
        "more_invalid": max(0, len(invalid) - TOP_INVALID),
        "run": _run_facts(ctx),
        "blacklist": None
        if bl is None
        else {
            "policy": bl.policy,
            "count": len(bl.violations),
            "violations": [
                {
                    "source": clip(x.source, 40),
                    "file": clip(x.file, 120),
                    "line": "" if x.line is None else x.line,
                    "url": clip(x.url, 160),
                    "matched": clip(x.matched, 160),
                }
                for x in bl.violations[:TOP_VIOLATIONS]
            ],
            "more": max(0, len(bl.violations) - TOP_VIOLATIONS),
        },
        "judge": None
        if judge is None
        else {
            "model_text": md_code(judge.model, 100) if judge.model else "model unknown",
            "caveats": list(judge.caveats),
            "cost": formatting.usd(judge.cost_usd),
            "protocol": md_inline(judge.protocol, 40) if judge.protocol else None,
            "tokens": token_text,
            "prompt_version": judge.prompt_version,
        },
        "report_url": _safe_url(report_url),
        "tree_note": None,
    }
    return view


def _safe_url(url: str | None) -> Markup | None:
    """Only http(s) URLs without characters that could end a Markdown link destination."""
    if not url or not url.startswith(("https://", "http://")):
        return None
    if any(c in url for c in " \t\n\r<>()[]\"'`\\"):
        return None
    return Markup(url)


def render_tree(ctx: ReportContext, style: TreeStyle, stats: dict[int, NodeStats] | None = None) -> str:
    template = markdown_env().get_template("tree.md.j2")
    rows = tree_rows(ctx, style, stats)
    index = ctx.evidence_index()

    def evidence(node: GradedNode) -> Markup:
        return evidence_md(index.get(id(node), NO_EVIDENCE), style)

    return (
        template.render(rows=rows, style=style, icon=icon, evidence=evidence, override=override_md).strip()
        + "\n"
    )


def _cut(text: str, budget: int, pointer: str) -> str:
    """The text cut at a line boundary so that text + pointer fits the budget."""
    room = budget - len(pointer)
    if room <= 0:
        return pointer[:budget]
    cut = text[:room]
    nl = cut.rfind("\n")
    if nl > 0:
        cut = cut[: nl + 1]
    return cut + pointer


def _pointer(report_url: Markup | None, what: str) -> str:
    where = f"[the full report]({report_url})" if report_url else f"the full report (`{REPORT_HTML}`)"
    return f"\n\n> [!NOTE]\n> {what} GitHub's size limit; see {where}.\n"


def fit_tree(ctx: ReportContext, budget: int, report_url: Markup | None) -> tuple[str, TreeStyle | None]:
    """The most detailed tree rendering within ``budget`` characters, and the level used."""
    stats = node_stats(ctx)
    for style in LEVELS:
        text = render_tree(ctx, style, stats)
        if len(text) <= budget:
            return text, style
    text = render_tree(ctx, LEVELS[-1], stats)
    # Cutting inside nested <details> leaves tags open; GitHub closes them, and the pointer follows.
    return _cut(text, budget, _pointer(report_url, "The tree was cut here to stay within")), None


def _tree_note(style: TreeStyle | None) -> str | None:
    if style is None:
        return "The tree is too large for a comment and was cut; the full report has all of it."
    if style is LEVELS[0]:
        return None
    return f"Shortened to fit GitHub's size limit ({style.name}); the full report has every detail."


def _render_with_tree(
    template_name: str, view: dict[str, Any], ctx: ReportContext, limit: int, **extra: Any
) -> str:
    template = markdown_env().get_template(template_name)
    skeleton = template.render(v={**view, "tree_note": "x" * 120}, tree=Markup(""), **extra)
    tree, style = fit_tree(ctx, limit - len(skeleton) - 16, view["report_url"])
    out = template.render(v={**view, "tree_note": _tree_note(style)}, tree=Markup(tree), **extra)
    if len(out) > limit:  # never expected: the header is bounded; belt and braces
        out = _cut(out, limit, _pointer(view["report_url"], "This comment was cut to stay within"))
    return out


def render_pr_comment_ctx(
    ctx: ReportContext,
    *,
    history: Sequence[HistoryEntry] | None = None,
    report_url: str | None = None,
    limit: int = COMMENT_LIMIT,
) -> str:
    view = build_view(ctx, history=history, report_url=report_url)
    return _render_with_tree("pr_comment.md.j2", view, ctx, limit, marker=Markup(COMMENT_MARKER))


def check_title(ctx: ReportContext) -> str:
    """The score first ("42.0% · 151/361 leaves · tiny-moons"), what qualifies it after: GitHub's
    check list cuts long titles, and the score must survive the cut."""
    return clip(headline_of(ctx).replace("\n", " "), CHECK_TITLE_LIMIT)


def render_check_output_ctx(
    ctx: ReportContext, *, report_url: str | None = None, limit: int = CHECK_TEXT_LIMIT
) -> CheckOutput:
    view = build_view(ctx, report_url=report_url)
    summary = markdown_env().get_template("check_summary.md.j2").render(v=view)
    if len(summary) > limit:
        summary = _cut(summary, limit, _pointer(view["report_url"], "This summary was cut to stay within"))
    text, style = fit_tree(ctx, limit - 400, view["report_url"])
    note = _tree_note(style)
    if note:
        text = f"<sub>{note}</sub>\n\n{text}"
    return CheckOutput(
        title=check_title(ctx),
        summary=summary,
        text=text[:limit] if len(text) > limit else text,
        digest=digest(ctx, report_url=report_url),
    )
