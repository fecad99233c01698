"""Run ``reproduce.sh`` of a submission in a container and collect what it left.

The sandbox is a profile (``runner.profiles``): ``paperbench`` (the default, PaperBench's
contract: root in a fresh container with a writable filesystem thrown away after the run, from the
submission folder, ``venv``/``.venv`` removed first) or ``locked`` (non-root, read-only root).
Both: a *copy* of the submission is the only host path, no host environment, no docker socket,
limits on pids, memory (no swap) and CPU, no-new-privileges, reprobot's seccomp profile
(``runner.seccomp``), the host's ``/proc`` entries masked; outside, the run is bounded in disk and
files (``runner.runfs``), network (``runner.egress``: its own network, egress through an
allow-listing proxy, audited) and time.

A run: the start time is recorded (``OUT/reproduce.log.creation_time``, as PaperBench's ``date
+%s``, and in ``metadata.json``); stdout+stderr go to ``OUT/reproduce.log`` (head and tail kept);
the exit code is kept. The deadline is enforced three times: reprobot kills the container at the
timeout, the container's own entry wraps ``reproduce.sh`` in ``timeout`` (timeout + grace), and the
run's watchdog (``runner.watchdog``), a process of its own outside the container, kills it just
after the timeout even when reprobot is gone and whatever the container does inside. Everything a
run takes on the host is written down as it is taken (``runner.run_state``) and given back at the
end, by the watchdog, or by the janitor (``runner.janitor``). Salvage (PaperBench's): a run that
failed in under ``salvage_under_s`` is tried again with another Python (where the image has two),
with a fresh venv activated, and with both; every attempt's log and metadata are kept under
``OUT/attempts/N/``, the last attempt is graded. No ``reproduce.sh`` is not a rejection: the
executed layout is written without a run (``status: not_run``) and the judge fails the run-based
criteria. One attempt in detail: ``runner.attempt``.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from runner.attempt import run_attempt
from runner.cabundle import find_bundle
from runner.config import parse_size
from runner.egress_proxy import upstream_from
from runner.engine import ContainerEngine
from runner.errors import InfraError, SubmissionError
from runner.gpu import detect_host, probe, resolve_request
from runner.image import PYTHONS_LABEL
from runner.janitor import RUN_LABEL, owner_label, temp_dir
from runner.layout import ATTEMPTS_DIR, CREATION_TIME, REPRODUCE_LOG, RUN_METADATA
from runner.metadata import RAN, AttemptRecord, RunMetadata
from runner.options import ReproduceOptions, Variation, salvage_plan
from runner.profiles import get_profile
from runner.run_record import Attempt, RunContext, build_metadata, has_reproduce_sh, record_without_run
from runner.run_state import STATE_FILE, RunState
from runner.sandbox import Sandbox

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


def _prepare(
    submission: Path,
    options: ReproduceOptions,
    engine: ContainerEngine | None,
    env: Mapping[str, str],
    submission_ref: str | None,
    sandbox: Sandbox | None,
) -> RunContext:
    """Every refusal before anything is created: bad limits, bad network, no image, no GPUs, a host
    that cannot enforce the disk limit or the network policy asked for."""
    profile = get_profile(options.profile)
    parse_size(options.memory)
    parse_size(options.tmpfs_size)
    if options.timeout_s <= 0 or not math.isfinite(options.timeout_s):
        raise InfraError(f"--timeout {options.timeout_s}: must be a positive number of seconds")
    if options.cpus <= 0 or options.pids_limit <= 0:
        raise InfraError("--cpus and --pids must be positive")
    if options.network == "host" or options.network.startswith("container:"):
        raise SubmissionError(
            f"--network {options.network}: not allowed (use policy, none, bridge or a named network)"
        )
    sandbox = sandbox or Sandbox.for_options(options.disk_limit, options.seccomp)
    limit = options.disk_limit_bytes
    if limit is not None:
        reason = sandbox.filesystems.problem()
        if reason:
            raise InfraError(f"disk limit {options.disk_limit}: {reason}; or set runner.disk_limit: none")
    if options.network == "policy":
        for reason in (sandbox.proxy.problem(), sandbox.firewall.problem()):
            if reason:
                raise InfraError(f"network policy: {reason}; or choose runner.network: none (or bridge)")
    upstream = upstream_from(options.upstream_proxy, os.environ)
    bundle = find_bundle(options.ca_bundle, os.environ)
    if engine is None:
        from runner.docker_engine import DockerEngine

        engine = DockerEngine()
    info = engine.info()
    if parse_size(options.memory) < 6 * 1024**2:
        raise InfraError(f"--memory {options.memory}: below the engine's minimum of 6 MiB")
    if options.runtime and options.runtime not in info.runtimes:
        raise InfraError(
            f"runtime {options.runtime!r} is not registered with the engine "
            f"(it has {', '.join(sorted(info.runtimes))})"
        )
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
        sandbox=sandbox,
        state=RunState(owner=owner_label()),
        ca_bundle=bundle,
        upstream=upstream,
    )


def reproduce(
    submission: Path,
    out_dir: Path,
    options: ReproduceOptions,
    engine: ContainerEngine | None = None,
    env: Mapping[str, str] = {},  # noqa: B006 - read-only default
    *,
    submission_ref: str | None = None,
    sandbox: Sandbox | None = None,
) -> RunMetadata:
    """Run ``submission/reproduce.sh`` (with salvage); write and return OUT/metadata.json."""
    submission = Path(submission)
    out_dir = Path(out_dir)
    ref = submission_ref if submission_ref is not None else str(submission)
    if not has_reproduce_sh(submission):
        return record_without_run(submission, out_dir, options, reason="no reproduce.sh", submission_ref=ref)
    ctx = _prepare(submission, options, engine, env, ref, sandbox)
    collected = out_dir / "submission"
    if collected.exists() or collected.is_symlink():
        raise SubmissionError(f"{out_dir}: already holds a submission/ folder; use an empty --out folder")
    out_dir.mkdir(parents=True, exist_ok=True)

    plan = (Variation(),) + (salvage_plan(ctx.pythons) if options.salvage else ())
    done: list[Attempt] = []
    records: list[AttemptRecord] = []
    last_collected: Path | None = None
    if options.scratch_dir is not None:
        options.scratch_dir.mkdir(parents=True, exist_ok=True)
    with temp_dir("run", base=options.scratch_dir) as tmp, _sigterm_as_interrupt():
        ctx.state.path = Path(tmp) / STATE_FILE
        ctx.state.save()
        if ctx.sandbox.watchdog is not None:
            ctx.sandbox.watchdog(ctx.state.path)
        try:
            for number, variation in enumerate(plan, 1):
                last = done[-1] if done else None
                if last is not None and not (
                    last.status in RAN and last.failed and last.duration_s < options.salvage_under_s
                ):
                    break  # salvage only a run that failed, and quickly
                attempt = Attempt(number, variation)
                attempt_dir = out_dir / ATTEMPTS_DIR / str(number)
                if last_collected is not None:
                    shutil.rmtree(last_collected, ignore_errors=True)  # keep only the graded tree
                last_collected = run_attempt(ctx, attempt, attempt_dir, Path(tmp))
                done.append(attempt)
                records.append(attempt.record())
                record = build_metadata(ctx, attempt, options=options, submission_ref=ref,
                                        attempts=(*records,))  # fmt: skip
                record.write(attempt_dir / RUN_METADATA)
                if attempt.status == "infra_error":
                    break
        finally:
            from runner.run_state import teardown

            teardown(ctx.state, ctx.engine, ctx.sandbox.firewall)  # what an interrupt left
            ctx.state.path.unlink(missing_ok=True)  # the watchdog sees the run is over

    final = done[-1]
    final_dir = out_dir / ATTEMPTS_DIR / str(final.number)
    shutil.copyfile(final_dir / REPRODUCE_LOG, out_dir / REPRODUCE_LOG)
    if (final_dir / CREATION_TIME).is_file():
        shutil.copyfile(final_dir / CREATION_TIME, out_dir / CREATION_TIME)
    if last_collected is not None and last_collected.is_dir():
        last_collected.rename(collected)
    meta = build_metadata(ctx, final, options=options, submission_ref=ref, attempts=tuple(records))
    meta.write(out_dir / RUN_METADATA)
    if final.status == "infra_error":
        raise InfraError(final.error or "the reproduction failed for infrastructure reasons")
    return meta
