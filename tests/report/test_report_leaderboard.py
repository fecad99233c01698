"""The leaderboard ranks graded result folders per paper and overall, best and latest per submitter,
full and Code-Dev apart, human baselines marked (flag or configured list), dummy-judge results left
out, broken folders skipped with a reason, and submitter names escaped in Markdown and HTML."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from markdown_it import MarkdownIt

from bot.cli import main
from bot.report.leaderboard import build_leaderboard, render_html, render_markdown


def _entry(
    root: Path,
    name: str,
    *,
    paper: str,
    who: str,
    score: float,
    at: str,
    mode: str = "full",
    human: bool = False,
    dummy: bool = False,
) -> None:
    d = root / name
    d.mkdir(parents=True)
    (d / "judge_summary.json").write_text(
        json.dumps(
            {"paper_id": paper, "mode": mode, "score": score, "coverage": 1.0, "dummy": dummy, "model": "m"}
        )
    )
    (d / "submission.json").write_text(
        json.dumps(
            {
                "paper_id": paper,
                "submitter": who,
                "mode": mode,
                "human_baseline": human,
                "graded_at": at,
                "pr_number": 3,
                "url": "https://github.invalid/o/r/pull/3",
                "head_sha": "abc",
            }
        )
    )


def _results(tmp_path: Path) -> Path:
    r = tmp_path / "results"
    _entry(r, "a1", paper="p1", who="alice", score=0.5, at="2025-01-01")
    _entry(r, "a2", paper="p1", who="alice", score=0.3, at="2025-01-02")
    _entry(r, "b1", paper="p1", who="bob", score=0.4, at="2025-01-01", human=True)
    _entry(r, "b2", paper="p2", who="bob", score=0.8, at="2025-01-03", human=True)
    _entry(r, "c1", paper="p1", who="carol", score=0.9, at="2025-01-01", mode="code-dev")
    _entry(r, "d1", paper="p1", who="dave", score=1.0, at="2025-01-01", dummy=True)
    _entry(r, "h1", paper="p2", who="<img src=x>@evil [x](https://evil.invalid)", score=0.1, at="2025-01-01")
    (r / "broken").mkdir()
    (r / "broken" / "judge_summary.json").write_text("{}")
    return r


def test_best_latest_overall_and_modes(tmp_path: Path) -> None:
    lb = build_leaderboard(_results(tmp_path), human_users=["Carol"])
    p1 = {s.submitter: s for s in lb.boards["full"][0].standings}
    assert p1["alice"].best.score == 0.5 and p1["alice"].latest.score == 0.3 and p1["alice"].runs == 2
    assert p1["bob"].human_baseline and not p1["alice"].human_baseline
    assert "dave" not in p1  # dummy judge left out
    overall = {r.submitter: r for r in lb.overall["full"]}
    assert overall["bob"].mean_best == (0.4 + 0.8) / 2 and overall["alice"].mean_best == 0.5 / 2
    assert lb.overall["full"][0].submitter == "bob"
    cd = lb.boards["code-dev"][0].standings
    assert [s.submitter for s in cd] == ["carol"] and cd[0].human_baseline  # from the configured list
    assert any("broken" in s for s in lb.skipped) and any("dummy" in s for s in lb.skipped)


def test_markdown_and_html_escape_submitters(tmp_path: Path) -> None:
    lb = build_leaderboard(_results(tmp_path))
    md = render_markdown(lb)
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(md)
    assert "<img" not in html and not re.search(r"@[A-Za-z]", html)
    assert set(re.findall(r'<a href="([^"]*)"', html)) == {"https://github.invalid/o/r/pull/3"}
    assert "👤" in md and "## Code-Dev" in md and "## Full rubric" in md
    page = render_html(lb)
    assert "<img" not in page and "&lt;img src=x&gt;" in page and "human baseline" in page


def test_cli(tmp_path: Path) -> None:
    results = _results(tmp_path)
    runner = CliRunner()
    r = runner.invoke(main, ["leaderboard", "--results", str(results)])
    assert r.exit_code == 0 and "# reprobot leaderboard" in r.output
    out = tmp_path / "lb.html"
    r = runner.invoke(
        main,
        ["leaderboard", "--results", str(results), "--format", "html", "--out", str(out), "--include-dummy"],
    )
    assert r.exit_code == 0 and "dave" in out.read_text()
    r = runner.invoke(main, ["leaderboard", "--results", str(tmp_path / "nope")])
    assert r.exit_code == 2


def test_rows_with_caveats_are_marked_in_every_format(tmp_path: Path) -> None:
    lb = build_leaderboard(_results(tmp_path), include_dummy=True)
    dave = next(s for s in lb.boards["full"][0].standings if s.submitter == "dave")
    assert dave.best.caveats and "dummy judge" in dave.best.caveats[0]
    assert "⚠️ dummy judge" in render_markdown(lb).replace("\\", "")
    assert 'class="caveat"' in render_html(lb) and "dummy judge" in render_html(lb)
