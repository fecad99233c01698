"""The command line as people meet it: ``reprobot init`` writes a configuration that loads back to
every default and ``config check`` accepts; a YAML error is named by line and column and an unknown
key gets the nearest known one (in ``config check`` and in every command reading the file); an
error is printed once; the live progress line never wraps in the terminal's width."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from bot.cli import main
from bot.cli.progress import TerminalProgress
from bot.settings import Settings, load_settings


def test_init_writes_every_default_and_check_accepts_it(tmp_path: Path) -> None:
    runner = CliRunner()
    path = tmp_path / "reprobot.yaml"
    assert runner.invoke(main, ["init", str(path)]).exit_code == 0
    text = path.read_text()
    for section in ("runner:", "bot:", "judge:", "leaderboard:", "quotas:", "dispatch:", "github:", "forge:"):
        assert f"\n{section}" in text
    assert "pass_threshold: null" in text and "graded_runs_per_paper_per_day: null" in text
    assert "# first retry delay; doubles each attempt" in text  # the code's own comment travels along
    loaded = load_settings(path, environ={})
    defaults = Settings()
    for section in ("bot", "dispatch", "github", "forge", "judge", "leaderboard", "quotas"):
        assert getattr(loaded, section) == getattr(defaults, section), section
    r = runner.invoke(main, ["config", "check", str(path)])
    assert r.exit_code == 0 and "ok" in r.output
    assert runner.invoke(main, ["init", str(path)]).exit_code == 2  # never overwrites silently


def test_every_commented_key_of_init_can_be_uncommented_as_it_stands(tmp_path: Path) -> None:
    """A commented-out key in the template is a valid line of its section: uncommenting any one of
    them (and nothing else) leaves a file that ``config check`` accepts."""
    runner = CliRunner()
    path = tmp_path / "reprobot.yaml"
    assert runner.invoke(main, ["init", str(path)]).exit_code == 0
    lines = path.read_text().splitlines()
    keys = [i for i, line in enumerate(lines) if re.match(r"^\s+# [a-z_]+: ", line)]
    assert len(keys) >= 3  # rubrics_dir, blacklists_dir, cache_dir at least
    for i in keys:
        edited = [*lines[:i], lines[i].replace("# ", "", 1), *lines[i + 1 :]]
        path.write_text("\n".join(edited) + "\n")
        r = runner.invoke(main, ["config", "check", str(path)])
        assert r.exit_code == 0, (lines[i], r.output)


def test_check_names_line_column_and_nearest_key(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = tmp_path / "bad.yaml"
    bad.write_text("bot:\n  pass_treshold: 0.5\nrunner:\n  timeout_s: -1\n")
    r = runner.invoke(main, ["config", "check", str(bad)])
    assert r.exit_code == 1
    assert f"{bad}:2:3: unknown key 'bot.pass_treshold'; did you mean 'pass_threshold'?" in r.output
    assert f"{bad}:4:3: key 'runner.timeout_s'" in r.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("bot:\n  check_name: x: y\n")
    r = runner.invoke(main, ["config", "check", str(broken)])
    assert r.exit_code == 1 and f"{broken}:2:16: not valid YAML: mapping values" in r.output
    bad.write_text("bot:\n  pass_treshold: 0.5\n")
    r = runner.invoke(main, ["--config", str(bad), "jobs"])  # any command reading it says the same
    assert r.exit_code == 1 and "did you mean 'pass_threshold'" in r.output
    assert r.output.count("pass_treshold") == 1


def test_an_error_is_printed_once(tmp_path: Path) -> None:
    args = ["grade", str(tmp_path / "nope"), "--paper", "tiny-moons", "--out", str(tmp_path / "o")]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 1
    assert r.output.count("not a folder") == 1, r.output


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_fits_the_terminal(monkeypatch: Any) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    stream = _Tty()
    progress = TerminalProgress(stream, min_interval_s=0)
    progress("reproducing", "epoch 1/100 loss 0.6931 " * 10)
    progress("judging", "leaf 12 of 29: The MLP test accuracy exceeds the logistic regression one")
    progress.close()
    for chunk in stream.getvalue().replace("\r", "\n").splitlines():
        assert len(chunk) <= 39, chunk
    assert "…" in stream.getvalue()
