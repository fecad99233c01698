"""``reprobot doctor`` tells the truth in one line per check; ``import paperbench`` is safe and exact.

Invariants (doctor): an unreachable engine, a missing image, a GPU host the engine cannot serve
and a full disk are FAIL lines with their fix and exit 3; a ready machine exits 0. (import): a
PaperBench executed submission (tar.gz, zip or folder) becomes reprobot's executed layout with
exactly the files whose mtime is at or after reproduce.log.creation_time as touched, the exit code
unknown, reproduce.log beside (not inside) submission/; archives that escape, carry links or
cannot be read are one clear line with exit 1 and leave nothing behind.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from runner.config import RunnerSettings
from runner.doctor import diagnose, failed
from runner.engine import EngineInfo
from runner.errors import InfraError
from runner.gpu import HostGpus

T0 = 1_700_000_000


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


class StandInEngine:
    """Answers like an engine with the image present and no remapping."""

    def __init__(self, image_present: bool = True) -> None:
        self.image_present = image_present

    def info(self) -> EngineInfo:
        return EngineInfo("27.1", frozenset({"runc"}), ("name=seccomp,profile=default",), 8)

    def image_digest(self, image: str) -> str:
        if not self.image_present:
            raise InfraError(f"image {image!r} is not on this machine")
        return "sha256:" + "0" * 64

    def image_labels(self, image: str) -> dict[str, str]:
        return {}


def test_doctor_fail_lines_carry_the_fix() -> None:
    settings = RunnerSettings(image="custom/image:1")
    plenty = lambda p: (100 << 30, 0, 100 << 30)  # noqa: E731
    ok = diagnose(settings, StandInEngine, disk_usage=plenty, host_gpus=lambda i: HostGpus(False, ()))
    assert not failed(ok) and [c.level for c in ok if c.name == "userns"] == ["WARN"]

    def unreachable() -> StandInEngine:
        raise InfraError("cannot reach the Docker engine (ConnectionError)")

    checks = diagnose(settings, unreachable)
    assert failed(checks) and "start dockerd" in checks[0].line()
    checks = diagnose(
        settings, lambda: StandInEngine(False), disk_usage=plenty, host_gpus=lambda i: HostGpus(True, ())
    )
    lines = {c.name: c for c in checks}
    assert lines["image"].level == "FAIL" and "reprobot image build" in lines["image"].line()
    assert lines["gpu"].level == "FAIL" and "NVIDIA Container Toolkit" in lines["gpu"].line()
    full = lambda p: (100 << 30, 0, 100 << 20)  # noqa: E731
    checks = diagnose(settings, StandInEngine, disk_usage=full, host_gpus=lambda i: HostGpus(False, ()))
    assert any(c.name.startswith("disk") and c.level == "FAIL" for c in checks)


def test_doctor_command_exit_codes(tmp_path: Path) -> None:
    code, out, _ = cli("doctor", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert code == 3 and out.startswith("FAIL engine:") and len(out.strip().splitlines()) == 1


@pytest.mark.docker
def test_doctor_on_the_real_engine(tmp_path: Path, repro_image: str) -> None:
    code, out, _ = cli("doctor")
    assert code == 0, out
    assert out.splitlines()[0].startswith("OK   engine: Docker ") and f"OK   image: {repro_image}" in out
    config = tmp_path / "c.yaml"
    config.write_text("runner:\n  image: reprobot/missing:nope\n")
    code, out, _ = cli("--config", str(config), "doctor")
    assert code == 3 and "FAIL image: reprobot/missing:nope is not on this machine" in out


def paperbench_run(root: Path) -> Path:
    """A submission as PaperBench leaves it: old code, a run at T0, results written after."""
    sub = root / "submission"
    (sub / "src").mkdir(parents=True)
    files = {"src/model.py": T0 - 500, "README.md": T0 - 500, "results/table.csv": T0 + 30,
             "results/notes.md": T0, "reproduce.sh": T0 - 500, "reproduce.log": T0 + 40}  # fmt: skip
    for rel, mtime in files.items():
        (sub / rel).parent.mkdir(parents=True, exist_ok=True)
        (sub / rel).write_text(f"{rel}\n")
        os.utime(sub / rel, (mtime, mtime))
    (sub / "reproduce.log.creation_time").write_text(f"{T0}\n")
    return sub


def test_import_tar_zip_and_folder(tmp_path: Path) -> None:
    sub = paperbench_run(tmp_path / "run")
    tgz = tmp_path / "run.tar.gz"
    with tarfile.open(tgz, "w:gz") as tar:
        tar.add(sub, arcname="submission")
    zpath = tmp_path / "run.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for path in sorted(sub.rglob("*")):
            zf.write(path, path.relative_to(sub.parent).as_posix())
    for source in (tgz, zpath, sub):
        out = tmp_path / f"out-{source.name}"
        code, stdout, stderr = cli("import", "paperbench", str(source), "--out", str(out))
        assert code == 0, stderr
        meta = json.loads((out / "metadata.json").read_text())
        assert meta["origin"] == "paperbench-import" and meta["exit_code"] is None
        assert meta["creation_time"] == T0
        assert {c["path"] for c in meta["files_changed"]} == {"results/table.csv", "results/notes.md"}
        assert (out / "reproduce.log").read_text() == "reproduce.log\n"
        assert not (out / "submission" / "reproduce.log").exists()
        assert (out / "submission" / "src" / "model.py").is_file()
    code, _, stderr = cli("judge", str(tmp_path / "out-run.tar.gz"), "--paper", "tiny-moons",
                          "--out", str(tmp_path / "graded"), "--dummy")  # fmt: skip
    assert code == 0, stderr
    assert (tmp_path / "graded" / "grade.json").is_file()


def test_import_refuses_hostile_or_broken_archives(tmp_path: Path) -> None:
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tar:
        data = b"pwned\n"
        info = tarfile.TarInfo("../../escape.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    out = tmp_path / "out"
    code, _, stderr = cli("import", "paperbench", str(evil), "--out", str(out))
    assert code == 1 and "escapes" in stderr and len(stderr.strip().splitlines()) == 1
    assert not out.exists() and not (tmp_path.parent / "escape.txt").exists()

    linked = tmp_path / "linked.tar"
    sub = paperbench_run(tmp_path / "r2")
    (sub / "results" / "passwd").symlink_to("/etc/passwd")
    with tarfile.open(linked, "w") as tar:
        tar.add(sub, arcname="submission")
    code, _, stderr = cli("import", "paperbench", str(linked), "--out", str(out))
    assert code == 0, stderr
    meta = json.loads((out / "metadata.json").read_text())
    assert any("passwd" in s for s in meta["skipped_files"])
    assert not (out / "submission" / "results" / "passwd").exists()

    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"\x1f\x8b not really gzip")
    out2 = tmp_path / "out2"
    code, _, stderr = cli("import", "paperbench", str(broken), "--out", str(out2))
    assert code == 1 and "unreadable archive" in stderr and "Traceback" not in stderr
    assert not out2.exists()
    plain = tmp_path / "plain.tar"
    with tarfile.open(plain, "w") as tar:
        tar.add(tmp_path / "r2" / "submission" / "src", arcname="src")
    code, _, stderr = cli("import", "paperbench", str(plain), "--out", str(out2))
    assert code == 1 and "reproduce.log.creation_time" in stderr and not out2.exists()


def test_userns_remapping_is_read_from_docker_info() -> None:
    remapped = EngineInfo("27.1", frozenset(), ("name=seccomp,profile=default", "name=userns"), 8)
    plain = EngineInfo("27.1", frozenset(), ("name=seccomp,profile=default",), 8)
    assert remapped.userns_remap and not plain.userns_remap

    class Remapped(StandInEngine):
        def info(self) -> EngineInfo:
            return remapped

    plenty = lambda p: (100 << 30, 0, 100 << 30)  # noqa: E731
    checks = diagnose(
        RunnerSettings(image="x"), Remapped, disk_usage=plenty, host_gpus=lambda i: HostGpus(False, ())
    )
    assert [c.level for c in checks if c.name == "userns"] == ["OK"]
