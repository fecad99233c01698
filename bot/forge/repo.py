"""The local git forge: the embedded default, with no GitHub and no network.

A bare repository holds one ``paper/<id>`` branch per paper. A participant pushes a submission
branch named ``submit/<paper-id>/<anything>``; the ``post-receive`` hook hands each pushed commit to
``reprobot forge hook``, which queues a grade in the same durable queue the GitHub mode uses. When a
job is graded the worker writes the score as a git note (``refs/notes/reprobot``) on the submitted
commit, so ``git log --notes=reprobot`` shows it.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.errors import BotError

NOTES_REF = "reprobot"
PR_NUMBERS = "reprobot-prs.json"  # in the bare repository: submission branch -> its PR number
SUBMIT_RE = re.compile(r"^refs/heads/submit/(?P<paper>[A-Za-z0-9][A-Za-z0-9._-]{0,127})/(?P<name>.+)$")
ZERO_SHA = "0" * 40

HOOK_TEMPLATE = """#!/bin/sh
# Installed by `reprobot forge init`: queue a grade for each pushed submission branch.
# It runs from the folder `forge init` ran in, so relative paths in the configuration still hold.
unset GIT_DIR GIT_QUARANTINE_PATH
cd {cwd} || exit 1
exec {python} -m bot.cli {config} forge hook --forge {forge}
"""


class RefMoved(BotError):
    """A branch moved between the read and the compare-and-swap of its update."""


@dataclass(frozen=True, slots=True)
class PushedSubmission:
    paper_id: str
    branch: str
    sha: str


def parse_post_receive(lines: Iterable[str]) -> Iterator[PushedSubmission]:
    """Lines of ``<old> <new> <ref>``; only created or updated ``submit/<paper>/...`` branches count."""
    for line in lines:
        parts = line.split()
        if len(parts) != 3:
            continue
        _old, new, ref = parts
        match = SUBMIT_RE.match(ref)
        if match is None or new == ZERO_SHA or not re.fullmatch(r"[0-9a-f]{40}", new):
            continue
        yield PushedSubmission(match["paper"], ref.removeprefix("refs/heads/"), new)


def _git(
    *args: str, cwd: Path | None = None, input_text: str | None = None, index: Path | None = None
) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    if index is not None:
        env["GIT_INDEX_FILE"] = str(index)
    env.update(GIT_TERMINAL_PROMPT="0", GIT_AUTHOR_NAME="reprobot", GIT_AUTHOR_EMAIL="reprobot@localhost",
               GIT_COMMITTER_NAME="reprobot", GIT_COMMITTER_EMAIL="reprobot@localhost")  # fmt: skip
    proc = subprocess.run(
        ["git", "-c", "core.hooksPath=/dev/null", *args],
        cwd=cwd, input=input_text, capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise BotError(f"git {' '.join(args[:2])} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return proc.stdout


class LocalForge:
    def __init__(self, path: Path) -> None:
        self.path = Path(path).resolve()

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    def exists(self) -> bool:
        return (self.path / "HEAD").is_file() and (self.path / "objects").is_dir()

    def init(self, paper_ids: Iterable[str], *, config_path: Path | None = None) -> list[str]:
        """Create the bare repository (if needed), a ``paper/<id>`` branch per paper, and the hook."""
        if not self.exists():
            self.path.mkdir(parents=True, exist_ok=True)
            _git("init", "--bare", "--initial-branch=main", str(self.path))
        created = []
        refs = _git("for-each-ref", "--format=%(refname:short)", "refs/heads/", cwd=self.path)
        existing = set(refs.split())
        for paper_id in paper_ids:
            branch = f"paper/{paper_id}"
            if branch in existing:
                continue
            self._create_branch(branch, self._paper_readme(paper_id))
            created.append(branch)
        if "main" not in existing:
            self._create_branch("main", self._main_readme())
        self.install_hook(config_path)
        return created

    @staticmethod
    def _main_readme() -> str:
        return (
            "# reprobot local forge\n\nOne branch `paper/<id>` per paper. Submit by pushing a branch\n"
            "`submit/<paper-id>/<your-name>` holding `reproduce.sh` at its root; read scores with\n"
            f"`git fetch origin 'refs/notes/*:refs/notes/*' && git log --notes={NOTES_REF}`.\n"
        )

    @staticmethod
    def _paper_readme(paper_id: str) -> str:
        return (
            f"# Submissions for paper `{paper_id}`\n\n"
            f"Push your reproduction (a repository with `reproduce.sh` at its root) to a branch named\n"
            f"`submit/{paper_id}/<your-name>`; the score appears as a git note:\n"
            f"`git fetch origin 'refs/notes/*:refs/notes/*' && git log --notes={NOTES_REF}`.\n"
        )

    def _create_branch(self, branch: str, readme: str) -> None:
        blob = _git("hash-object", "-w", "--stdin", cwd=self.path, input_text=readme).strip()
        tree = _git("mktree", cwd=self.path, input_text=f"100644 blob {blob}\tREADME.md\n").strip()
        message = f"{branch}: created by reprobot forge init"
        commit = _git("commit-tree", tree, "-m", message, cwd=self.path).strip()
        _git("update-ref", f"refs/heads/{branch}", commit, cwd=self.path)

    def install_hook(self, config_path: Path | None = None) -> Path:
        hook = self.path / "hooks" / "post-receive"
        hook.parent.mkdir(exist_ok=True)
        config = f"--config {shlex.quote(str(config_path.resolve()))}" if config_path else ""
        hook.write_text(
            HOOK_TEMPLATE.format(
                python=shlex.quote(sys.executable),
                config=config,
                forge=shlex.quote(str(self.path)),
                cwd=shlex.quote(os.getcwd()),
            ),
            encoding="utf-8",
        )
        hook.chmod(0o755)
        return hook

    def pr_number(self, branch: str) -> int:
        """The submission branch's PR number: 1, 2, 3, ... in the order branches were first pushed
        (kept in the repository, so every push of a branch, and its comments, share it)."""
        path = self.path / PR_NUMBERS
        with open(self.path / f".{PR_NUMBERS}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                numbers = json.loads(path.read_text(encoding="utf-8"))
            except (FileNotFoundError, ValueError):
                numbers = {}
            if not isinstance(numbers, dict):
                numbers = {}
            if branch not in numbers:
                numbers[branch] = max((int(n) for n in numbers.values()), default=0) + 1
                tmp = path.with_name(f".{PR_NUMBERS}.tmp")
                tmp.write_text(json.dumps(numbers, indent=1, sort_keys=True), encoding="utf-8")
                tmp.replace(path)
            return int(numbers[branch])

    def add_note(self, sha: str, text: str) -> None:
        """Attach (or replace) the reprobot note on a commit."""
        _git("notes", f"--ref={NOTES_REF}", "add", "-f", "-m", text, sha, cwd=self.path)

    def note(self, sha: str) -> str | None:
        try:
            return _git("notes", f"--ref={NOTES_REF}", "show", sha, cwd=self.path)
        except BotError:
            return None

    def branch_head(self, branch: str) -> str | None:
        try:
            head = _git("rev-parse", "--verify", "-q", f"refs/heads/{branch}^{{commit}}", cwd=self.path)
            return head.strip()
        except BotError:
            return None

    def commit_files(
        self, branch: str, files: dict[str, bytes], message: str, expected: str | None | bool = True
    ) -> str | None:
        """One commit on ``branch`` (created if missing) holding ``files`` over its tree; None when
        nothing changed. The ref moves by compare-and-swap from the head read here, or from
        ``expected`` when given (None: the branch must not exist yet); ``RefMoved`` when another
        writer moved it meanwhile (nothing is lost: the caller reads again and retries)."""
        import tempfile

        ref = f"refs/heads/{branch}"
        parent = self.branch_head(branch) if expected is True else expected or None
        if expected is not True and self.branch_head(branch) != parent:
            raise RefMoved(f"{branch} moved since it was read")
        with tempfile.TemporaryDirectory() as tmp:
            index = Path(tmp) / "index"
            if parent:
                _git("read-tree", parent, cwd=self.path, index=index)
            for path, content in files.items():
                blob = _git("hash-object", "-w", "--stdin", cwd=self.path,
                            input_text=content.decode("utf-8", errors="replace")).strip()  # fmt: skip
                entry = f"100644,{blob},{path}"
                _git("update-index", "--add", "--cacheinfo", entry, cwd=self.path, index=index)
            tree = _git("write-tree", cwd=self.path, index=index).strip()
        if parent and _git("rev-parse", f"{parent}^{{tree}}", cwd=self.path).strip() == tree:
            return None
        args = ["commit-tree", tree, "-m", message] + (["-p", parent] if parent else [])
        commit = _git(*args, cwd=self.path).strip()
        try:  # compare-and-swap: only from the head this commit was built on
            _git("update-ref", "-m", message[:200], ref, commit, parent or ZERO_SHA, cwd=self.path)
        except BotError as exc:
            raise RefMoved(f"{branch} moved while publishing ({exc})") from None
        return commit

    def submission_ref(self, sha: str) -> str:
        """What the runner fetches: this forge's URL at exactly that commit."""
        return f"{self.url}@{sha}"
