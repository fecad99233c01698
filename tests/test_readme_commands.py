"""The README's command list is the command line: every command it names exists, every option it
shows is in that command's ``--help``, and every command of ``reprobot --help`` is listed; one idea
has one spelling (the dummy judge is ``--judge dummy`` wherever a command offers it)."""

from __future__ import annotations

import re
from pathlib import Path

import click
from click.testing import CliRunner

from bot.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def _listed() -> list[str]:
    text = README.read_text(encoding="utf-8")
    block = text.split("## Command line", 1)[1].split("```", 2)[1]
    return [line for line in block.splitlines() if line.startswith("reprobot ")]


CTX = click.Context(main)


def _commands(group: click.Group) -> dict[str, click.Command]:
    """A group's commands, loaded as `reprobot` loads them (the top level is lazy)."""
    found = {name: group.get_command(CTX, name) for name in group.list_commands(CTX)}
    return {name: cmd for name, cmd in found.items() if cmd is not None}


def _command(words: list[str]) -> tuple[list[str], click.Command]:
    cmd: click.Command = main
    path: list[str] = []
    for word in words:
        subs = _commands(cmd) if isinstance(cmd, click.Group) else {}
        if word in subs:
            cmd = subs[word]
            path.append(word)
        else:
            break
    return path, cmd


def test_every_listed_command_and_option_is_real() -> None:
    runner = CliRunner()
    lines = _listed()
    assert len(lines) >= 20
    for line in lines:
        usage = line.split("   ")[0]  # the description follows a run of spaces
        for part in usage.split(" | "):
            words = part.replace("reprobot ", "", 1).split() if part.startswith("reprobot") else part.split()
            path, cmd = _command(words)
            assert path, f"README names an unknown command: {part!r}"
            help_text = runner.invoke(main, [*path, "--help"]).output
            assert "Usage:" in help_text, f"{path}: {help_text}"
            for option in re.findall(r"--[a-z][a-z-]*", part):
                assert option in help_text, f"README shows {option} for `reprobot {' '.join(path)}`"


def test_every_command_is_listed() -> None:
    listed = {" ".join(_command(line.split()[1:])[0]) for line in _listed()}
    listed |= {" ".join(_command(p.split())[0]) for line in _listed() for p in line.split(" | ")[1:]}
    for name, cmd in _commands(main).items():
        if isinstance(cmd, click.Group):
            for sub in _commands(cmd):
                assert f"{name} {sub}" in listed, f"`reprobot {name} {sub}` is missing from the README"
        else:
            assert name in listed, f"`reprobot {name}` is missing from the README"


def test_one_spelling_for_the_dummy_judge() -> None:
    def walk(cmd: click.Command, path: str) -> list[tuple[str, click.Parameter]]:
        out = [(path, p) for p in cmd.params]
        if isinstance(cmd, click.Group):
            for name, sub in _commands(cmd).items():
                out += walk(sub, f"{path} {name}")
        return out

    offered = []
    for path, param in walk(main, "reprobot"):
        if not isinstance(param, click.Option):
            continue
        if isinstance(param.type, click.Choice) and "dummy" in param.type.choices:
            assert param.opts == ["--judge"], f"{path} {param.opts}: spell it --judge dummy"
            offered.append(path)
        visible = [o for o in param.opts + param.secondary_opts if not param.hidden]
        assert not any("dummy" in o and "include" not in o for o in visible), f"{path}: {visible}"
    assert {"reprobot grade", "reprobot judge", "reprobot judge-eval-run"} <= set(offered)
