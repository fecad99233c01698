"""A PaperBench executed submission on disk, as an organizer has one (PAPERBENCH.md section 5), and
a recorder of what the judge sends: the parity tests' material.

The folder is the submission after PaperBench's run: ``reproduce.sh``, ``reproduce.log`` and
``reproduce.log.creation_time`` inside; a long training log whose late result line sits past the
first 200,000 characters; a results table committed before the run and rewritten by it with the
same content (only its mtime says the run touched it); a Makefile (not whitelisted); and, when
asked, 1,500 source files in nested folders.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from judge.papers import Paper

CREATION = 1_735_689_600
EARLY_RESULT = "EARLY-RESULT validation accuracy 0.6100"
LATE_RESULT = "LATE-RESULT final test accuracy 0.8734"
TABLE = "split,accuracy\nheld-out,0.8734\n"

RUBRIC: dict[str, Any] = {
    "id": "root",
    "requirements": "The paper is reproduced.",
    "weight": 1,
    "sub_tasks": [
        {
            "id": "cd",
            "requirements": "The training loop is implemented.",
            "weight": 1,
            "sub_tasks": [],
            "task_category": "Code Development",
        },
        {
            "id": "ce",
            "requirements": "The training script was executed.",
            "weight": 1,
            "sub_tasks": [],
            "task_category": "Code Execution",
        },
        {
            "id": "ra",
            "requirements": "The final test accuracy is about 0.87.",
            "weight": 1,
            "sub_tasks": [],
            "task_category": "Result Analysis",
        },
    ],
}


def training_log(chars: int = 320_000) -> str:
    lines = ["starting training", EARLY_RESULT]
    i = 0
    while sum(len(x) + 1 for x in lines) < chars:
        lines.append(
            f"Epoch {i // 100}: {i % 100:3d}%|{'#' * (i % 100 // 5):<20}| {i % 100}/100 "
            "[00:01<00:02, 9.1it/s]"
        )
        i += 1
    lines.append(LATE_RESULT)
    return "\n".join(lines) + "\n"


def make_run(tmp: Path, *, many_files: int = 0, log: str | None = None, name: str = "pb-run") -> Path:
    run = tmp / name
    (run / "results").mkdir(parents=True)
    (run / "reproduce.sh").write_text("#!/bin/bash\npython train.py > results/out.csv\n")
    (run / "train.py").write_text(
        "def train():\n    for epoch in range(3):\n        step()  # the training loop\n"
    )
    (run / "Makefile").write_text("all:\n\tbash reproduce.sh\n")
    (run / "README.md").write_text("# A reproduction\n")
    (run / "results" / "out.csv").write_text(TABLE)
    for i in range(many_files):
        folder = run / "src" / f"pkg{i % 15:02d}" / f"sub{i % 100 // 15}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"module_{i:04d}.py").write_text(f"def f{i}():\n    return {i}\n")
    for path in run.rglob("*"):
        if path.is_file():
            os.utime(path, (CREATION - 3600, CREATION - 3600))  # committed before the run
    (run / "reproduce.log.creation_time").write_text(f"{CREATION}\n")
    (run / "results" / "out.csv").write_text(TABLE)  # the run rewrote it, same bytes
    os.utime(run / "results" / "out.csv", (CREATION + 60, CREATION + 60))
    (run / "reproduce.log").write_text(training_log() if log is None else log)
    os.utime(run / "reproduce.log", (CREATION + 600, CREATION + 600))
    return run


def make_paper(tmp: Path, paper_id: str = "parity", rubric: dict[str, Any] = RUBRIC) -> Paper:
    folder = tmp / paper_id  # the folder's name is the paper's id (pinn's cap depends on it)
    folder.mkdir(parents=True)
    (folder / "rubric.json").write_text(json.dumps(rubric))
    (folder / "paper.md").write_text("# The paper\nWe train a model and reach 0.87 test accuracy.\n")
    (folder / "addendum.md").write_text("Use the held-out split.\n")
    (folder / "judge.addendum.md").write_text("Accuracy within 2 points counts.\n")
    return Paper(paper_id, folder, None)


class Recorder:
    """Every request the stand-in accepts: (kind, leaf ids, messages)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[tuple[str, list[str], list[tuple[str, str]]]] = []

    def __call__(self, kind: str, leaf_ids: list[str], messages: list[tuple[str, str]]) -> None:
        with self.lock:
            self.calls.append((kind, list(leaf_ids), list(messages)))

    def text(self, kind: str, leaf_id: str) -> str:
        found = [m for k, ids, m in self.calls if k == kind and leaf_id in ids]
        assert len(found) == 1, f"{len(found)} {kind} requests for {leaf_id}"
        return "\n".join(c for _, c in found[0])

    def messages(self, kind: str, leaf_id: str) -> list[tuple[str, str]]:
        found = [m for k, ids, m in self.calls if k == kind and leaf_id in ids]
        assert len(found) == 1
        return found[0]
