"""The blacklist scan finds every use of a blacklisted URL, in any spelling, and nothing else.

Invariants: URL normalisation (scheme, www., host case, .git, trailing slash, query, fragment, scp
form) never hides a use; siblings and look-alike hosts are not violations; binary files, symlinks
and .git internals other than config are ignored; reprobot's log rule (5 lines) and PaperBench's
monitor rule exactly (reduced URL, case-sensitive substring, git clone/curl/wget within 3 lines, on
agent.log; consequence: score 0 under fail, not a rejection) are reported side by side, labelled;
the report matches docs/FORMATS.md blacklist.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.blacklist import normalise_url, paperbench_reduce, scan_submission

BL = ["https://github.com/ROIM1998/APT"]


@pytest.mark.parametrize(
    "spelling",
    [
        "https://github.com/ROIM1998/APT",
        "http://www.github.com/roim1998/apt.git",
        "https://GitHub.com/ROIM1998/APT/",
        "https://github.com/ROIM1998/APT?tab=readme#install",
        "git@github.com:ROIM1998/APT.git",
        "ssh://git@github.com:22/ROIM1998/APT",
        "git+https://github.com/ROIM1998/APT.git@main",
        "github.com/ROIM1998/APT/blob/main/train.py",
    ],
)
def test_every_spelling_is_found(tmp_path: Path, spelling: str) -> None:
    (tmp_path / "x.py").write_text(f"# see\nURL = '{spelling}'\n")
    report = scan_submission(tmp_path, BL)
    assert len(report.violations) == 1, spelling
    v = report.violations[0]
    assert (v.file, v.line, v.url, v.source) == ("x.py", 2, BL[0], "submission")
    assert spelling.split("@main")[0] in v.matched or v.matched in spelling
    assert spelling[:20] in v.context


@pytest.mark.parametrize(
    "other",
    [
        "https://github.com/ROIM1998/APT-extended",
        "https://github.com/ROIM1998/APTx",
        "https://notgithub.com/ROIM1998/APT",
        "https://gist.github.com/ROIM1998/APT",
        "https://github.com/someone/ROIM1998/APT",
        "https://github.com/ROIM1998",
    ],
)
def test_siblings_and_lookalikes_are_not_violations(tmp_path: Path, other: str) -> None:
    (tmp_path / "README.md").write_text(f"[link]({other})\n")
    assert scan_submission(tmp_path, BL).violations == ()


def test_normalise_url() -> None:
    assert normalise_url("https://www.GitHub.com/Org/Repo.git/?x=1#y") == "github.com/org/repo"
    assert normalise_url("git@github.com:Org/Repo.git") == "github.com/org/repo"
    assert normalise_url("https://user:pw@host.org:8443/a/") == "host.org/a"


def test_kinds_of_files_and_git_remotes(tmp_path: Path) -> None:
    url = "https://github.com/ROIM1998/APT"
    (tmp_path / "requirements.txt").write_text(f"numpy\ngit+{url}.git\n")
    (tmp_path / "nb.ipynb").write_text(json.dumps({"cells": [{"source": [f"!git clone {url}\n"]}]}))
    (tmp_path / ".gitmodules").write_text(f'[submodule "apt"]\n\tpath = apt\n\turl = {url}.git\n')
    (tmp_path / "environment.yml").write_text(f"dependencies:\n  - pip:\n    - git+{url}\n")
    git = tmp_path / "vendor" / ".git"
    git.mkdir(parents=True)
    (git / "config").write_text(f'[remote "origin"]\n\turl = {url}.git\n')
    (git / "packed-refs").write_text(f"{url}\n")  # .git internals other than config: ignored
    (tmp_path / "weights.bin").write_bytes(b"\x00\x01" + url.encode() + b"\x00")
    (tmp_path / "link.txt").symlink_to(tmp_path / "requirements.txt")
    (
        tmp_path / "lat\xe9-\udcff.txt".encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")
    ).write_bytes(b"\xff\xfe " + url.encode() + b"\n")
    report = scan_submission(tmp_path, [url])
    files = sorted(v.file for v in report.violations)
    assert "requirements.txt" in files and "nb.ipynb" in files and ".gitmodules" in files
    assert "environment.yml" in files and "vendor/.git/config" in files
    assert not any(f.endswith(("weights.bin", "packed-refs", "link.txt")) for f in files)
    assert len(files) == 6


def test_empty_blacklist_and_report_format(tmp_path: Path) -> None:
    (tmp_path / "a.sh").write_text("wget https://github.com/ROIM1998/APT\n")
    assert scan_submission(tmp_path, []).violations == ()
    report = scan_submission(tmp_path, BL)
    data = report.to_dict("fail")
    assert data["policy"] == "fail" and data["blocked"] is True and data["blacklist"] == BL
    assert set(data["violations"][0]) == {"source", "file", "line", "url", "matched", "context", "rule"}
    assert data["violations"][0]["rule"] == "reprobot" and data["score_zero"] is False
    assert report.to_dict("report")["blocked"] is False
    json.dumps(data)


def test_logs_follow_the_monitor_rule(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    log = tmp_path / "reproduce.log"
    log.write_text(
        "step 1\nCloning into 'APT'...\n+ git clone https://github.com/ROIM1998/APT\n"
        + "filler\n" * 20
        + "we were told not to use https://github.com/ROIM1998/APT\n"
    )
    agent = tmp_path / "agent.log"
    agent.write_text("$ curl -L \\\n   https://github.com/roim1998/apt/archive/main.zip\n")
    report = scan_submission(sub, BL, logs={"reproduce.log": log, "agent.log": agent})
    got = [(v.source, v.line) for v in report.reprobot_violations]
    assert got == [("reproduce.log", 3), ("agent.log", 2)]
    assert report.paperbench_violations == ()  # PaperBench's rule is case-sensitive: no hit


def test_paperbench_monitor_rule_exactly(tmp_path: Path) -> None:
    assert paperbench_reduce("https://github.com/ROIM1998/APT?tab=readme#top") == "github.com/ROIM1998/APT"
    sub = tmp_path / "sub"
    sub.mkdir()
    lines = ["a", "git clone x", "b", "c", "see github.com/ROIM1998/APT/tree", "d", "e", "f", "g"]
    (sub / "agent.log").write_text("\n".join(lines) + "\n")  # the command 3 lines above: a hit
    report = scan_submission(sub, BL)
    pb = report.paperbench_violations
    assert [(v.source, v.line, v.rule) for v in pb] == [("agent.log", 5, "paperbench")]
    assert report.score_zero("fail") and not report.score_zero("report")
    assert not report.blocked("fail")  # the agent log's consequence is score 0, not a rejection
    data = report.to_dict("fail")
    assert data["score_zero"] is True and data["paperbench_monitor"]["violations"] == 1

    far = ["git clone x", "1", "2", "3", "github.com/ROIM1998/APT"]  # 4 lines away: no hit
    (sub / "agent.log").write_text("\n".join(far) + "\n")
    assert scan_submission(sub, BL).paperbench_violations == ()
    (sub / "agent.log").write_text("wget https://github.com/roim1998/APT\n")  # other case: no hit
    assert scan_submission(sub, BL).paperbench_violations == ()
    (sub / "agent.log").write_text("curl -O http://github.com/ROIM1998/APT.zip\n")  # substring: a hit
    assert len(scan_submission(sub, BL).paperbench_violations) == 1
    named = tmp_path / "elsewhere.log"
    named.write_text("wget github.com/ROIM1998/APT\n")
    (sub / "agent.log").unlink()
    assert len(scan_submission(sub, BL, logs={"agent.log": named}).paperbench_violations) == 1


def test_big_file_hits_across_chunks(tmp_path: Path) -> None:
    chunk = 16 * 1024 * 1024
    url = b"https://github.com/ROIM1998/APT"
    data = bytearray(b"x" * (chunk + 10))
    data[chunk - 10 : chunk - 10 + len(url)] = url  # straddles the first chunk boundary
    data += b"\n" + url + b"\n"
    (tmp_path / "big.txt").write_bytes(bytes(data))
    report = scan_submission(tmp_path, BL)
    assert [v.line for v in report.violations] == [1, 2]


def test_long_blacklists_use_the_combined_matcher(tmp_path: Path) -> None:
    many = [f"https://github.com/org{i}/repo{i}" for i in range(50)]
    (tmp_path / "a.py").write_text(
        "x = 'https://github.com/org42/repo42.git'\ny = 'https://github.com/org4/repo'\n"
    )
    report = scan_submission(tmp_path, many)
    assert [(v.url, v.line) for v in report.violations] == [("https://github.com/org42/repo42", 1)]
