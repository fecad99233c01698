"""Small executed-submission folders and papers built in tmp dirs (no Docker needed)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from judge.papers import Paper
from runner.metadata import FileChange, RunMetadata

CREATION_TIME = 1_735_689_600  # 2025-01-01T00:00:00Z, the start of the toy runs

TOY_RUBRIC: dict[str, Any] = {
    "id": "root",
    "requirements": "The paper's training method is reproduced.",
    "weight": 1,
    "sub_tasks": [
        {
            "id": "impl",
            "requirements": "The score-based divergence optimiser is implemented.",
            "weight": 2,
            "sub_tasks": [
                {
                    "id": "impl-loss",
                    "requirements": "The score divergence loss is implemented in the training loop.",
                    "weight": 1,
                    "sub_tasks": [],
                    "task_category": "Code Development",
                    "finegrained_task_category": "Method Implementation",
                },
                {
                    "id": "impl-batch",
                    "requirements": "Batch sampling from the variational distribution is implemented.",
                    "weight": 1,
                    "sub_tasks": [],
                    "task_category": "Code Development",
                    "finegrained_task_category": "Method Implementation",
                },
            ],
        },
        {
            "id": "run",
            "requirements": "The experiments were run.",
            "weight": 1,
            "sub_tasks": [
                {
                    "id": "run-train",
                    "requirements": "The training script was executed for the gaussian target.",
                    "weight": 1,
                    "sub_tasks": [],
                    "task_category": "Code Execution",
                    "finegrained_task_category": "Experimental Setup",
                },
                {
                    "id": "res-kl",
                    "requirements": "The final KL divergence on the gaussian target is below 0.1.",
                    "weight": 1,
                    "sub_tasks": [],
                    "task_category": "Result Analysis",
                    "finegrained_task_category": "Evaluation, Metrics & Benchmarking",
                },
            ],
        },
    ],
}

TOY_FILES: dict[str, str] = {
    "reproduce.sh": "#!/bin/sh\npython train.py --target gaussian > results/kl.txt\n",
    "train.py": "from loss import score_divergence\n\ndef train():\n    for batch in sample_batch():\n"
    "        loss = score_divergence(batch)\n",
    "loss.py": "def score_divergence(batch):\n    # score based divergence loss\n    return batch.mean()\n",
    "sampler.py": "def sample_batch(variational):\n    # batch sampling from the variational distribution\n"
    "    return variational.sample(32)\n",
    "README.md": "Reproduction of batch and match.\n",
    "results/kl.txt": "final KL divergence gaussian: 0.05\n",
}


def make_paper(
    tmp: Path,
    rubric: Mapping[str, Any] = TOY_RUBRIC,
    paper_md: str | None = "# Batch and match\nWe minimise a score-based divergence.\n",
) -> Paper:
    folder = tmp / "paper"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rubric.json").write_text(json.dumps(rubric), encoding="utf-8")
    if paper_md is not None:
        (folder / "paper.md").write_text(paper_md, encoding="utf-8")
    (folder / "addendum.md").write_text("Use the gaussian target only.\n", encoding="utf-8")
    return Paper("toy", folder, None)


def make_executed(
    tmp: Path,
    files: Mapping[str, str | bytes] = TOY_FILES,
    changed: tuple[str, ...] = ("results/kl.txt",),
    log: str = "training gaussian target\nstep 100 loss 0.3\nfinal KL 0.05\n",
    status: str = "completed",
    name: str = "executed",
) -> Path:
    root = tmp / name
    sub = root / "submission"
    for rel, content in files.items():
        path = sub / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    # as a run leaves them: the files it touched have an mtime at or after its creation time
    for path in sub.rglob("*"):
        if path.is_file():
            os.utime(path, (CREATION_TIME - 3600, CREATION_TIME - 3600))
    for rel in changed:
        if (sub / rel).is_file():
            os.utime(sub / rel, (CREATION_TIME + 5, CREATION_TIME + 5))
    (root / "reproduce.log.creation_time").write_text(f"{CREATION_TIME}\n", encoding="utf-8")
    (root / "reproduce.log").write_text(log, encoding="utf-8")
    RunMetadata(
        exit_code=0 if status == "completed" else None,
        timed_out=False,
        oom_killed=False,
        duration_s=12.5,
        log_truncated=False,
        started_at="2025-01-01T00:00:00Z",
        finished_at="2025-01-01T00:00:12Z",
        reprobot_version="0.1.0",
        files_changed=tuple(FileChange(p, "created", None, "0" * 64, 10) for p in changed),
        status=status,  # type: ignore[arg-type]
        error="docker daemon went away" if status == "infra_error" else None,
        creation_time=float(CREATION_TIME),
    ).write(root / "metadata.json")
    return root
