"""Run ``reproduce.sh`` of a submission in a container and collect what it left.

The sandbox is a profile (``runner.profiles``): ``paperbench`` (the default, PaperBench's
contract: root in a fresh container with a writable filesystem thrown away after the run, from the
submission folder, ``venv``/``.venv`` removed first) or ``locked`` (non-root, read-only root).
Both: a *copy* of the submission is the only host path, no host environment, no docker socket,
limits on pids, memory (no swap) and CPU, no-new-privileges, the engine's seccomp profile.

A run: the start time is recorded (``OUT/reproduce.log.creation_time``, as PaperBench's ``date
+%s``, and in ``metadata.json``); stdout+stderr go to ``OUT/reproduce.log`` (head and tail kept);
the exit code is kept. The deadline is enforced twice: reprobot kills the container at the
timeout, and the container's own entry wraps ``reproduce.sh`` in ``timeout`` (timeout + grace), so
a killed reprobot or a lost engine leaves nothing running past it; containers and temp folders are
labelled/named for ``runner.janitor.sweep``. The container is always removed (also on Ctrl-C or
SIGTERM). Salvage (PaperBench's): a run that failed in under ``salvage_under_s`` is tried again
with another Python (where the image has two), with a fresh venv activated, and with both; every
attempt's log and metadata are kept under ``OUT/attempts/N/``, the last attempt is graded.
No ``reproduce.sh`` is not a rejection: the executed layout is written without a run
(``status: not_run``) and the judge fails the run-based criteria.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import stat
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from runner.config import RunnerSettings, parse_size
from runner.engine import Container, ContainerEngine, ContainerSpec, ExitState, GpuRequest
from runner.errors import InfraError, SubmissionError
from runner.gpu import GpuSnapshot, detect_host, probe, resolve_request
from runner.image import PYTHONS_LABEL
from runner.janitor import DEADLINE_LABEL, OWNER_LABEL, RUN_LABEL, give_back, owner_label, temp_dir
from runner.logcap import CappedLog, LogPump
from runner.metadata import AttemptRecord, FileChange, RunMetadata, RunStatus
from runner.profiles import Profile, ProfileName, get_profile
from runner.workspace import chown_tree, collect, copy_in, diff, snapshot

__all__ = ["RUN_LABEL", "ReproduceOptions", "Variation", "reproduce", "record_without_run"]

CONTAINER_UID = 1000
CONTAINER_HOME = "/home/repro"
_DEFAULTS = RunnerSettings()

# The container's entry: PaperBench's command (rm -rf venv .venv; bash reproduce.sh) with the
# salvage variation applied first and the deadline enforced by timeout(1) inside the container.
ENTRY = r"""
deadline="$1"; py="$2"; venv="$3"; clean="$4"
if [ "$clean" = 1 ]; then rm -rf venv .venv; fi
if [ -n "$py" ]; then
  p="$(command -v "python$py")" || { echo "[reprobot: python$py is not in this image]"; exit 127; }
  d=/usr/local/bin
  if ! [ -w "$d" ]; then d=/tmp/.reprobot-bin; mkdir -p "$d"; export PATH="$d:$PATH"; fi
  ln -sf "$p" "$d/python3"; ln -sf "$p" "$d/python"
  echo "[reprobot: salvage: python3 is now $("$p" --version 2>&1)]"
fi
if [ "$venv" = 1 ]; then
  python3 -m venv venv && . venv/bin/activate || exit 126
  echo "[reprobot: salvage: fresh venv activated]"
fi
exec timeout -s KILL "$deadline" bash reproduce.sh
"""


@dataclass(frozen=True)
class ReproduceOptions:
    """The runner settings a run uses (defaults are RunnerSettings' own), plus run-only knobs."""

    profile: ProfileName = _DEFAULTS.profile
    image: str = _DEFAULTS.image
    timeout_s: float = float(_DEFAULTS.timeout_s)
    memory: str = _DEFAULTS.memory
    cpus: float = _DEFAULTS.cpus
    pids_limit: int = _DEFAULTS.pids_limit
    gpus: str = _DEFAULTS.gpus
    network: str = _DEFAULTS.network
    tmpfs_size: str = _DEFAULTS.tmpfs_size
    user: str | None = _DEFAULTS.user
    log_cap_bytes: int = _DEFAULTS.log_cap_bytes
    file_cap_bytes: int = _DEFAULTS.file_cap_bytes
    total_cap_bytes: int = _DEFAULTS.total_cap_bytes
    salvage: bool = _DEFAULTS.salvage
    salvage_under_s: float = _DEFAULTS.salvage_under_s
    deadline_grace_s: float = _DEFAULTS.deadline_grace_s
    kill_grace_s: float = 10.0  # how long to wait for the engine after a kill

    @classmethod
    def from_settings(cls, settings: RunnerSettings, **overrides: Any) -> ReproduceOptions:
        values = {f.name: getattr(settings, f.name) for f in fields(cls) if hasattr(settings, f.name)}
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["timeout_s"] = float(values["timeout_s"])
        return cls(**values)

    def limits(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "timeout_s": self.timeout_s,
            "deadline_grace_s": self.deadline_grace_s,
            "memory": self.memory,
            "memory_bytes": parse_size(self.memory),
            "swap": False,
            "cpus": self.cpus,
            "pids": self.pids_limit,
            "network": self.network,
            "gpus": self.gpus,
            "tmpfs": self.tmpfs_size if get_profile(self.profile).tmpfs else None,
            "log_cap_bytes": self.log_cap_bytes,
            "file_cap_bytes": self.file_cap_bytes,
            "total_cap_bytes": self.total_cap_bytes,
        }


@dataclass(frozen=True)
class Variation:
    """PaperBench's salvage variations: python3 switched to another version; a fresh venv."""

    python: str | None = None
    fresh_venv: bool = False

    @property
    def label(self) -> str:
        parts = [f"python{self.python}"] if self.python else []
        if self.fresh_venv:
            parts.append("fresh venv")
        return " + ".join(parts) or "as submitted"


def salvage_plan(pythons: tuple[str, ...]) -> tuple[Variation, ...]:
    """The retries after a short failed run: other Python (if any), fresh venv, both."""
    other = next((p for p in pythons[1:] if p != pythons[0]), None)
    if other is None:
        return (Variation(fresh_venv=True),)
    return (Variation(python=other), Variation(fresh_venv=True), Variation(python=other, fresh_venv=True))


class Terminated(KeyboardInterrupt):
    """reprobot received SIGTERM: unwinds like Ctrl-C so that the container is removed."""


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("reprobot")
    except Exception:  # pragma: no cover - not installed
        return "unknown"


def has_reproduce_sh(root: Path) -> bool:
    """True when ``reproduce.sh`` is a regular file; False when absent; SubmissionError otherwise."""
    try:
        mode = os.lstat(root / "reproduce.sh").st_mode
    except FileNotFoundError:
        if not root.is_dir():
            raise SubmissionError(f"{root}: not a directory") from None
        return False
    except NotADirectoryError:
        raise SubmissionError(f"{root}: not a directory") from None
    if not stat.S_ISREG(mode):
        raise SubmissionError(f"{root}: reproduce.sh must be a regular file (not a link or folder)")
    return True


@dataclass(frozen=True)
class _Context:
    """What every attempt of one run shares."""

    options: ReproduceOptions
    profile: Profile
    engine: ContainerEngine
    env: Mapping[str, str]
    submission: Path
    submission_ref: str | None
    run_id: str
    digest: str | None
    cpus: float
    userns_remap: bool | None
    gpu_request: GpuRequest | None
    gpu_seen: GpuSnapshot | None
    pythons: tuple[str, ...]


@dataclass
class _Attempt:
    number: int
    variation: Variation
    state: ExitState = field(default_factory=lambda: ExitState(None, False))
    timed_out: bool = False
    duration_s: float = 0.0
    started_at: str = ""
    finished_at: str = ""
    creation_time: float | None = None
    log_truncated: bool = False
    changes: tuple[FileChange, ...] = ()
    skipped: tuple[str, ...] = ()
    status: RunStatus = "completed"
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.timed_out or self.state.exit_code != 0

    def record(self) -> AttemptRecord:
        return AttemptRecord(
            number=self.number,
            variation=self.variation.label,
            exit_code=self.state.exit_code,
            timed_out=self.timed_out,
            oom_killed=self.state.oom_killed,
            duration_s=round(self.duration_s, 3),
            started_at=self.started_at,
            log=f"attempts/{self.number}/reproduce.log",
        )


def build_metadata(
    ctx: _Context | None,
    attempt: _Attempt | None,
    *,
    options: ReproduceOptions,
    submission_ref: str | None,
    attempts: tuple[AttemptRecord, ...] = (),
    status: RunStatus | None = None,
    not_run_reason: str | None = None,
) -> RunMetadata:
    """THE metadata builder: every metadata.json of a run (completed, infra_error, not_run)."""
    limits = options.limits()
    gpu: dict[str, Any] | None = None
    if ctx is not None:
        limits.update(cpus=ctx.cpus, cpus_requested=options.cpus)
        if ctx.gpu_request is not None:
            gpu = {"requested": ctx.gpu_request.spec, "method": ctx.gpu_request.method}
            gpu["seen"] = ctx.gpu_seen.to_dict() if ctx.gpu_seen is not None else None
            gpu["names"] = [d.name for d in ctx.gpu_seen.devices] if ctx.gpu_seen is not None else []
    now = _now()
    return RunMetadata(
        exit_code=attempt.state.exit_code if attempt else None,
        timed_out=attempt.timed_out if attempt else False,
        oom_killed=attempt.state.oom_killed if attempt else False,
        duration_s=round(attempt.duration_s, 3) if attempt else 0.0,
        log_truncated=attempt.log_truncated if attempt else False,
        started_at=attempt.started_at if attempt else now,
        finished_at=attempt.finished_at or now if attempt else now,
        reprobot_version=_version(),
        image=options.image,
        image_digest=ctx.digest if ctx else None,
        limits=limits,
        gpu=gpu,
        files_changed=attempt.changes if attempt else (),
        skipped_files=attempt.skipped if attempt else (),
        status=status or (attempt.status if attempt else "not_run"),
        error=attempt.error if attempt else None,
        submission_ref=submission_ref,
        not_run_reason=not_run_reason,
        profile=options.profile,
        creation_time=attempt.creation_time if attempt else None,
        userns_remap=ctx.userns_remap if ctx else None,
        attempts=attempts,
        graded_attempt=attempts[-1].number if attempts else None,
    )


def record_without_run(
    submission: Path,
    out_dir: Path,
    options: ReproduceOptions,
    *,
    reason: str,
    submission_ref: str | None = None,
) -> RunMetadata:
    """The executed layout of a submission that is not run (no reproduce.sh, or Code-Dev mode)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    collected = out_dir / "submission"
    if collected.exists() or collected.is_symlink():
        raise SubmissionError(f"{out_dir}: already holds a submission/ folder; use an empty --out folder")
    result = collect(
        submission, collected, file_cap=options.file_cap_bytes, total_cap=options.total_cap_bytes
    )
    (out_dir / "reproduce.log").write_bytes(b"")
    meta = replace(
        build_metadata(None, None, options=options, submission_ref=submission_ref, not_run_reason=reason),
        skipped_files=tuple(result.skipped),
    )
    meta.write(out_dir / "metadata.json")
    return meta


def _container_user(ctx: _Context, workspace: Path) -> tuple[str, dict[str, str], tuple[str, ...]]:
    """(user, extra environment, scratch dirs) of the container, and the workspace made usable."""
    if ctx.profile.root:
        if os.geteuid() != 0 or ctx.userns_remap:
            _open_up(workspace)  # root inside may not be a host root: let it write the private copy
        return "0:0", {"HOME": "/root"}, ()
    if ctx.options.user is not None:
        return ctx.options.user, {}, ()
    if os.geteuid() == 0:
        chown_tree(workspace, CONTAINER_UID, CONTAINER_UID)
        return f"{CONTAINER_UID}:{CONTAINER_UID}", {}, (CONTAINER_HOME,)
    return f"{os.getuid()}:{os.getgid()}", {"HOME": "/tmp"}, ()


def _open_up(root: Path) -> None:
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o777)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, os.lstat(path).st_mode | 0o666)


def _run_attempt(ctx: _Context, attempt: _Attempt, attempt_dir: Path, tmp: Path) -> Path:
    """One container run of reproduce.sh; returns the collected submission folder."""
    options, profile = ctx.options, ctx.profile
    attempt_dir.mkdir(parents=True, exist_ok=True)
    workspace = tmp / f"workspace-{attempt.number}"
    copy_in(ctx.submission, workspace)
    os.chmod(workspace, 0o755)
    before = snapshot(workspace)
    user, extra_env, scratch = _container_user(ctx, workspace)
    inner_deadline = max(1, math.ceil(options.timeout_s + options.deadline_grace_s))
    v = attempt.variation
    spec = ContainerSpec(
        image=options.image,
        command=(
            "bash", "-c", ENTRY, "reprobot-entry", f"{inner_deadline}s", v.python or "",
            "1" if v.fresh_venv else "0", "1" if profile.clean_venvs else "0",
        ),
        workspace=str(workspace),
        workdir=profile.workdir,
        user=user,
        environment={**extra_env, **dict(ctx.env)},
        memory_bytes=parse_size(options.memory),
        cpus=ctx.cpus,
        pids_limit=options.pids_limit,
        network=options.network,
        tmpfs_size=options.tmpfs_size if profile.tmpfs else None,
        read_only_root=profile.read_only_root,
        cap_add=profile.cap_add,
        scratch_dirs=scratch,
        gpu=ctx.gpu_request,
        labels={
            RUN_LABEL: ctx.run_id,
            OWNER_LABEL: owner_label(),
            DEADLINE_LABEL: str(math.ceil(time.time() + inner_deadline + 30)),
        },
        log_max_bytes=max(options.log_cap_bytes * 2, 2 * 1024**2),
    )  # fmt: skip
    log = CappedLog(attempt_dir / "reproduce.log", options.log_cap_bytes)
    attempt.started_at = _now()
    attempt.creation_time = time.time()
    (attempt_dir / "reproduce.log.creation_time").write_text(f"{int(attempt.creation_time)}\n")
    start = time.monotonic()
    container: Container | None = None
    try:
        with _sigterm_as_interrupt():
            try:
                container = ctx.engine.create(spec)
                container.start()
                pump = LogPump(container.log_stream(), log)
                pump.start()
                if not container.wait(options.timeout_s):
                    attempt.timed_out = True
                    container.kill()
                    container.wait(options.kill_grace_s)
                attempt.state = container.exit_state()
                pump.join(timeout=options.kill_grace_s)
            finally:
                if container is not None:
                    container.kill()
                    container.remove()
    except InfraError as exc:
        attempt.status, attempt.error = "infra_error", str(exc)
    finally:
        log.close()
        attempt.log_truncated = log.truncated
        attempt.duration_s = time.monotonic() - start
        attempt.finished_at = _now()
    collected = attempt_dir / "submission"
    if attempt.status == "completed":
        if profile.root and (os.geteuid() != 0 or ctx.userns_remap):
            give_back(ctx.engine, options.image, workspace)  # root's files become readable, removable
        result = collect(
            workspace, collected, file_cap=options.file_cap_bytes, total_cap=options.total_cap_bytes
        )
        attempt.changes = diff(before, result.after)
        attempt.skipped = tuple(result.skipped)
    _remove_workspace(ctx, workspace)
    return collected


def _remove_workspace(ctx: _Context, workspace: Path) -> None:
    shutil.rmtree(workspace, ignore_errors=True)
    if workspace.exists():
        give_back(ctx.engine, ctx.options.image, workspace)
        shutil.rmtree(workspace, ignore_errors=True)


def _prepare(
    submission: Path,
    options: ReproduceOptions,
    engine: ContainerEngine | None,
    env: Mapping[str, str],
    submission_ref: str | None,
) -> _Context:
    """Every refusal before anything is created: bad limits, bad network, no image, no GPUs."""
    profile = get_profile(options.profile)
    parse_size(options.memory)
    parse_size(options.tmpfs_size)
    if options.timeout_s <= 0 or not math.isfinite(options.timeout_s):
        raise InfraError(f"--timeout {options.timeout_s}: must be a positive number of seconds")
    if options.cpus <= 0 or options.pids_limit <= 0:
        raise InfraError("--cpus and --pids must be positive")
    if options.network == "host" or options.network.startswith("container:"):
        raise SubmissionError(
            f"--network {options.network}: not allowed (use none, bridge or a named network)"
        )
    if engine is None:
        from runner.docker_engine import DockerEngine

        engine = DockerEngine()
    info = engine.info()
    if parse_size(options.memory) < 6 * 1024**2:
        raise InfraError(f"--memory {options.memory}: below the engine's minimum of 6 MiB")
    digest = engine.image_digest(options.image)
    request = resolve_request(options.gpus, detect_host(info))
    seen = probe(engine, options.image, request) if request is not None else None
    pythons = tuple(engine.image_labels(options.image).get(PYTHONS_LABEL, "").split())
    return _Context(
        options=options,
        profile=profile,
        engine=engine,
        env=dict(env),
        submission=submission,
        submission_ref=submission_ref,
        run_id=uuid.uuid4().hex,
        digest=digest,
        cpus=min(options.cpus, float(info.cpus)),
        userns_remap=info.userns_remap,
        gpu_request=request,
        gpu_seen=seen,
        pythons=pythons,
    )


def reproduce(
    submission: Path,
    out_dir: Path,
    options: ReproduceOptions,
    engine: ContainerEngine | None = None,
    env: Mapping[str, str] = {},  # noqa: B006 - read-only default
    *,
    submission_ref: str | None = None,
) -> RunMetadata:
    """Run ``submission/reproduce.sh`` (with salvage); write and return OUT/metadata.json."""
    submission = Path(submission)
    out_dir = Path(out_dir)
    ref = submission_ref if submission_ref is not None else str(submission)
    if not has_reproduce_sh(submission):
        return record_without_run(submission, out_dir, options, reason="no reproduce.sh", submission_ref=ref)
    ctx = _prepare(submission, options, engine, env, ref)
    collected = out_dir / "submission"
    if collected.exists() or collected.is_symlink():
        raise SubmissionError(f"{out_dir}: already holds a submission/ folder; use an empty --out folder")
    out_dir.mkdir(parents=True, exist_ok=True)

    plan = (Variation(),) + (salvage_plan(ctx.pythons) if options.salvage else ())
    done: list[_Attempt] = []
    records: list[AttemptRecord] = []
    last_collected: Path | None = None
    with temp_dir("run") as tmp:
        for number, variation in enumerate(plan, 1):
            if done and not (
                done[-1].status == "completed"
                and done[-1].failed
                and done[-1].duration_s < options.salvage_under_s
            ):
                break  # salvage only a run that failed, and quickly
            attempt = _Attempt(number, variation)
            attempt_dir = out_dir / "attempts" / str(number)
            if last_collected is not None:
                shutil.rmtree(last_collected, ignore_errors=True)  # keep only the graded tree
            last_collected = _run_attempt(ctx, attempt, attempt_dir, Path(tmp))
            done.append(attempt)
            records.append(attempt.record())
            build_metadata(ctx, attempt, options=options, submission_ref=ref, attempts=tuple(records)).write(
                attempt_dir / "metadata.json"
            )
            if attempt.status == "infra_error":
                break

    final = done[-1]
    final_dir = out_dir / "attempts" / str(final.number)
    shutil.copyfile(final_dir / "reproduce.log", out_dir / "reproduce.log")
    shutil.copyfile(final_dir / "reproduce.log.creation_time", out_dir / "reproduce.log.creation_time")
    if last_collected is not None and last_collected.is_dir():
        last_collected.rename(collected)
    meta = build_metadata(ctx, final, options=options, submission_ref=ref, attempts=tuple(records))
    meta.write(out_dir / "metadata.json")
    if final.status == "infra_error":
        raise InfraError(final.error or "the reproduction failed for infrastructure reasons")
    return meta
