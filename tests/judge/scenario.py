"""The "Done when" scenario of issue 12, generated deterministically (tests and bench/judge_cost.py).

A 361-leaf rubric (361 leaves spread evenly over PaperBench's real 819-leaf ``lca-on-the-line``
rubric, all three categories present), a ~100 KB paper.md,
and an executed submission of 40 files whose 4 MB reproduce.log hides its one result line between
50,000 progress-bar lines; the run touched a results table. Markers let a recorder tell what a
request carries: the paper's marker sentence, the code marker (in every source file), the result
line (only in the log).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

from judge.papers import Paper
from runner.metadata import FileChange, RunMetadata
from tests.judge.fixtures import CREATION_TIME

ROOT = Path(__file__).resolve().parents[2]
SOURCE_RUBRIC = ROOT / "rubrics" / "lca-on-the-line" / "rubric.json"
PAPER_MARK = "The scenario paper states its central claim in this exact sentence."
CODE_MARK = "SCENARIO_SOURCE_CODE_MARKER"
RESULT_LINE = "RESULT: final test accuracy 0.8734 on the held-out split (seed 0)"
PROGRESS = (
    "Epoch 3: {pct:3d}%|{bar:<20}| {i}/50000 "
    "[{m:02d}:{s:02d}<{r:02d}:{s2:02d}, {rate:.2f}it/s, loss={loss:.4f}]"
)


def spread_leaves(node: dict[str, Any], n: int) -> dict[str, Any] | None:
    """The tree with ``n`` of its leaves, evenly spaced in tree order; empty internal nodes dropped."""
    order: list[int] = []
    stack = [node]
    while stack:
        x = stack.pop()
        if not x["sub_tasks"]:
            order.append(id(x))
        stack.extend(reversed(x["sub_tasks"]))
    total = len(order)
    keep = {order[k * total // n] for k in range(min(n, total))}

    def rec(x: dict[str, Any]) -> dict[str, Any] | None:
        if not x["sub_tasks"]:
            return x if id(x) in keep else None
        kept = [c for c in (rec(c) for c in x["sub_tasks"]) if c is not None]
        return {**x, "sub_tasks": kept} if kept else None

    return rec(node)


def _words(rng: random.Random, vocab: list[str], n: int) -> str:
    return " ".join(rng.choice(vocab) for _ in range(n))


def _vocab(rubric: dict[str, Any]) -> list[str]:
    words: set[str] = set()
    stack = [rubric]
    while stack:
        node = stack.pop()
        words.update(w.strip(".,;:()'\"").lower() for w in node["requirements"].split() if len(w) > 3)
        stack.extend(node["sub_tasks"])
    return sorted(w for w in words if w.isalpha()) + ["the", "of", "and", "we", "in", "a", "to", "is"]


def make_scenario(
    tmp: Path, leaves: int = 361, paper_kb: int = 100, with_paper: bool = True, log_lines: int = 50_000
) -> tuple[Paper, Path]:
    rng = random.Random(361)
    rubric = spread_leaves(json.loads(SOURCE_RUBRIC.read_text()), leaves)
    assert rubric is not None
    vocab = _vocab(rubric)
    paper_dir = tmp / "scenario-paper"
    paper_dir.mkdir(parents=True, exist_ok=True)
    (paper_dir / "rubric.json").write_text(json.dumps(rubric), encoding="utf-8")
    if with_paper:
        parts, size = [f"# The scenario paper\n\n{PAPER_MARK}\n\n"], 0
        while size < paper_kb * 1000:
            p = ("## Section\n\n" if len(parts) % 10 == 0 else "") + _words(rng, vocab, 110) + ".\n\n"
            parts.append(p)
            size += len(p)
        (paper_dir / "paper.md").write_text("".join(parts), encoding="utf-8")
    (paper_dir / "addendum.md").write_text("Use the held-out split.\n", encoding="utf-8")
    (paper_dir / "judge.addendum.md").write_text("Accuracy within 2 points counts.\n", encoding="utf-8")

    executed = tmp / "scenario-executed"
    sub = executed / "submission"
    (sub / "src").mkdir(parents=True, exist_ok=True)
    (sub / "results").mkdir(exist_ok=True)
    (sub / "configs").mkdir(exist_ok=True)
    (sub / "reproduce.sh").write_text(
        "#!/bin/bash\nset -e\npip install -r requirements.txt\npython src/train.py --out results/\n"
    )
    for i in range(32):
        name = "train.py" if i == 0 else f"module_{i:02d}.py"
        body = f"# {CODE_MARK}\n" + "".join(
            f"def {rng.choice(vocab)}_{j}(x):\n    # {_words(rng, vocab, 12)}\n    return x\n\n"
            for j in range(30)
        )
        (sub / "src" / name).write_text(body[:3_500])
    for i in range(4):
        (sub / "configs" / f"exp_{i}.yaml").write_text(
            f"lr: 0.00{i + 1}\nepochs: 3\nname: {_words(rng, vocab, 3)}\n"
        )
    (sub / "README.md").write_text("# Reproduction\n" + _words(rng, vocab, 300) + "\n")
    (sub / "requirements.txt").write_text("torch\nnumpy\n")
    (sub / "results" / "table.csv").write_text("split,accuracy\nheld-out,0.8734\n")
    (sub / "results" / "metrics.json").write_text(json.dumps({"accuracy": 0.8734}) + "\n")
    lines = []
    for i in range(log_lines):
        lines.append(
            PROGRESS.format(
                pct=i * 100 // log_lines,
                bar="#" * (i * 20 // log_lines),
                i=i,
                m=i // 1000 % 60,
                s=i % 60,
                r=(log_lines - i) // 1000 % 60,
                s2=(i * 7) % 60,
                rate=rng.uniform(20, 90),
                loss=rng.random(),
            )
        )
        if i == log_lines // 2:
            lines.append(RESULT_LINE)
    (executed / "reproduce.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    changed = ("results/table.csv", "results/metrics.json")
    for path in sub.rglob("*"):  # the run touched the results (mtime at or after its creation time)
        if path.is_file():
            t = CREATION_TIME + 60 if path.relative_to(sub).as_posix() in changed else CREATION_TIME - 3600
            os.utime(path, (t, t))
    (executed / "reproduce.log.creation_time").write_text(f"{CREATION_TIME}\n")
    RunMetadata(
        0, False, False, 5400.0, False, "2025-01-01T00:00:00Z", "2025-01-01T01:30:00Z", "0.1.0",
        files_changed=tuple(FileChange(p, "created") for p in changed), creation_time=float(CREATION_TIME),
    ).write(executed / "metadata.json")  # fmt: skip
    return Paper("scenario", paper_dir, None), executed


def make_many_files(tmp: Path, n: int = 30_000) -> Path:
    """An executed submission of ``n`` empty files in nested folders (the worst case for trees)."""
    executed = tmp / "many-files"
    sub = executed / "submission"
    sub.mkdir(parents=True, exist_ok=True)
    (sub / "reproduce.sh").write_text("#!/bin/bash\ntrue\n")
    for i in range(n):
        folder = sub / f"d{i % 30:02d}" / f"e{i % 1000 // 30:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file_{i:05d}.py").write_bytes(b"")
    (executed / "reproduce.log").write_text("done\n")
    RunMetadata(0, False, False, 1.0, False, "2025-01-01T00:00:00Z", "2025-01-01T00:00:01Z", "0.1.0").write(
        executed / "metadata.json"
    )
    return executed
