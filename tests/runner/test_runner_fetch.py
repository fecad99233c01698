"""Fetching a submission takes exactly what was asked, runs none of its code, and leaves nothing
behind when it refuses (oversize, a reproduce.sh that is a link, paths escaping a tarball, unknown
ref). A submission without reproduce.sh is fetched (it is graded, not rejected); a clone that fails
on the network is an infrastructure error, not the submitter's fault.

Git is exercised for real: bare repositories and file:// clones made here.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from runner.errors import SubmissionError
from runner.fetch import fetch_submission, split_git_ref

MB = 1024 * 1024


def git(cwd: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "PATH": "/usr/bin:/bin",
        "HOME": str(cwd),
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture()
def repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A bare repository with main (v1, v2), a tag, a branch, and hooks that must never run."""
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    (work / "reproduce.sh").write_text("echo v1\n")
    git(work, "add", ".")
    git(work, "commit", "-qm", "v1")
    shas = {"v1": git(work, "rev-parse", "HEAD")}
    git(work, "tag", "release")
    git(work, "checkout", "-qb", "feature/x")
    (work / "feature.txt").write_text("f\n")
    git(work, "add", ".")
    git(work, "commit", "-qm", "feature")
    shas["feature"] = git(work, "rev-parse", "HEAD")
    git(work, "checkout", "-q", "main")
    (work / "reproduce.sh").write_text("echo v2\n")
    git(work, "commit", "-qam", "v2")
    shas["v2"] = git(work, "rev-parse", "HEAD")
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(work), str(bare))
    for hook in ("post-checkout", "post-merge", "reference-transaction", "post-index-change"):
        path = bare / "hooks" / hook
        path.write_text(f"#!/bin/sh\ntouch {tmp_path}/HOOK-RAN-{hook}\n")
        path.chmod(0o755)
    return bare, shas


def test_clone_default_branch_tag_branch_and_sha(tmp_path: Path, repo: tuple[Path, dict[str, str]]) -> None:
    bare, shas = repo
    url = f"file://{bare}"
    got = fetch_submission(url, tmp_path / "a", max_bytes=10 * MB)
    assert got.commit == shas["v2"] and (got.root / "reproduce.sh").read_text() == "echo v2\n"
    assert fetch_submission(f"{url}@release", tmp_path / "b", max_bytes=10 * MB).commit == shas["v1"]
    feat = fetch_submission(f"{url}@feature/x", tmp_path / "c", max_bytes=10 * MB)
    assert feat.commit == shas["feature"] and (feat.root / "feature.txt").exists()
    assert (
        fetch_submission(f"{url}@{shas['v1'][:10]}", tmp_path / "d", max_bytes=10 * MB).commit == shas["v1"]
    )
    assert not list(tmp_path.glob("HOOK-RAN-*"))


def test_unknown_ref_and_oversize_leave_nothing(tmp_path: Path, repo: tuple[Path, dict[str, str]]) -> None:
    bare, _ = repo
    with pytest.raises(SubmissionError, match="no branch, tag or commit"):
        fetch_submission(f"file://{bare}@nope", tmp_path / "x", max_bytes=10 * MB)
    assert not (tmp_path / "x").exists()
    with pytest.raises(SubmissionError, match="larger than the limit"):
        fetch_submission(f"file://{bare}", tmp_path / "y", max_bytes=1000)
    assert not (tmp_path / "y").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SubmissionError, match="larger than the limit"):
        fetch_submission(f"file://{bare}", empty, max_bytes=1000)
    assert empty.is_dir() and not any(empty.iterdir())


def test_disallowed_protocols_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SubmissionError):
        fetch_submission("ext::sh -c touch% /tmp/pwned", tmp_path / "x", max_bytes=MB)
    assert not (tmp_path / "x").exists()


def test_split_git_ref() -> None:
    assert split_git_ref("https://h/o/r.git@v1") == ("https://h/o/r.git", "v1")
    assert split_git_ref("https://user@h/o/r") == ("https://user@h/o/r", None)
    assert split_git_ref("git@github.com:o/r.git") == ("git@github.com:o/r.git", None)
    assert split_git_ref("git@github.com:o/r.git@feature/x") == ("git@github.com:o/r.git", "feature/x")


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, b""


def test_tarball_with_single_top_folder(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "s.tar.gz", [_file("sub/reproduce.sh", b"echo hi\n"), _file("sub/a/b.py")])
    got = fetch_submission(str(archive), tmp_path / "d", max_bytes=MB)
    assert got.root == tmp_path / "d" / "sub" and (got.root / "a" / "b.py").exists()


@pytest.mark.parametrize(
    "bad",
    [
        [_file("reproduce.sh"), _file("../escape.txt")],
        [_file("reproduce.sh"), _file("/abs.txt")],
        [_file("reproduce.sh"), _link("x", "/etc/passwd")],
        [_file("reproduce.sh"), _link("x", "../../outside")],
        [_file("reproduce.sh"), _link("h", "/etc/passwd", tarfile.LNKTYPE)],
        [_file("reproduce.sh"), _file("big.bin", b"x" * 2048)],
        [_link("reproduce.sh", "/etc/passwd")],
    ],
)
def test_bad_tarballs_are_refused_and_leave_nothing(tmp_path: Path, bad: list) -> None:
    archive = _tar(tmp_path / "bad.tar.gz", bad)
    with pytest.raises(SubmissionError):
        fetch_submission(str(archive), tmp_path / "d", max_bytes=1024)
    assert not (tmp_path / "d").exists()
    assert not (tmp_path / "escape.txt").exists() and not Path("/abs.txt").exists()


def test_directory_copy_and_missing_reproduce_sh(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "code.py").write_text("print(1)\n")
    got = fetch_submission(str(src), tmp_path / "nd", max_bytes=MB)  # no reproduce.sh: still fetched
    assert (got.root / "code.py").is_file() and not (got.root / "reproduce.sh").exists()
    (src / "reproduce.sh").write_text("echo\n")
    (src / "pw").symlink_to("/etc/passwd")
    got = fetch_submission(str(src), tmp_path / "d", max_bytes=MB)
    assert (got.root / "pw").is_symlink() and got.commit is None
    with pytest.raises(SubmissionError, match="new or empty"):
        fetch_submission(str(src), tmp_path / "d", max_bytes=MB)
    with pytest.raises(SubmissionError, match="not a folder"):
        fetch_submission(str(tmp_path / "nothing-here"), tmp_path / "e", max_bytes=MB)


def test_network_failures_are_infrastructure_errors(tmp_path: Path) -> None:
    from runner.errors import InfraError
    from runner.fetch import is_network_failure

    assert is_network_failure("fatal: unable to access 'https://x/': Could not resolve host: x")
    assert is_network_failure("fatal: unable to access 'https://x/': Failed to connect to x port 443")
    assert is_network_failure("error: RPC failed; curl 56 GnuTLS recv error\nfatal: early EOF")
    assert not is_network_failure("remote: Repository not found.\nfatal: repository 'https://x/' not found")
    assert not is_network_failure("fatal: unable to access 'https://x/': The requested URL returned error: 4")
    with pytest.raises(InfraError, match="on the network"):  # a port nothing listens on: refused
        fetch_submission("https://127.0.0.1:9/owner/repo.git", tmp_path / "d", max_bytes=MB)
    assert not (tmp_path / "d").exists()
