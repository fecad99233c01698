"""``metadata.json`` of an executed submission: the record a reproduction leaves for the judge.

This is the contract between ``reprobot reproduce --out DIR`` and ``reprobot judge DIR``:
DIR/reproduce.log, DIR/metadata.json (this record), DIR/submission/ (the executed workspace).
Unknown keys are kept when reading (forward compatibility) but ignored.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from runner.egress_audit import EgressAudit
from runner.errors import SubmissionError

ChangeKind = Literal["created", "modified", "deleted"]


@dataclass(frozen=True, slots=True)
class FileChange:
    path: str  # POSIX path relative to the submission root
    change: ChangeKind
    sha256_before: str | None = None
    sha256_after: str | None = None
    size: int | None = None


RunStatus = Literal["completed", "disk_limit", "infra_error", "not_run"]
RAN: tuple[RunStatus, ...] = ("completed", "disk_limit")  # the container ran: graded with what it left


@dataclass(frozen=True, slots=True)
class DiskRecord:
    """The run's filesystem (writable layer + workspace) at the end of the graded attempt."""

    limit_bytes: int | None  # None: no limit (runner.disk_limit: none)
    inodes: int | None
    used_bytes: int | None = None
    used_inodes: int | None = None
    full: bool = False  # the run reached the limit: it saw ENOSPC (status disk_limit)


@dataclass(frozen=True, slots=True)
class CollectionRecord:
    """How collection went: what it looked at, read, copied and skipped, and which caps it hit."""

    entries_seen: int = 0
    files_seen: int = 0
    files_skipped: int = 0
    read_bytes: int = 0
    copied_bytes: int = 0
    seconds: float = 0.0
    caps_hit: tuple[str, ...] = ()  # files | read | copied | names | time
    error: str | None = None  # collection itself failed part-way (graded with what was collected)
    odd_names: tuple[str, ...] = ()  # not UTF-8 or with control characters: collected, listed escaped


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One try of reproduce.sh (salvage may make several; the last one is graded)."""

    number: int  # 1 = as submitted
    variation: str  # "as submitted", "python3.12", "fresh venv", "python3.12 + fresh venv"
    exit_code: int | None
    timed_out: bool
    oom_killed: bool
    duration_s: float
    started_at: str
    log: str  # path of its reproduce.log, relative to the executed folder


@dataclass(frozen=True, slots=True)
class RunMetadata:
    exit_code: int | None  # None when the run never produced one (killed before start, infra error)
    timed_out: bool
    oom_killed: bool
    duration_s: float
    log_truncated: bool
    started_at: str  # ISO 8601, UTC
    finished_at: str
    reprobot_version: str
    image: str = ""
    image_digest: str | None = None
    limits: dict[str, Any] = field(default_factory=dict)  # timeout_s, memory, cpus, pids, network, gpus
    gpu: dict[str, Any] | None = None  # requested spec and what the container saw (nvidia-smi), if any
    files_changed: tuple[FileChange, ...] = ()
    skipped_files: tuple[str, ...] = ()  # not collected: over the size caps, symlinks, special files
    status: RunStatus = "completed"  # not_run: no reproduce.sh, or Code-Dev mode (not_run_reason)
    error: str | None = None  # infra_error: what went wrong (never the submitter's fault)
    submission_ref: str | None = None  # what was fetched: path, URL@ref, commit SHA
    not_run_reason: str | None = None  # "no reproduce.sh" | "code-dev"
    profile: str = ""  # paperbench | locked ("" in records of older versions)
    creation_time: float | None = None  # epoch s at the start of the graded run (reproduce.log.creation_time)
    userns_remap: bool | None = None  # the engine remapped container root to an unprivileged host uid
    attempts: tuple[AttemptRecord, ...] = ()  # every try, in order
    graded_attempt: int | None = None  # which of them is graded (the last)
    origin: str = "reprobot"  # "paperbench-import": converted from a PaperBench run (exit code unknown)
    runtime: str | None = None  # the engine's OCI runtime when not its default (runsc = gVisor)
    disk: DiskRecord | None = None
    collection: CollectionRecord | None = None
    egress: EgressAudit | None = None  # the egress audit (hosts contacted, refused, bytes)
    notes: tuple[str, ...] = ()  # one line each: what the report must say (disk limit, egress, caps)

    @property
    def ran(self) -> bool:
        """The container ran (completed, or stopped at the disk limit): graded with what it left."""
        return self.status in RAN

    @property
    def changed_paths(self) -> frozenset[str]:
        """Files the run created or modified (Result Analysis considers only these)."""
        return frozenset(c.path for c in self.files_changed if c.change in ("created", "modified"))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["files_changed"] = [asdict(c) for c in self.files_changed]
        data["skipped_files"] = list(self.skipped_files)
        data["attempts"] = [asdict(a) for a in self.attempts]
        data["egress"] = self.egress.to_dict() if self.egress is not None else None
        data["notes"] = list(self.notes)
        if self.collection is not None:
            data["collection"]["caps_hit"] = list(self.collection.caps_hit)
            data["collection"]["odd_names"] = list(self.collection.odd_names)
        return data

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunMetadata:
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        values["files_changed"] = tuple(
            FileChange(**{k: v for k, v in c.items() if k in FileChange.__dataclass_fields__})
            for c in data.get("files_changed", [])
        )
        values["skipped_files"] = tuple(data.get("skipped_files", []))
        values["attempts"] = tuple(
            AttemptRecord(**{k: v for k, v in a.items() if k in AttemptRecord.__dataclass_fields__})
            for a in data.get("attempts", [])
        )
        disk, coll = data.get("disk"), data.get("collection")
        values["disk"] = (
            DiskRecord(**{k: v for k, v in disk.items() if k in DiskRecord.__dataclass_fields__})
            if isinstance(disk, dict) else None
        )  # fmt: skip
        if isinstance(coll, dict):
            kept = {k: v for k, v in coll.items() if k in CollectionRecord.__dataclass_fields__}
            kept["caps_hit"] = tuple(kept.get("caps_hit") or ())
            kept["odd_names"] = tuple(kept.get("odd_names") or ())
            values["collection"] = CollectionRecord(**kept)
        else:
            values["collection"] = None
        values["egress"] = EgressAudit.from_dict(data.get("egress"))
        values["notes"] = tuple(str(n) for n in data.get("notes") or ())
        return cls(**values)

    @classmethod
    def read(cls, path: Path) -> RunMetadata:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls.from_dict(data)
        except FileNotFoundError:
            raise SubmissionError(
                f"{path}: no metadata.json (is this a `reprobot reproduce --out` folder?)"
            ) from None
        except (ValueError, TypeError) as exc:
            raise SubmissionError(f"{path}: unreadable metadata.json ({exc})") from None
