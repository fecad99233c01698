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

from runner.errors import SubmissionError

ChangeKind = Literal["created", "modified", "deleted"]


@dataclass(frozen=True, slots=True)
class FileChange:
    path: str  # POSIX path relative to the submission root
    change: ChangeKind
    sha256_before: str | None = None
    sha256_after: str | None = None
    size: int | None = None


RunStatus = Literal["completed", "infra_error", "not_run"]


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

    @property
    def changed_paths(self) -> frozenset[str]:
        """Files the run created or modified (Result Analysis considers only these)."""
        return frozenset(c.path for c in self.files_changed if c.change in ("created", "modified"))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["files_changed"] = [asdict(c) for c in self.files_changed]
        data["skipped_files"] = list(self.skipped_files)
        data["attempts"] = [asdict(a) for a in self.attempts]
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
