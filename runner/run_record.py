"""What a run records: its context (engine facts, GPU, limits), each attempt, and THE one builder of
``metadata.json`` for every kind of run (completed, infra_error, not run)."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.collect import CollectResult, collect
from runner.egress_audit import EgressAudit
from runner.engine import ContainerEngine, ExitState, GpuRequest
from runner.errors import SubmissionError
from runner.gpu import GpuSnapshot
from runner.layout import REPRODUCE_LOG, RUN_METADATA
from runner.metadata import AttemptRecord, CollectionRecord, DiskRecord, FileChange, RunMetadata, RunStatus
from runner.options import ReproduceOptions, Variation
from runner.profiles import Profile


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def reprobot_version() -> str:
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
class RunContext:
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
    sandbox: Any = None  # runner.sandbox.Sandbox: the host's filesystems, firewall, proxy, watchdog
    state: Any = None  # runner.run_state.RunState of this run
    ca_bundle: Path | None = None  # the CA bundle runs trust (runner.cabundle)
    upstream: str | None = None  # the egress proxy's parent proxy


@dataclass
class Attempt:
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
    disk: DiskRecord | None = None
    collection: CollectionRecord | None = None
    egress: EgressAudit | None = None
    notes: tuple[str, ...] = ()

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
    ctx: RunContext | None,
    attempt: Attempt | None,
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
    now = now_iso()
    return RunMetadata(
        exit_code=attempt.state.exit_code if attempt else None,
        timed_out=attempt.timed_out if attempt else False,
        oom_killed=attempt.state.oom_killed if attempt else False,
        duration_s=round(attempt.duration_s, 3) if attempt else 0.0,
        log_truncated=attempt.log_truncated if attempt else False,
        started_at=attempt.started_at if attempt else now,
        finished_at=attempt.finished_at or now if attempt else now,
        reprobot_version=reprobot_version(),
        image=options.image,
        image_digest=ctx.digest if ctx else None,
        limits=limits,
        gpu=gpu,
        files_changed=attempt.changes if attempt else (),
        skipped_files=attempt.skipped if attempt else (),
        runtime=options.runtime if ctx is not None else None,
        disk=attempt.disk if attempt else None,
        collection=attempt.collection if attempt else None,
        egress=attempt.egress if attempt else None,
        notes=attempt.notes if attempt else (),
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
    result = collect(submission, collected, options.collect_caps())
    (out_dir / REPRODUCE_LOG).write_bytes(b"")
    meta = replace(
        build_metadata(None, None, options=options, submission_ref=submission_ref, not_run_reason=reason),
        skipped_files=tuple(result.skipped),
        collection=collection_record(result),
        notes=collection_notes(result),
    )
    meta.write(out_dir / RUN_METADATA)
    return meta


def collection_record(result: CollectResult, error: str | None = None) -> CollectionRecord:
    return CollectionRecord(
        entries_seen=result.entries_seen,
        files_seen=result.files_seen,
        files_skipped=result.files_skipped,
        read_bytes=result.read_bytes,
        copied_bytes=result.copied_bytes,
        seconds=round(result.seconds, 3),
        caps_hit=result.caps_hit,
        error=error,
        odd_names=tuple(result.odd_names),
    )


CAP_WORDS = {
    "files": "the file-count cap",
    "read": "the cap on bytes read",
    "copied": "the cap on bytes copied",
    "names": "paths too long or too deep",
    "time": "the time cap",
}


def collection_notes(result: CollectResult, error: str | None = None) -> tuple[str, ...]:
    notes = []
    if result.caps_hit:
        why = ", ".join(CAP_WORDS.get(c, c) for c in result.caps_hit)
        notes.append(
            f"collection: {result.files_skipped} files or folders skipped ({why}); "
            "graded with what was collected"
        )
    if result.odd_names:
        notes.append(
            f"collection: {len(result.odd_names)} name(s) not UTF-8 or with control characters, collected "
            f"as they are (first: {result.odd_names[0]})"
        )
    if error:
        notes.append(f"collection stopped part-way ({error}); graded with what was collected")
    return tuple(notes)
