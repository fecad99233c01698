"""Grading is resumable and incremental: a grade killed half-way sends only the leaves not yet
graded when run again; an unchanged submission costs no call; changed evidence is graded again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from judge.cache import LeafCache
from judge.grader import JudgeOptions, judge_executed
from judge.papers import Paper
from judge.progress import JudgeProgress
from tests.judge.conftest import backend_for, fast_settings
from tests.judge.fixtures import TOY_FILES, make_executed, make_paper
from tests.standins.openai_server import OpenAIStandIn


def big_rubric(n: int) -> dict[str, Any]:
    leaves = [
        {
            "id": f"leaf-{i}",
            "requirements": f"Component number {i} of the optimiser is implemented.",
            "weight": 1,
            "sub_tasks": [],
            "task_category": "Code Development",
        }
        for i in range(n)
    ]
    return {"id": "root", "requirements": "Reproduce.", "weight": 1, "sub_tasks": leaves}


class Killed(Exception):
    pass


def test_resume_after_kill_sends_only_remaining_calls(server: OpenAIStandIn, tmp_path: Path) -> None:
    paper = make_paper(tmp_path, rubric=big_rubric(20))
    ex = make_executed(tmp_path)
    settings = fast_settings(server, concurrency=2)
    cache = tmp_path / "cache.sqlite"
    options = JudgeOptions(settings, cache_path=cache)

    def kill_after_eight(event: JudgeProgress) -> None:
        if event.done >= 8:
            raise Killed

    with pytest.raises(Killed):
        judge_executed(ex, paper, tmp_path / "out", options, backend_for(settings), progress=kill_after_eight)
    first_calls = server.calls
    db = LeafCache(cache)
    kept = db.count()
    db.close()
    assert 8 <= kept <= first_calls < 20
    out = judge_executed(ex, paper, tmp_path / "out", options, backend_for(settings))
    assert server.calls - first_calls == 20 - kept
    assert out.summary.cached_leaves == kept and out.summary.coverage == 1.0
    # an unchanged submission costs nothing the third time
    again = judge_executed(ex, paper, tmp_path / "out3", options, backend_for(settings))
    assert server.calls - first_calls == 20 - kept
    assert again.summary.calls == 0 and again.summary.cached_leaves == 20
    assert again.summary.tokens.input == 0


def test_changed_evidence_is_graded_again(server: OpenAIStandIn, paper: Paper, tmp_path: Path) -> None:
    settings = fast_settings(server)
    options = JudgeOptions(settings, cache_path=tmp_path / "c.sqlite")
    ex = make_executed(tmp_path)
    judge_executed(ex, paper, tmp_path / "o1", options, backend_for(settings))
    assert server.calls == 4
    changed = make_executed(
        tmp_path,
        files={**TOY_FILES, "loss.py": "def score_divergence(b):\n    return 1\n"},
        name="executed-2",
    )
    judge_executed(changed, paper, tmp_path / "o2", options, backend_for(settings))
    assert server.calls == 8  # loss.py is shared evidence for every code leaf; the RA leaf sees the log...
    other_model = fast_settings(server, model="gpt-4.1-mini")
    judge_executed(
        ex,
        paper,
        tmp_path / "o3",
        JudgeOptions(other_model, cache_path=tmp_path / "c.sqlite"),
        backend_for(other_model),
    )
    assert server.calls == 12
    lines = (tmp_path / "o3" / "judge_calls.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["request"]["model"] == "gpt-4.1-mini"
