"""Every relative path in a config file is relative to that file, so ``serve`` and ``worker`` started
in different folders with the same file use the same queue, results, forge and leaf cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.judge_setup import judge_settings_for
from bot.settings import forge_path, load_settings, queue_path, results_dir


def test_relative_paths_follow_the_config_file_not_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf_dir = tmp_path / "etc"
    conf_dir.mkdir()
    config = conf_dir / "reprobot.yaml"
    config.write_text(
        "data_dir: state\n"
        "forge:\n  path: git/forge.git\n"
        "judge:\n  cache_path: cache/leaves.sqlite\n"
        "bot:\n  results_dir: out\n"
    )
    seen = []
    for cwd in (tmp_path / "a", tmp_path / "b" / "c"):
        cwd.mkdir(parents=True)
        monkeypatch.chdir(cwd)
        s = load_settings(config)
        seen.append(
            (queue_path(s), results_dir(s), forge_path(s), judge_settings_for(s).cache_path, s.data_dir)
        )
    assert seen[0] == seen[1]
    q, results, forge, cache, data = seen[0]
    assert data == conf_dir / "state" and q == conf_dir / "state" / "queue.sqlite3"
    assert results == conf_dir / "out" and forge == conf_dir / "git" / "forge.git"
    assert cache == conf_dir / "cache" / "leaves.sqlite"


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    config = tmp_path / "reprobot.yaml"
    config.write_text(f"data_dir: {tmp_path / 'abs'}\n")
    assert load_settings(config).data_dir == tmp_path / "abs"


def test_without_a_data_dir_key_the_state_lives_beside_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "etc" / "reprobot.yaml"
    config.parent.mkdir()
    config.write_text("bot:\n  pass_threshold: 0.5\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    s = load_settings(config)
    assert s.data_dir == config.parent / ".reprobot"
    assert queue_path(s) == config.parent / ".reprobot" / "queue.sqlite3"
