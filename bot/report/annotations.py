"""Check-run annotations from the evidence each verdict cites: file:line on the submitted files.

Failing leaves first (most weight lost first), then leaves that could not be graded, then passing
ones; a quote reprobot could not find in the submission is a warning whatever the verdict. The
run's log is not a file of the pull request, so log excerpts are not annotated (the report shows
them). GitHub takes at most 50 annotations per request; ``CheckRunOutput.requests`` splits them, and
``MAX_ANNOTATIONS`` bounds how many requests one check run costs.
"""

from __future__ import annotations

from pathlib import Path

from bot.github.api import Annotation, AnnotationLevel
from bot.report.escaping import clip
from bot.report.model import LeafInfo, ReportContext, load_context

MAX_ANNOTATIONS = 150  # three requests of 50


def _ordered(ctx: ReportContext) -> list[LeafInfo]:
    passing = sorted(
        (leaf for leaf in ctx.leaves if leaf.verdict == "pass"), key=lambda x: (-x.share, x.node.id)
    )
    return [*ctx.failing, *ctx.invalid, *passing]


def citation_annotations(ctx: ReportContext, limit: int = MAX_ANNOTATIONS) -> tuple[Annotation, ...]:
    out: list[Annotation] = []
    for leaf in _ordered(ctx):
        verdict_level: AnnotationLevel = {"fail": "failure", "invalid": "warning"}.get(leaf.verdict, "notice")  # type: ignore[assignment]
        for c in leaf.evidence.citations:
            if c.is_log:
                continue
            level: AnnotationLevel = "warning" if c.found is False else verdict_level
            start = c.start or 1
            end = c.end or start
            found = " The quote was NOT found in the submission." if c.found is False else ""
            message = (
                f"{leaf.verdict.upper()}: {clip(leaf.node.requirements, 400)}\n\n"
                f"Judge: {clip(leaf.node.explanation or '(no explanation)', 1500)}\n\n"
                f"Cited: {clip(c.quote, 600) or '(no quote)'}{found}"
            )
            title = f"reprobot {leaf.verdict}: {clip(leaf.node.id, 80)}" + (
                "" if c.start else " (no line given)"
            )
            out.append(Annotation(c.file, start, end, level, title, message))
            if len(out) >= limit:
                return tuple(out)
    return tuple(out)


def annotations_for(result_dir: Path) -> tuple[Annotation, ...]:
    """The annotations of a graded result folder (none when it cannot be read)."""
    from bot.report.model import ReportError

    try:
        return citation_annotations(load_context(result_dir))
    except ReportError:
        return ()
