"""The HTML report is one self-contained file: no external resource of any kind (links only to the
pages submission.json names: the PR and its commit), a strict CSP, the whole tree (every leaf, with
explanation and cited evidence), and a dummy judge stated in a banner."""

from __future__ import annotations

import re
from typing import Any

from report_fixtures import JUDGE_SUMMARY, synthetic_tree

from bot.report import load_context, write_html_report


def test_self_contained_whole_tree(result_dir: Any) -> None:
    folder = result_dir(synthetic_tree(sections=2, subsections=2, leaves=3))
    html = write_html_report(folder).read_text(encoding="utf-8")
    assert not re.search(r"""\bsrc\s*=\s*["']?(https?:|//)""", html)
    external = set(re.findall(r"""\bhref\s*=\s*["']?((?:https?:)?//[^"' >]*)""", html))
    pr = "https://github.invalid/org/repo/pull/7"
    assert external == {pr, "https://github.invalid/org/repo/commit/0123456789abcdef0123456789abcdef01234567"}
    assert "<link" not in html and "@import" not in html and "default-src 'none'" in html
    ctx = load_context(folder)
    assert html.count('class="node leaf"') == ctx.summary.leaves
    assert html.count("src/model.py") >= ctx.summary.leaves - ctx.summary.invalid
    assert "caveat-banner" not in html


def test_dummy_banner(result_dir: Any) -> None:
    folder = result_dir(synthetic_tree(1, 1, 2), summary=dict(JUDGE_SUMMARY, dummy=True))
    html = write_html_report(folder).read_text(encoding="utf-8")
    assert "caveat-banner" in html and "dummy judge" in html
