"""Invariant: a submission with a file whose name is not UTF-8 and a file at the end of a
4,000-character path is reproduced in the real sandbox and graded (the grade reflects what it did:
the same score as the same submission without those files), never "could not grade". (The
submission and the result folder sit in a short folder: PATH_MAX is 4,096 bytes for the whole
absolute path.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.image import DEFAULT_IMAGE

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _docker_ready() -> bool:
    if shutil.which("docker") is None:
        return False
    ok = subprocess.run(["docker", "image", "inspect", DEFAULT_IMAGE], capture_output=True, check=False)
    return ok.returncode == 0


def _grade(submission: Path, out: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "GRADER_OPENAI_API_KEY")}
    cmd = [sys.executable, "-m", "bot.cli", "grade", str(submission), "--paper", "tiny-moons"]
    cmd += ["--judge", "dummy", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    summary: dict[str, object] = json.loads((out / "judge_summary.json").read_text())
    return summary


@pytest.fixture
def short_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="judge-proto-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)  # descriptor-based: long paths are removed too


@pytest.mark.skipif(not _docker_ready(), reason=f"needs a Docker engine with {DEFAULT_IMAGE} (make setup)")
def test_a_non_utf8_name_and_a_4000_character_path_are_graded(tmp_path: Path, short_dir: Path) -> None:
    plain = tmp_path / "plain"
    shutil.copytree(ROOT / "examples" / "submissions" / "tiny-moons-good", plain)
    hostile = short_dir / "s"
    shutil.copytree(plain, hostile)
    with open(os.fsencode(hostile) + b"/r\xe9sultats.md", "wb") as fh:  # noqa: PTH123 - a bytes path
        fh.write(b"notes\n")
    fd = os.open(hostile, os.O_RDONLY | os.O_DIRECTORY)  # 19 folders of 199 characters, by descriptors
    for _ in range(19):
        os.mkdir("d" * 199, dir_fd=fd)
        child = os.open("d" * 199, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    name = "n" * 197 + ".md"  # the path inside the submission: 19 x 200 + 200 = 4,000 characters
    out_fd = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(out_fd, b"notes\n")
    os.close(out_fd)
    os.close(fd)
    baseline = _grade(plain, tmp_path / "plain-out")
    graded = _grade(hostile, short_dir / "o")  # the executed copy must fit PATH_MAX too
    assert graded["coverage"] == 1.0 and graded["invalid"] == 0
    assert graded["score"] == baseline["score"]  # the extra notes change nothing the rubric asks
    metadata = json.loads((short_dir / "o" / "metadata.json").read_text())
    assert metadata["status"] == "completed"
    from judge.evidence import load_executed

    paths = load_executed(short_dir / "o").paths
    assert "r\\xe9sultats.md" in paths  # collected, listed escaped
    # the 4,000-character path is past the collection's path cap (runner.collect): recorded as
    # skipped, by name, never raised
    assert any("d" * 199 in line for line in metadata["skipped_files"]), metadata["skipped_files"][:3]
