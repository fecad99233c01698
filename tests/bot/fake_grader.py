"""A stand-in Grader that writes a real result folder (docs/FORMATS.md) without Docker or an LLM.

Loaded by the worker as ``bot.grader: "tests.bot.fake_grader:FakeGrader"``. Behaviour comes from
``<data_dir>/fake_grader.json`` (so a worker subprocess can be steered): ``status`` (graded,
rejected, infra_error), ``infra_failures`` (the first N calls answer infra_error), ``blacklist``
(write a blacklist.json with violations), ``score_file`` (graded tree to use). Every call appends
one line to ``<data_dir>/fake_grader_calls.jsonl``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.grading import GradeOutcome, GradeRequest, ProgressFn
from bot.settings import Settings
from judge.graded import aggregate, code_dev_graded, dump_graded, load_graded, summarize
from runner.metadata import RunMetadata
from tests.shared import SHARED

EXPECTED = SHARED / "paperbench/judge_eval/all-in-one/expected_result.json"


class FakeGrader:
    def __init__(self, settings: Settings) -> None:
        self.data_dir = Path(settings.data_dir)

    def _config(self) -> dict[str, Any]:
        path = self.data_dir / "fake_grader.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def _calls(self) -> list[dict[str, Any]]:
        path = self.data_dir / "fake_grader_calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []

    def check_judge(self) -> str | None:
        return None  # outcomes are scripted by the test; no judge to build

    def grade(self, request: GradeRequest, out_dir: Path, progress: ProgressFn | None = None) -> GradeOutcome:
        cfg = self._config()
        previous = len(self._calls())
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / "fake_grader_calls.jsonl", "a") as f:
            f.write(
                json.dumps(
                    {
                        "submission": request.submission,
                        "paper": request.paper,
                        "code_dev": request.code_dev,
                        "reuse": str(request.reuse_reproduction or ""),
                    }
                )
                + "\n"
            )
        now = datetime.now(UTC).isoformat(timespec="seconds")
        if progress:
            progress("reproducing", "running reproduce.sh")
        RunMetadata(
            exit_code=0,
            timed_out=False,
            oom_killed=False,
            duration_s=1.5,
            log_truncated=False,
            started_at=now,
            finished_at=now,
            reprobot_version="test",
            submission_ref=request.submission,
        ).write(out_dir / "metadata.json")
        (out_dir / "reproduce.log").write_text("ok\n")
        (out_dir / "submission").mkdir(exist_ok=True)
        (out_dir / "submission" / "results.txt").write_text(f"run at {now}\n")
        if cfg.get("blacklist"):
            (out_dir / "blacklist.json").write_text(
                json.dumps(
                    {
                        "policy": "report",
                        "blocked": False,
                        "blacklist": ["https://github.com/original/code"],
                        "violations": [
                            {
                                "source": "submission",
                                "file": "train.py",
                                "line": 12,
                                "url": "https://github.com/original/code",
                                "matched": "github.com/original/code",
                                "context": "git clone ...",
                            },
                            {
                                "source": "reproduce.log",
                                "file": "reproduce.log",
                                "line": 3,
                                "url": "https://github.com/original/code",
                                "matched": "x",
                                "context": "y",
                            },
                        ],
                    }
                )
            )
        status = cfg.get("status", "graded")
        if previous < int(cfg.get("infra_failures", 0)):
            status = "infra_error"
        if status == "infra_error":
            return GradeOutcome("infra_error", "docker daemon unreachable", out_dir)
        if status == "rejected":
            return GradeOutcome("rejected", "no reproduce.sh at the repository root", out_dir)
        if progress:
            progress("judging", "grading leaves")
        tree = load_graded(Path(cfg.get("score_file", EXPECTED)))
        if request.code_dev:
            tree = code_dev_graded(tree)
        root = aggregate(tree)
        dump_graded(root, out_dir / "grade.json")
        summary = summarize(root).to_dict()
        (out_dir / "judge_summary.json").write_text(
            json.dumps(
                {
                    "paper_id": request.paper,
                    "mode": "code-dev" if request.code_dev else "full",
                    "protocol": "paperbench",  # as the judge writes it (a summary without one is older)
                    "model": "fake",
                    "dummy": True,
                    **summary,
                    "tokens": {"input": 0, "cached_input": 0, "output": 0, "reasoning": 0},
                    "cost_usd": float(cfg.get("cost_usd", 0.0)),
                    "started_at": now,
                    "finished_at": now,
                    "prompt_version": "fake",
                }
            )
        )
        return GradeOutcome(
            "graded", f"score {summary['score']:.3f}", out_dir, summary["score"], summary["coverage"]
        )
