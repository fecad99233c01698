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
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from runner.config import parse_size
from runner.engine import Container, ContainerEngine, ContainerSpec
from runner.errors import InfraError, SubmissionError
from runner.gpu import detect_host, probe, resolve_request
from runner.image import PYTHONS_LABEL
from runner.janitor import DEADLINE_LABEL, OWNER_LABEL, RUN_LABEL, give_back, owner_label, temp_dir
from runner.layout import ATTEMPTS_DIR, CREATION_TIME, REPRODUCE_LOG, RUN_METADATA
from runner.logcap import CappedLog, LogPump
from runner.metadata import AttemptRecord, RunMetadata
from runner.options import CONTAINER_HOME, CONTAINER_UID, ENTRY, ReproduceOptions, Variation, salvage_plan
from runner.profiles import get_profile
from runner.run_record import (
    Attempt,
    RunContext,
    build_metadata,
    has_reproduce_sh,
    now_iso,
    record_without_run,
)
from runner.workspace import chown_tree, collect, copy_in, diff, snapshot

__all__ = ["RUN_LABEL", "ReproduceOptions", "Variation", "reproduce", "record_without_run"]


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


def _container_user(ctx: RunContext, workspace: Path) -> tuple[str, dict[str, str], tuple[str, ...]]:
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


def _run_attempt(ctx: RunContext, attempt: Attempt, attempt_dir: Path, tmp: Path) -> Path:
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
    log = CappedLog(attempt_dir / REPRODUCE_LOG, options.log_cap_bytes)
    attempt.started_at = now_iso()
    attempt.creation_time = time.time()
    (attempt_dir / CREATION_TIME).write_text(f"{int(attempt.creation_time)}\n")
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
        attempt.finished_at = now_iso()
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


def _remove_workspace(ctx: RunContext, workspace: Path) -> None:
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
) -> RunContext:
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
    return RunContext(
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
    done: list[Attempt] = []
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
            attempt = Attempt(number, variation)
            attempt_dir = out_dir / ATTEMPTS_DIR / str(number)
            if last_collected is not None:
                shutil.rmtree(last_collected, ignore_errors=True)  # keep only the graded tree
            last_collected = _run_attempt(ctx, attempt, attempt_dir, Path(tmp))
            done.append(attempt)
            records.append(attempt.record())
            build_metadata(ctx, attempt, options=options, submission_ref=ref, attempts=tuple(records)).write(
                attempt_dir / RUN_METADATA
            )
            if attempt.status == "infra_error":
                break

    final = done[-1]
    final_dir = out_dir / ATTEMPTS_DIR / str(final.number)
    shutil.copyfile(final_dir / REPRODUCE_LOG, out_dir / REPRODUCE_LOG)
    shutil.copyfile(final_dir / CREATION_TIME, out_dir / CREATION_TIME)
    if last_collected is not None and last_collected.is_dir():
        last_collected.rename(collected)
    meta = build_metadata(ctx, final, options=options, submission_ref=ref, attempts=tuple(records))
    meta.write(out_dir / RUN_METADATA)
    if final.status == "infra_error":
        raise InfraError(final.error or "the reproduction failed for infrastructure reasons")
    return meta
