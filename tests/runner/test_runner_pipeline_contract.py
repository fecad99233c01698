"""The pipeline follows PaperBench's rules around the run, with no container where none is due.

Invariants: a submission without reproduce.sh is graded, not rejected (every leaf in grade.json,
metadata.json says "no reproduce.sh", exit 0); Code-Dev mode runs no reproduction at all (proved
by an unreachable engine); PaperBench's monitor hit in the agent's log under policy fail gives
the paper a score of 0 (graded, not rejected), reported beside reprobot's own scan; a paper's own
`reproduction_timeout_s` (config.yaml) wins over the 24 h default.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main

ROOT = Path(__file__).resolve().parents[2]
GOOD = ROOT / "examples" / "submissions" / "tiny-moons-good"
NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def grade(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["grade", *args, "--judge", "dummy"], env=env)
    return result.exit_code, result.stdout, result.stderr


def leaves(node: dict[str, object]) -> int:
    subs = node.get("sub_tasks") or []
    assert isinstance(subs, list)
    return 1 if not subs else sum(leaves(s) for s in subs)


def test_no_reproduce_sh_is_graded_not_rejected(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    shutil.copytree(GOOD, sub)
    (sub / "reproduce.sh").unlink()
    out = tmp_path / "out"
    code, stdout, stderr = grade(str(sub), "--paper", "tiny-moons", "--out", str(out), env=NO_ENGINE)
    assert code == 0, stderr
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["status"] == "not_run" and meta["not_run_reason"] == "no reproduce.sh"
    tree = json.loads((out / "grade.json").read_text())
    rubric = json.loads((ROOT / "rubrics" / "tiny-moons" / "rubric.json").read_text())
    assert leaves(tree) == leaves(rubric)
    assert (out / "report.html").is_file() and "not run: no reproduce.sh" in (out / "report.html").read_text()


def test_code_dev_runs_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, stderr = grade(
        str(GOOD), "--paper", "tiny-moons", "--out", str(out), "--code-dev", env=NO_ENGINE
    )
    assert code == 0, stderr  # an unreachable engine would have been an infrastructure error
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["status"] == "not_run" and meta["not_run_reason"] == "code-dev"


def test_agent_log_hit_under_fail_scores_zero(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    shutil.copytree(GOOD, sub)
    (sub / "reproduce.sh").unlink()
    (sub / "agent.log").write_text(
        "thinking\n$ git clone https://github.com/reprobot-examples/tiny-moons-reference\nCloning...\n"
    )
    config = tmp_path / "config.yaml"
    config.write_text("runner:\n  blacklist_policy: fail\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        [
            "--config",
            str(config),
            "grade",
            str(sub),
            "--paper",
            "tiny-moons",
            "--out",
            str(out),
            "--judge",
            "dummy",
        ],
        env=NO_ENGINE,
    )
    assert result.exit_code == 0, result.stderr
    assert "score 0" in result.stdout
    bl = json.loads((out / "blacklist.json").read_text())
    assert bl["score_zero"] is True and bl["blocked"] is False
    rules = {(v["source"], v["rule"]) for v in bl["violations"]}
    assert ("agent.log", "paperbench") in rules and ("agent.log", "reprobot") in rules
    summary = json.loads((out / "judge_summary.json").read_text())
    assert summary["score"] == 0.0
    caveats = summary["caveats"]
    assert any("PaperBench's monitor" in c and "judged " in c for c in caveats)  # the judged score is kept


def test_a_papers_own_timeout_wins_over_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.pipeline as lg
    from bot.settings import load_settings
    from judge.papers import PaperRegistry

    folder = tmp_path / "slow-paper"
    shutil.copytree(ROOT / "rubrics" / "tiny-moons", folder)
    (folder / "config.yaml").write_text("id: slow-paper\ntitle: Slow\nreproduction_timeout_s: 7200\n")
    settings = load_settings(environ={})
    paper = PaperRegistry(settings.papers.rubrics_dir).resolve(str(folder))
    seen: list[float] = []
    monkeypatch.setattr(lg, "reproduce", lambda root, out, options, **kw: seen.append(options.timeout_s))
    dummy = settings.judge.model_copy(update={"backend": "dummy"})
    grader = lg.LocalGrader(settings.model_copy(update={"judge": dummy}))
    grader.run(paper, GOOD, tmp_path / "out", "ref", False, lambda stage, detail: None)
    default = lg.PaperRegistry(settings.papers.rubrics_dir).resolve("tiny-moons")
    grader.run(default, GOOD, tmp_path / "out2", "ref", False, lambda stage, detail: None)
    assert seen == [7200.0, float(settings.runner.timeout_s)] and settings.runner.timeout_s == 24 * 3600


def test_grade_refuses_a_paper_without_paper_md_before_any_work(tmp_path: Path) -> None:
    """No paper.md: one line, exit 1, before fetching or reproducing (no engine needed); with
    --allow-missing-paper the grade goes on and says so."""
    code, out, err = grade(str(GOOD), "--paper", "bam", "--out", str(tmp_path / "out"), env=NO_ENGINE)
    assert code == 1 and "paper.md" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "metadata.json").exists()
    args = ["--paper", "tiny-moons", "--code-dev", "--allow-missing-paper", "--out", str(tmp_path / "o2")]
    paper_less = tmp_path / "paper"
    shutil.copytree(ROOT / "rubrics" / "tiny-moons", paper_less)
    (paper_less / "paper.md").unlink()
    args[1] = str(paper_less)
    code, out, err = grade(str(GOOD), *args, env=NO_ENGINE)
    assert code == 0, err
    assert (
        "graded WITHOUT the paper"
        in json.loads((tmp_path / "o2" / "judge_summary.json").read_text())["caveats"][-1]
    )
