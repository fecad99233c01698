"""Helpers for the report tests: result folders built in tmp dirs from real and synthetic trees."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.shared import SHARED

REPO_ROOT = Path(__file__).resolve().parents[2]
RUBRICS_DIR = REPO_ROOT / "rubrics"
GOLD_DIR = SHARED / "paperbench" / "judge_eval"

JUDGE_SUMMARY = {
    "paper_id": "example",
    "mode": "full",
    "model": "o3-mini-2025-01-31",
    "dummy": False,
    "score": 0.5,
    "coverage": 1.0,
    "tokens": {"input": 1_234_567, "cached_input": 1000, "output": 45_678, "reasoning": 30_000},
    "cost_usd": 3.21,
    "started_at": "2025-01-01T00:00:00Z",
    "finished_at": "2025-01-01T00:30:00Z",
    "prompt_version": "pb-1",
}
METADATA = {
    "exit_code": 0,
    "timed_out": False,
    "oom_killed": False,
    "duration_s": 3723.4,
    "log_truncated": True,
    "started_at": "2025-01-01T00:00:00Z",
    "finished_at": "2025-01-01T01:02:03Z",
    "reprobot_version": "0.1.0",
    "image": "reprobot/repro:latest",
    "gpu": {"requested": "1", "names": ["NVIDIA H100 80GB HBM3"]},
    "status": "completed",
}
SUBMISSION = {
    "paper_id": "example",
    "submitter": "alice",
    "repository": "alice/repro",
    "pr_number": 7,
    "head_sha": "0123456789abcdef0123456789abcdef01234567",
    "mode": "full",
    "human_baseline": False,
    "url": "https://github.invalid/org/repo/pull/7",
    "graded_at": "2025-01-01T01:00:00Z",
}
BLACKLIST = {
    "policy": "report",
    "blocked": False,
    "blacklist": ["https://github.com/original/impl"],
    "violations": [
        {
            "source": "submission",
            "file": "train.py",
            "line": 12,
            "url": "https://github.com/original/impl",
            "matched": "github.com/original/impl",
            "context": "# copied from github.com/original/impl",
        }
    ],
}

ResultDirFactory = Callable[..., Path]


def write_result_dir(
    folder: Path,
    tree: dict[str, Any],
    *,
    summary: dict[str, Any] | None | bool = True,
    metadata: dict[str, Any] | None | bool = True,
    submission: dict[str, Any] | None | bool = True,
    blacklist: dict[str, Any] | None | bool = True,
) -> Path:
    """A result folder; ``True`` = the default record, ``None``/``False`` = leave the file out."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "grade.json").write_text(json.dumps(tree), encoding="utf-8")
    for name, value, default in (
        ("judge_summary.json", summary, JUDGE_SUMMARY),
        ("metadata.json", metadata, METADATA),
        ("submission.json", submission, SUBMISSION),
        ("blacklist.json", blacklist, BLACKLIST),
    ):
        if value is True:
            value = default
        if value:
            (folder / name).write_text(json.dumps(value), encoding="utf-8")
    return folder


def _h(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


EXPLANATION = (
    "The submission implements part of this in src/model.py (class Encoder), but the configuration in "
    "configs/train.yaml uses a learning rate of 3e-4 instead of the 1e-4 the paper specifies, and "
    "reproduce.log shows the evaluation step was skipped because the checkpoint was missing. "
)


def synthetic_grade(rubric: dict[str, Any], explanation_repeat: int = 1) -> dict[str, Any]:
    """A deterministic synthetic grading of a rubric: ~10% invalid, ~40% fail, ~50% pass."""

    def rec(node: dict[str, Any]) -> dict[str, Any]:
        out = dict(node)
        if not node["sub_tasks"]:
            r = _h(node["id"]) % 10
            out["valid_score"] = r != 0
            out["score"] = 1.0 if r >= 5 else 0.0
            out["explanation"] = (EXPLANATION * explanation_repeat) if r else "Judge call failed: HTTP 503."
            out["judge_metadata"] = {"files": ["src/model.py", "configs/train.yaml"], "tokens": 1234}
        else:
            out["sub_tasks"] = [rec(c) for c in node["sub_tasks"]]
        return out

    return rec(rubric)


def synthetic_tree(sections: int = 20, subsections: int = 10, leaves: int = 10) -> dict[str, Any]:
    """A rubric-shaped graded tree with sections * subsections * leaves leaves (2,000 by default)."""
    cats = ("Code Development", "Code Execution", "Result Analysis")
    req = "The implementation of component {0} matches the description in Section 4.2, including {0} " * 2

    def leaf(i: str) -> dict[str, Any]:
        return {
            "id": f"leaf-{i}",
            "requirements": req.format(i),
            "weight": 1 + _h(i) % 3,
            "task_category": cats[_h(i) % 3],
            "finegrained_task_category": None,
            "sub_tasks": [],
        }

    root = {
        "id": "root",
        "requirements": "The paper has been reproduced.",
        "weight": 1,
        "sub_tasks": [
            {
                "id": f"s{a}",
                "requirements": f"Section {a} " + req.format(a),
                "weight": 1 + a % 4,
                "sub_tasks": [
                    {
                        "id": f"s{a}.{b}",
                        "requirements": f"Subsection {a}.{b} " + req.format(f"{a}.{b}"),
                        "weight": 1,
                        "sub_tasks": [leaf(f"{a}.{b}.{c}") for c in range(leaves)],
                    }
                    for b in range(subsections)
                ],
            }
            for a in range(sections)
        ],
    }
    return synthetic_grade(root, explanation_repeat=3)


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))
