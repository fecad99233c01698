"""Fetch a submission: a directory, a git URL (``file://``, https, ssh) with ``@ref``, or a tarball.

Git runs with hooks disabled (``core.hooksPath=/dev/null``), without submodules, without prompts
and with only the file, https and ssh protocols allowed (no ``ext::``). A clone is watched while it
runs and killed past ``max_bytes``. Tarballs are checked member by member before anything is
written (no absolute paths, no ``..``, no links out, no device files, total size). Whatever fails,
``dest`` is left as it was found (nothing behind).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from runner.errors import InfraError, SubmissionError
from runner.reproduce import has_reproduce_sh
from runner.workspace import copy_in

GIT_SAFE_CONFIG = (
    "-c", "core.hooksPath=/dev/null",
    "-c", "protocol.allow=never",
    "-c", "protocol.file.allow=always",
    "-c", "protocol.https.allow=always",
    "-c", "protocol.ssh.allow=always",
    "-c", "core.fsmonitor=false",
    "-c", "submodule.recurse=false",
    "-c", "credential.helper=",
    "-c", "core.symlinks=true",
)  # fmt: skip
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:")
_SHA_RE = re.compile(r"^[0-9a-fA-F]{7,64}$")
@dataclass(frozen=True)
class FetchedSubmission:
    root: Path
    ref: str
    commit: str | None = None


def is_git_url(ref: str) -> bool:
    return ref.startswith(("file://", "https://", "http://", "ssh://", "git+ssh://")) or bool(
        _SCP_LIKE.match(ref)
    )


def split_git_ref(ref: str) -> tuple[str, str | None]:
    """``URL@REF`` -> (URL, REF); ``git@host:o/r.git`` keeps its user part."""
    url, sep, rev = ref.rpartition("@")
    if not sep or not rev or ":" in rev or not url:
        return ref, None
    if "://" in url:
        after = url.split("://", 1)[1]
        if "/" not in after:  # https://user@host/... : the @ belonged to the URL
            return ref, None
    elif not _SCP_LIKE.match(url) and not url.startswith("/"):
        return ref, None
    return url, rev


def _git_env(http_auth: str | None = None) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "SSH_AUTH_SOCK", "LANG", "TMPDIR")}
    if http_auth is not None:  # in git's environment only: never in argv, .git/config or the tree
        keep |= {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: {http_auth}",
        }
    return {
        **keep,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_ALLOW_PROTOCOL": "file:https:ssh",
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes",
        "GIT_LFS_SKIP_SMUDGE": "1",
    }


def _tree_size(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def _git(
    args: list[str],
    cwd: Path | None,
    *,
    max_bytes: int | None = None,
    watch: Path | None = None,
    timeout_s: float = 600,
    http_auth: str | None = None,
) -> str:
    cmd = ["git", *GIT_SAFE_CONFIG, *args]
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=_git_env(http_auth),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                out, err = proc.communicate(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if max_bytes is not None and watch is not None and _tree_size(watch) > max_bytes:
                    proc.kill()
                    proc.communicate()
                    raise SubmissionError(
                        f"repository is larger than the limit of {max_bytes} bytes"
                    ) from None
                if time.monotonic() > deadline:
                    proc.kill()
                    proc.communicate()
                    raise InfraError(f"git {args[0]} took longer than {timeout_s:.0f} s (network?)") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        text = err.decode(errors="replace").strip()
        message = text.splitlines()
        detail = message[-1] if message else f"exit {proc.returncode}"
        if args[0] in ("clone", "fetch") and is_network_failure(err.decode(errors="replace")):
            raise InfraError(f"git {args[0]} failed on the network: {detail}")
        raise SubmissionError(f"git {args[0]} failed: {detail}")
    return out.decode(errors="replace").strip()


_NETWORK_SIGNS = (
    "could not resolve host",
    "temporary failure in name resolution",
    "name or service not known",
    "failed to connect",
    "connection refused",
    "connection timed out",
    "operation timed out",
    "connection reset",
    "network is unreachable",
    "no route to host",
    "the remote end hung up unexpectedly",
    "early eof",
    "rpc failed",
    "gnutls_handshake",
    "ssl_connect",
    "tls connection",
    "proxy",
    "returned error: 5",  # HTTP 5xx: the forge's fault
    "returned error: 429",  # rate limited: the forge's, not the submitter's
    "unexpected disconnect",
)
_SUBMITTER_SIGNS = ("not found", "returned error: 4", "does not appear to be a git repository")


def is_network_failure(stderr: str) -> bool:
    """git's stderr says the network (or the forge) failed, not the submission (a 404, a bad URL)."""
    text = stderr.lower()
    if "returned error: 429" in text:
        return True
    if any(sign in text for sign in _SUBMITTER_SIGNS):
        return False
    return any(sign in text for sign in _NETWORK_SIGNS)


def _fetch_git(url: str, rev: str | None, dest: Path, max_bytes: int, http_auth: str | None = None) -> str:
    auth = http_auth if url.startswith("https://") else None  # never sent over anything else
    _git(
        ["clone", "--quiet", "--no-checkout", "--no-recurse-submodules", "--", url, str(dest)],
        None,
        max_bytes=max_bytes,
        watch=dest,
        http_auth=auth,
    )
    commit = None
    if rev is None:
        commit = _git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], dest)
    else:
        for candidate in (f"refs/remotes/origin/{rev}", f"refs/tags/{rev}", rev):
            try:
                commit = _git(["rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}"], dest)
                break
            except SubmissionError:
                continue
        if commit is None and _SHA_RE.match(rev):  # a commit no branch points to: ask for it
            try:
                _git(
                    ["fetch", "--quiet", "--no-recurse-submodules", "origin", rev],
                    dest,
                    max_bytes=max_bytes,
                    watch=dest,
                    http_auth=auth,
                )
                commit = _git(["rev-parse", "--verify", "--quiet", "FETCH_HEAD^{commit}"], dest)
            except SubmissionError:
                commit = None
        if commit is None:
            raise SubmissionError(f"{url}: no branch, tag or commit named {rev!r}")
    _git(["checkout", "--quiet", "--detach", commit], dest)
    if _tree_size(dest) > max_bytes:
        raise SubmissionError(f"repository is larger than the limit of {max_bytes} bytes")
    return commit


def _safe_member_name(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and "\x00" not in name


def _extract_tarball(archive: Path, dest: Path, max_bytes: int) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            total = 0
            for m in members:
                if not _safe_member_name(m.name):
                    raise SubmissionError(f"{archive}: member {m.name!r} escapes the extraction folder")
                if m.issym() or m.islnk():
                    target = (
                        PurePosixPath(m.name).parent / m.linkname if m.issym() else PurePosixPath(m.linkname)
                    )
                    if PurePosixPath(m.linkname).is_absolute() or not _safe_member_name(
                        os.path.normpath(target)
                    ):
                        raise SubmissionError(f"{archive}: link {m.name!r} points out of the submission")
                elif not (m.isfile() or m.isdir()):
                    raise SubmissionError(f"{archive}: member {m.name!r} is not a file, folder or link")
                total += max(m.size, 0)
                if total > max_bytes:
                    raise SubmissionError(f"{archive}: larger than the limit of {max_bytes} bytes")
            tar.extractall(dest, members=members, filter="data")
    except tarfile.TarError as exc:
        raise SubmissionError(f"{archive}: not a readable tarball ({exc})") from None


def _single_top(dest: Path) -> Path:
    """A tarball holding one folder: that folder is the submission."""
    entries = [e for e in dest.iterdir()]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return dest


def fetch_submission(
    ref: str, dest: Path, *, max_bytes: int, http_auth: str | None = None
) -> FetchedSubmission:
    """Materialise ``ref`` under ``dest`` (which must not exist or be empty) and check it.

    ``http_auth``: an ``Authorization`` header value for an https git URL (a private repository's
    short-lived token); it lives in git's environment for the clone only."""
    dest = Path(dest)
    created = not dest.exists()
    if not created and (not dest.is_dir() or any(dest.iterdir())):
        raise SubmissionError(f"{dest}: destination must be a new or empty folder")
    try:
        commit: str | None = None
        root = dest
        local = Path(ref)
        if not is_git_url(ref) and local.is_dir():
            size = _tree_size(local)
            if size > max_bytes:
                raise SubmissionError(f"{ref}: larger than the limit of {max_bytes} bytes")
            if dest.exists():
                dest.rmdir()
            copy_in(local, dest)
        elif not is_git_url(ref) and local.is_file() and ref.endswith(TAR_SUFFIXES):
            dest.mkdir(parents=True, exist_ok=True)
            _extract_tarball(local, dest, max_bytes)
            root = _single_top(dest)
        elif is_git_url(ref) or (not local.exists() and Path(ref.rpartition("@")[0] or ref).is_dir()):
            if is_git_url(ref):
                url, rev = split_git_ref(ref)
            else:  # a local repository path with @REF
                url, _, rev_text = ref.rpartition("@")
                rev = rev_text or None
            if dest.exists():
                dest.rmdir()
            commit = _fetch_git(url, rev, dest, max_bytes, http_auth)
        else:
            raise SubmissionError(f"{ref}: not a folder, a tarball ({', '.join(TAR_SUFFIXES)}) or a git URL")
        has_reproduce_sh(root)  # a link or folder named reproduce.sh is refused; none is fine
        return FetchedSubmission(root=root, ref=ref, commit=commit)
    except BaseException:
        _remove_tree(dest, keep_dir=not created)
        raise


def _remove_tree(path: Path, *, keep_dir: bool) -> None:
    if not path.exists() and not path.is_symlink():
        return

    def onerror(func: object, p: str, exc: object) -> None:
        try:
            os.chmod(p, stat.S_IRWXU)
        except OSError:
            pass

    if keep_dir:
        for entry in list(path.iterdir()):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, onerror=onerror)
            else:
                entry.unlink()
    else:
        shutil.rmtree(path, onerror=onerror)
