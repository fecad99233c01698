"""The leaderboard ranks graded result folders per paper and overall by the mean over each
submitter's runs (with its standard error) beside best and latest, each mode and judge protocol
apart, human baselines marked (flag or configured list), dummy-judge results left out unless asked
for and then ranked apart and marked in every format (Markdown, HTML, CSV, JSON), broken folders
skipped with a reason, and submitter names escaped in Markdown and HTML."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from markdown_it import MarkdownIt

from bot.cli import main
from bot.report.leaderboard import Track, build_leaderboard, render_html, render_markdown

FULL, CODE_DEV = Track("full", "paperbench"), Track("code-dev", "paperbench")


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
    protocol: str = "paperbench",
) -> None:
    d = root / name
    d.mkdir(parents=True)
    (d / "judge_summary.json").write_text(
        json.dumps(
            {"paper_id": paper, "mode": mode, "protocol": protocol, "score": score, "coverage": 1.0}
            | {"dummy": dummy, "model": "m"}
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
    p1 = {s.submitter: s for s in lb.boards[FULL][0].standings}
    assert p1["alice"].best.score == 0.5 and p1["alice"].latest.score == 0.3 and p1["alice"].runs == 2
    assert p1["bob"].human_baseline and not p1["alice"].human_baseline
    assert "dave" not in p1  # dummy judge left out
    overall = {r.submitter: r for r in lb.overall[FULL]}
    assert overall["bob"].mean_best == (0.4 + 0.8) / 2 and overall["alice"].mean_best == 0.5 / 2
    assert lb.overall[FULL][0].submitter == "bob"
    cd = lb.boards[CODE_DEV][0].standings
    assert [s.submitter for s in cd] == ["carol"] and cd[0].human_baseline  # from the configured list
    assert any("broken" in s for s in lb.skipped) and any("dummy" in s for s in lb.skipped)


def test_markdown_and_html_escape_submitters(tmp_path: Path) -> None:
    lb = build_leaderboard(_results(tmp_path))
    md = render_markdown(lb)
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(md)
    assert "<img" not in html and not re.search(r"@[A-Za-z]", html)
    assert set(re.findall(r'<a href="([^"]*)"', html)) == {"https://github.invalid/o/r/pull/3"}
    assert "👤" in md and "## Code-Dev · paperbench" in md and "## Full rubric · paperbench" in md
    page = render_html(lb)
    assert "<img" not in page and "&lt;img src=x&gt;" in page and "human baseline" in page


def test_cli(tmp_path: Path) -> None:
    results = _results(tmp_path)
    runner = CliRunner()
    # Issue 22: printed to the terminal it is plain text (no Markdown escapes), and its default view
    # is what `reprobot init` writes (leaderboard.include_dummy: true): dummy rows ranked apart.
    r = runner.invoke(main, ["leaderboard", "--results", str(results)])
    assert r.exit_code == 0 and "\nreprobot leaderboard\n" in r.output and "\\" not in r.output
    assert "dave" in r.output and "[DUMMY]" in r.output
    args = ["leaderboard", "--results", str(results), "--no-include-dummy", "--format", "md"]
    r = runner.invoke(main, args)
    assert r.exit_code == 0 and "# reprobot leaderboard" in r.output and "dave" not in r.output
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
    dummy_track = next(t for t in lb.tracks if t.marker)
    dave = next(s for s in lb.boards[dummy_track][0].standings if s.submitter == "dave")
    assert dave.best.caveats and "dummy judge" in dave.best.caveats[0]
    assert "🧪 DUMMY" in render_markdown(lb) and ">DUMMY<" in render_html(lb)


def test_mean_and_standard_error_over_three_runs(tmp_path: Path) -> None:
    r = tmp_path / "results"
    for i, score in enumerate((0.2, 0.5, 0.8)):
        _entry(r, f"a{i}", paper="p1", who="alice", score=score, at=f"2025-01-0{i + 1}")
    _entry(r, "b0", paper="p1", who="bob", score=0.9, at="2025-01-01")
    lb = build_leaderboard(r)
    alice, bob = (next(s for s in lb.boards[FULL][0].standings if s.submitter == w) for w in ("alice", "bob"))
    assert alice.runs == 3 and abs(alice.mean - 0.5) < 1e-9
    assert alice.se is not None and abs(alice.se - 0.3 / 3**0.5) < 1e-9  # sd 0.3, n 3
    assert alice.best.score == 0.8 and alice.latest.score == 0.8 and bob.se is None
    assert "50.0% ± 17.3" in render_markdown(lb)


def test_protocols_never_mixed_and_marks_in_every_format(tmp_path: Path) -> None:
    from bot.report.leaderboard_export import to_csv, to_json

    r = tmp_path / "results"
    _entry(r, "a", paper="p1", who="alice", score=0.5, at="2025-01-01")
    _entry(r, "b", paper="p1", who="bob", score=0.9, at="2025-01-01", protocol="reprobot")
    _entry(r, "d", paper="p1", who="dave", score=1.0, at="2025-01-01", dummy=True)
    lb = build_leaderboard(r, include_dummy=True)
    assert [(t.protocol, t.marker) for t in lb.tracks] == [
        ("paperbench", ""),
        ("reprobot", ""),
        ("paperbench", "DUMMY"),
    ]  # the dummy judge's grades rank apart by their caveat, under the protocol they were made with
    for t in lb.tracks:
        assert len(lb.boards[t][0].standings) == 1  # three rankings of one, never one of three
    assert "🧪 DUMMY" in render_markdown(lb) and ">DUMMY<" in render_html(lb)
    csv_rows = to_csv(lb).splitlines()
    assert csv_rows[0].startswith("mode,protocol,dummy_judge,no_paper,paper_id,rank,submitter")
    dave = next(line for line in csv_rows if ",dave," in line)
    assert dave.startswith("full,paperbench,True,False,p1,1,dave")
    data = json.loads(to_json(lb))
    assert {(p["submitter"], p["dummy_judge"]) for p in data["papers"]} == {
        ("alice", False),
        ("bob", False),
        ("dave", True),
    }
    runner = CliRunner()
    for fmt in ("csv", "json"):
        res = runner.invoke(main, ["leaderboard", "--results", str(r), "--include-dummy", "--format", fmt])
        assert res.exit_code == 0 and "dave" in res.output


def test_csv_neutralises_formulas(tmp_path: Path) -> None:
    from bot.report.leaderboard_export import to_csv

    r = tmp_path / "results"
    _entry(r, "a", paper="p1", who="=HYPERLINK(1)", score=0.5, at="2025-01-01")
    assert ",'=HYPERLINK(1)," in to_csv(build_leaderboard(r))
