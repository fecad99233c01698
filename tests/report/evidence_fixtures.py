"""Result folders of the worked example (paper tiny-moons, its good and weak submissions) graded the
way the judge writes them: every graded leaf's ``judge_metadata["citations"]`` holds
``{file, lines, quote, found}`` records, quotes taken from the real submission files (so they are
found), one invented quote per submission (not found), a log excerpt, and some leaves citing nothing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from report_fixtures import JUDGE_SUMMARY, METADATA, REPO_ROOT

from judge.graded import load_graded, summarize

RUBRIC = REPO_ROOT / "rubrics" / "tiny-moons" / "rubric.json"
SUBMISSIONS = REPO_ROOT / "examples" / "submissions"
LOG = "epoch 1 loss 0.6931\nepoch 200 loss 0.2104\nlogreg test accuracy 0.86\nmlp test accuracy 0.97\n"
INVENTED = "model = TransformerXL(layers=48)  # not in the submission"


def _h(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def _citations(leaf_id: str, sub: Path, kind: str) -> list[dict[str, Any]]:
    files = sorted(p.name for p in sub.iterdir() if p.suffix in (".py", ".sh"))
    h = _h(leaf_id + kind)
    if h % 5 == 0 and leaf_id != "tm-11":
        return []  # this leaf cites nothing
    name = files[h % len(files)]
    lines = (sub / name).read_text(encoding="utf-8").splitlines()
    start = 1 + h % max(1, len(lines) - 1)
    quote = "\n".join(lines[start - 1 : start + 1])
    out: list[dict[str, Any]] = [{"file": name, "lines": [start, start + 1], "quote": quote, "found": True}]
    if h % 7 == 1:
        out.append({"file": "reproduce.log", "lines": None, "quote": "mlp test accuracy 0.97", "found": True})
    if leaf_id == "tm-11":
        out.append({"file": "models.py", "lines": [3, 3], "quote": INVENTED, "found": False})
    return out


def worked_example_result(folder: Path, kind: str, *, submitter: str | None = None, **extra: Any) -> Path:
    """A graded result folder for ``tiny-moons-<kind>`` (good: mostly passing, weak: mostly not)."""
    sub = SUBMISSIONS / f"tiny-moons-{kind}"
    rubric = json.loads(RUBRIC.read_text(encoding="utf-8"))

    def grade(node: dict[str, Any]) -> dict[str, Any]:
        out = dict(node)
        if node["sub_tasks"]:
            out["sub_tasks"] = [grade(c) for c in node["sub_tasks"]]
            return out
        r = _h(node["id"] + kind) % 10
        passed = r >= 2 if kind == "good" else r >= 7
        out["valid_score"] = True
        out["score"] = 1.0 if passed else 0.0
        out["explanation"] = f"{'Implemented' if passed else 'Missing or wrong'}: {node['requirements']}"
        out["judge_metadata"] = {
            "full_judge_response": "Expectations ... Reality ... Score ...",
            "token_usage": {"input": 1200, "output": 300},
            "call_ids": [f"call-{node['id']}"],
            "evidence_sha256": "ab" * 32,
            "citations": _citations(node["id"], sub, kind),
        }
        return out

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "grade.json").write_text(json.dumps(grade(rubric)), encoding="utf-8")
    shutil.copytree(sub, folder / "submission", dirs_exist_ok=True)
    (folder / "reproduce.log").write_text(LOG, encoding="utf-8")
    (folder / "submission" / "reproduce.log").write_text(LOG, encoding="utf-8")
    figures = summarize(load_graded(folder / "grade.json")).to_dict()  # the summary agrees with the tree
    summary = {
        **JUDGE_SUMMARY,
        **figures,
        "paper_id": "tiny-moons",
        "protocol": "paperbench",
        "cost_usd": 0.42,
    }
    (folder / "judge_summary.json").write_text(json.dumps(summary), encoding="utf-8")
    attempts = [
        {"number": n, "variation": v, "exit_code": c, "timed_out": False, "oom_killed": False,
         "duration_s": 3.0, "started_at": "2026-01-01T00:00:00Z", "log": f"attempts/{n}/reproduce.log"}
        for n, v, c in ((1, "as submitted", 1), (2, "fresh venv", 0))
    ]  # fmt: skip
    meta = {**METADATA, "attempts": attempts, "graded_attempt": 2}
    (folder / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    record = {
        "paper_id": "tiny-moons",
        "submitter": submitter or f"{kind}-agent",
        "repository": f"{kind}-agent/tiny-moons",
        "pr_number": 3,
        "head_sha": "0123456789abcdef0123456789abcdef01234567",
        "mode": "full",
        "human_baseline": False,
        "url": "https://github.com/org/bench/pull/3",
        "graded_at": "2026-11-26T10:00:00+00:00",
        "check_run_url": "https://github.com/org/bench/runs/99",
        "leaderboard_url": "https://org.github.io/bench/leaderboard.html",
        "pass_threshold": 0.5,
        **extra,
    }
    (folder / "submission.json").write_text(json.dumps(record), encoding="utf-8")
    return folder


def with_run_outputs(folder: Path) -> Path:
    """Run the submission's ``train.py`` for real (pure Python, about a second) inside the result
    folder's ``submission/``, as reproduce.sh would, and record what it wrote in ``metadata.json``
    (``files_changed``), the way the runner does: the run's own figure and tables."""
    import subprocess
    import sys
    import time

    sub = folder / "submission"
    before = {p.relative_to(sub).as_posix() for p in sub.rglob("*") if p.is_file()}
    started = time.time()
    subprocess.run([sys.executable, "train.py"], cwd=sub, check=True, capture_output=True, timeout=120)
    after = {p.relative_to(sub).as_posix(): p.stat().st_size for p in sub.rglob("*") if p.is_file()}
    changes = [
        {"path": rel, "change": "created", "sha256_before": None, "sha256_after": None, "size": size}
        for rel, size in sorted(after.items())
        if rel not in before and "__pycache__" not in rel
    ]
    meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    meta.update(files_changed=changes, creation_time=started)
    (folder / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder
