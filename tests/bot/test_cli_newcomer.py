"""Invariant: a newcomer's slips get one helpful line: a mistyped command suggests the near ones, an
unknown paper in ``submit`` is refused before any push with the known ids listed, and the submitter
name defaults to git's ``user.name`` (made a valid branch word), not the login of the machine."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from bot.submit import default_submitter

ROOT = Path(__file__).resolve().parents[2]


def test_a_mistyped_command_suggests_the_near_one() -> None:
    result = CliRunner().invoke(main, ["judg"])
    assert result.exit_code == 2
    assert "No such command 'judg'. Did you mean 'judge'" in result.stderr
    result = CliRunner().invoke(main, ["zzzz"])
    assert result.exit_code == 2 and "Did you mean" not in result.stderr


def test_submit_refuses_an_unknown_paper_before_any_push(tmp_path: Path) -> None:
    (tmp_path / "reproduce.sh").write_text("echo hi\n")
    result = CliRunner().invoke(main, ["submit", str(tmp_path), "--paper", "no-such-paper"])
    assert result.exit_code == 1
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and "unknown paper 'no-such-paper'" in err[0] and "known: " in err[0]
    assert "remote ref" not in result.stderr and "Traceback" not in result.stderr


def test_the_submitter_name_defaults_to_git_user_name(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "config", "user.name", "Ada  Lovelace (ML)"], cwd=tmp_path, check=True)
    assert default_submitter(tmp_path) == "Ada-Lovelace-ML"


def test_the_package_metadata_uses_no_deprecated_license_table() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert isinstance(project["license"], str)  # a TOML table makes setuptools warn at every setup


def test_grade_without_a_key_points_only_to_options_grade_has(tmp_path: Path) -> None:
    env = {"GRADER_OPENAI_API_KEY": "", "OPENAI_API_KEY": "", "REPROBOT_CONFIG": ""}
    sub = ROOT / "examples" / "submissions" / "tiny-moons-good"
    args = ["grade", str(sub), "--paper", "tiny-moons", "--judge", "openai", "--out", str(tmp_path / "o")]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 1 and "Traceback" not in result.output
    named = set(re.findall(r"(--[a-z][a-z-]+)", result.stderr))
    assert named, result.stderr
    usage = CliRunner().invoke(main, ["grade", "--help"]).output
    assert all(option in usage for option in named), (named, result.stderr)
