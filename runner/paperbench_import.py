"""``reprobot import paperbench RUN --out DIR``: a PaperBench executed submission, in reprobot's layout.

RUN is an archive (``.tar``, ``.tar.gz``/``.tgz``, ``.tar.bz2``, ``.tar.xz``, ``.zip``) or a folder
of the submission after PaperBench's run, with ``reproduce.log`` and ``reproduce.log.creation_time``
inside (PAPERBENCH.md section 5), at its top or in one folder below. DIR becomes reprobot's
executed layout (docs/FORMATS.md): ``reproduce.log``, ``reproduce.log.creation_time``,
``metadata.json`` (``origin: paperbench-import``, exit code unknown: PaperBench's ``tee`` loses it)
and ``submission/``. The files the run touched are those with an mtime at or after the creation
time (PaperBench's rule; zip stores times to 2 s, so 1 s of slack there), listed as ``modified``
(an archive cannot tell created from modified). Files over 10 MB are dropped, as PaperBench does.

Archives are hostile: members with absolute paths or ``..`` are refused, links, devices and FIFOs
are never extracted (listed as skipped), sizes are capped. An unreadable archive is one line and
exit 1; nothing is left behind (DIR is removed again when this command made it).
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from runner.errors import SubmissionError
from runner.layout import CREATION_TIME, REPRODUCE_LOG, RUN_METADATA
from runner.metadata import FileChange, RunMetadata
from runner.workspace import collect

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
MAX_MEMBERS = 200_000


def _safe(name: str) -> PurePosixPath | None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or "\x00" in name or not path.parts:
        return None
    return path


def _extract_tar(archive: Path, dest: Path, max_bytes: int, skipped: list[str]) -> None:
    total = 0
    with tarfile.open(archive, "r:*") as tar:
        for count, member in enumerate(tar):
            if count > MAX_MEMBERS:
                raise SubmissionError(f"{archive}: more than {MAX_MEMBERS} members")
            rel = _safe(member.name)
            if rel is None:
                raise SubmissionError(f"{archive}: member {member.name!r} escapes the extraction folder")
            target = dest.joinpath(*rel.parts)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            if not member.isreg():
                skipped.append(f"{rel} (link or special file, not extracted)")
                continue
            total += member.size
            if total > max_bytes:
                raise SubmissionError(f"{archive}: larger than the limit of {max_bytes} bytes")
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            if source is None:
                continue
            with source, open(target, "xb") as out:
                shutil.copyfileobj(source, out)
            os.chmod(target, 0o644 | (0o111 if member.mode & 0o100 else 0))
            os.utime(target, (member.mtime, member.mtime))


def _extract_zip(archive: Path, dest: Path, max_bytes: int, skipped: list[str]) -> None:
    total = 0
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise SubmissionError(f"{archive}: more than {MAX_MEMBERS} members")
        for info in infos:
            rel = _safe(info.filename)
            if rel is None:
                raise SubmissionError(f"{archive}: member {info.filename!r} escapes the extraction folder")
            target = dest.joinpath(*rel.parts)
            mode = info.external_attr >> 16
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            if mode and not stat.S_ISREG(mode):
                skipped.append(f"{rel} (link or special file, not extracted)")
                continue
            total += info.file_size
            if total > max_bytes:
                raise SubmissionError(f"{archive}: larger than the limit of {max_bytes} bytes")
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as source, open(target, "xb") as out:
                shutil.copyfileobj(source, out)
            mtime = time.mktime((*info.date_time, 0, 0, -1))
            os.utime(target, (mtime, mtime))


def _find_root(top: Path) -> Path:
    """The folder holding reproduce.log.creation_time: the top, or one folder below."""
    if (top / CREATION_TIME).is_file():
        return top
    below = [
        d
        for d in sorted(top.iterdir())
        if d.is_dir() and not d.is_symlink() and (d / CREATION_TIME).is_file()
    ]
    if len(below) == 1:
        return below[0]
    raise SubmissionError(
        f"no {CREATION_TIME} at the top of the run or in one folder below: "
        "not a PaperBench executed submission"
    )


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def import_paperbench(
    run: Path,
    out_dir: Path,
    *,
    file_cap_bytes: int = 10 * 1024**2,
    total_cap_bytes: int = 1024**3,
    max_archive_bytes: int = 8 * 1024**3,
) -> RunMetadata:
    run, out_dir = Path(run), Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise SubmissionError(f"{out_dir}: must be a new or empty folder")
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _import(run, out_dir, file_cap_bytes, total_cap_bytes, max_archive_bytes)
    except BaseException:
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        else:
            for entry in out_dir.iterdir():
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        raise


def _import(run: Path, out_dir: Path, file_cap: int, total_cap: int, max_bytes: int) -> RunMetadata:
    skipped: list[str] = []
    slack = 0.0
    with tempfile.TemporaryDirectory(prefix=".reprobot-import-", dir=out_dir) as tmp:
        staging = Path(tmp)
        if run.is_dir():
            top = run
        elif run.is_file():
            name = run.name.lower()
            try:
                if name.endswith(".zip"):
                    slack = 1.0
                    _extract_zip(run, staging, max_bytes, skipped)
                elif name.endswith(TAR_SUFFIXES):
                    _extract_tar(run, staging, max_bytes, skipped)
                else:
                    raise SubmissionError(f"{run}: not a folder, a tar archive or a zip file")
            except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
                detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise SubmissionError(f"{run}: unreadable archive ({detail})") from None
            top = staging
        else:
            raise SubmissionError(f"{run}: no such file or folder")
        root = _find_root(top)
        for required in (REPRODUCE_LOG, CREATION_TIME):
            path = root / required
            if path.is_symlink() or not path.is_file():
                raise SubmissionError(f"{run}: no {required} in the executed submission")
        text = (root / CREATION_TIME).read_text(encoding="utf-8", errors="replace").strip()
        try:
            creation = float(text.split()[0])
        except (ValueError, IndexError):
            raise SubmissionError(f"{run}: {CREATION_TIME} holds {text[:40]!r}, not a Unix time") from None
        log_mtime = (root / REPRODUCE_LOG).lstat().st_mtime
        touched: dict[str, float] = {}
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
            for name in filenames:
                full = os.path.join(dirpath, name)
                st = os.lstat(full)
                rel = Path(full).relative_to(root).as_posix()
                if (
                    stat.S_ISREG(st.st_mode)
                    and rel not in (REPRODUCE_LOG, CREATION_TIME)
                    and st.st_mtime >= creation - slack
                ):
                    touched[rel] = st.st_mtime
        shutil.copyfile(root / REPRODUCE_LOG, out_dir / REPRODUCE_LOG)
        shutil.copyfile(root / CREATION_TIME, out_dir / CREATION_TIME)
        result = collect(root, out_dir / "submission", file_cap=file_cap, total_cap=total_cap)
        for name in (REPRODUCE_LOG, CREATION_TIME):
            (out_dir / "submission" / name).unlink(missing_ok=True)
    changes = tuple(
        FileChange(rel, "modified", None, result.after[rel].sha256, result.after[rel].size)
        for rel in sorted(touched)
        if rel in result.after
    )
    meta = RunMetadata(
        exit_code=None,
        timed_out=False,
        oom_killed=False,
        duration_s=round(max(0.0, log_mtime - creation), 3),
        log_truncated=False,
        started_at=_iso(creation),
        finished_at=_iso(log_mtime),
        reprobot_version=_reprobot_version(),
        files_changed=changes,
        skipped_files=tuple(skipped + result.skipped),
        submission_ref=str(run),
        profile="paperbench",
        creation_time=creation,
        origin="paperbench-import",
    )
    meta.write(out_dir / RUN_METADATA)
    return meta


def _reprobot_version() -> str:
    try:
        from importlib.metadata import version

        return version("reprobot")
    except Exception:  # pragma: no cover
        return "unknown"
