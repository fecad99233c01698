"""What a submission's content causes after its container ran is the submission's: it is graded.

Invariants: a run that leaves a folder chain deeper than PATH_MAX, names that are not UTF-8 and
names with control characters is collected (the chain recorded and skipped, the names collected
and listed), judged and reported: ``reprobot grade`` exits 0 with a score, never an infrastructure
error and never a second run of the reproduction; the report says what was skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

ODD = r"""
python3 - <<'PY'
import os
os.makedirs("deep", exist_ok=True)
os.chdir("deep")
for _ in range(40):  # 40 x 201 bytes: twice PATH_MAX, made one folder at a time
    os.mkdir("a" * 200)
    os.chdir("a" * 200)
open("leaf.txt", "w").write("deep\n")
os.chdir("/submission")
open(b"caf\xe9-latin1.txt", "w").write("latin-1 name\n")
open("new\nline.py", "w").write("print('odd')\n")
open(b"\xff\xfe.json", "w").write("{}\n")
PY
echo "trained: accuracy 0.91" | tee results.txt
"""


def test_deep_paths_and_odd_names_are_graded_not_infrastructure_trouble(
    tmp_path: Path, repro_image: str
) -> None:
    from click.testing import CliRunner

    from bot.cli import main

    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "reproduce.sh").write_text(ODD)
    config = tmp_path / "c.yaml"
    config.write_text(f"runner:\n  image: {repro_image}\n  network: none\n  memory: 256m\n  disk_limit: 1g\n")
    out = tmp_path / "out"
    args = [
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
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.stderr  # graded
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["status"] == "completed" and len(meta["attempts"]) == 1  # one run, no retry
    coll = meta["collection"]
    assert "names" in coll["caps_hit"] and coll["error"] is None
    assert any("path longer than" in s and s.startswith("deep/") for s in meta["skipped_files"])
    assert len(coll["odd_names"]) == 3  # collected as they are, listed escaped
    assert (out / "submission" / "results.txt").is_file()
    assert json.loads((out / "judge_summary.json").read_text())["score"] >= 0
    html = (out / "report.html").read_text()
    assert "collection:" in html and "not UTF-8" in html
