"""Building blocks of the runner: capped logs keep head and tail and mark the cut; collection never
follows links or opens FIFOs and applies caps; change records come from content hashes; apt mirrors
come from the machine's configuration; settings validate sizes and refuse the host network; the
image build is a fast no-op when the recipe is unchanged (real engine).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bot.settings import load_settings
from runner.config import RunnerSettings, parse_size
from runner.errors import InfraError, SubmissionError
from runner.image import DEFAULT_IMAGE, ImageRecipe, build_default_image, find_mirror, parse_apt_sources
from runner.logcap import CappedLog
from runner.reproduce import ReproduceOptions
from runner.workspace import collect, diff, snapshot


def test_capped_log_keeps_head_and_tail(tmp_path: Path) -> None:
    log = CappedLog(tmp_path / "l", 100)
    for i in range(1000):
        log.write(f"{i:04d}\n".encode())
    log.close()
    data = (tmp_path / "l").read_bytes()
    assert log.truncated and data.startswith(b"0000\n") and data.endswith(b"0999\n")
    assert b"bytes of output cut here" in data
    small = CappedLog(tmp_path / "s", 100)
    small.write(b"short\n")
    small.close()
    assert (tmp_path / "s").read_bytes() == b"short\n" and not small.truncated


def test_collect_skips_links_fifos_and_caps(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "d").mkdir(parents=True)
    (ws / "a.txt").write_bytes(b"a" * 10)
    (ws / "d" / "b.txt").write_bytes(b"b" * 10)
    (ws / "big").write_bytes(b"x" * 100)
    (ws / "ln").symlink_to("/etc/passwd")
    (ws / "root").symlink_to("/")
    os.mkfifo(ws / "fifo")
    (ws / ".git").mkdir()
    (ws / ".git" / "HEAD").write_text("ref\n")
    before = {"a.txt": snapshot(ws)["a.txt"]}
    out = tmp_path / "out"
    res = collect(ws, out, file_cap=50, total_cap=15)
    assert sorted(p.name for p in out.rglob("*")) == ["a.txt", "d"]
    assert any("b.txt (over the total cap" in s for s in res.skipped)
    assert any("big (over the per-file cap" in s for s in res.skipped)
    assert {"ln (symlink)", "root (symlink)", "fifo (not a regular file)"} <= set(res.skipped)
    changes = {c.path: c.change for c in diff(before, res.after)}
    assert changes == {"d/b.txt": "created", "big": "created"}


def test_apt_sources_parsing_and_mirror(tmp_path: Path) -> None:
    deb822 = (
        "Types: deb\nURIs: http://mirror.invalid/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\nSigned-By: /k.gpg\n\nTypes: deb\nURIs: http://mirror.invalid/sec\n"
        "Suites: bookworm-security\n"
    )
    src = parse_apt_sources(deb822, deb822=True)
    assert src[0].uri == "http://mirror.invalid/debian" and src[0].keyring == "/k.gpg"
    one = parse_apt_sources("deb [signed-by=/k2.gpg] http://m.invalid/debian bookworm main\n", deb822=False)
    assert one[0].uri == "http://m.invalid/debian" and one[0].keyring == "/k2.gpg"
    f = tmp_path / "debian.sources"
    f.write_text(deb822)
    assert find_mirror("bookworm", [tmp_path / "missing.list", f]).uri == "http://mirror.invalid/debian"
    with pytest.raises(InfraError, match="no apt mirror"):
        find_mirror("trixie", [f])


def test_recipe_digest_tracks_the_recipe() -> None:
    assert ImageRecipe().digest() == ImageRecipe().digest()
    assert ImageRecipe(packages=("bash",)).digest() != ImageRecipe().digest()
    assert any(c.startswith("USER repro") for c in ImageRecipe().changes())


def test_settings_and_options() -> None:
    assert parse_size("2g") == 2 * 1024**3 and parse_size("512m") == 512 * 1024**2 and parse_size(10) == 10
    with pytest.raises(SubmissionError):
        parse_size("lots")
    s = load_settings(environ={})
    assert s.runner.image == DEFAULT_IMAGE == "reprobot/repro-paperbench:bookworm"
    assert s.runner.blacklist_policy == "report" and s.runner.profile == "paperbench"
    assert s.runner.timeout_s == 24 * 3600 and s.runner.gpus == "auto" and s.runner.salvage
    assert s.runner.file_cap_bytes == 10 * 1024**2
    with pytest.raises(ValueError):
        RunnerSettings(network="host")
    with pytest.raises(ValueError):
        RunnerSettings(memory="a lot")
    o = ReproduceOptions.from_settings(RunnerSettings(), memory="1g", cpus=None)
    assert o.memory == "1g" and o.cpus == 4.0
    # ReproduceOptions' defaults are RunnerSettings' own: one place, no drift
    custom = RunnerSettings(profile="locked", timeout_s=60, gpus="none", salvage=False)
    assert ReproduceOptions.from_settings(custom) == ReproduceOptions(
        profile="locked", timeout_s=60.0, gpus="none", salvage=False
    )
    defaults = RunnerSettings()
    for name in ("profile", "image", "memory", "cpus", "pids_limit", "gpus", "network", "salvage_under_s"):
        assert getattr(ReproduceOptions(), name) == getattr(defaults, name)


@pytest.mark.docker
def test_image_build_is_idempotent_and_fast(repro_image: str, docker_engine: object, tmp_path: Path) -> None:
    start = time.monotonic()
    result = build_default_image(docker_engine, image=DEFAULT_IMAGE, cache_dir=tmp_path)  # type: ignore[arg-type]
    assert not result.built and time.monotonic() - start < 2
    assert not any(tmp_path.iterdir())  # nothing rebuilt, nothing cached anew


def test_huge_sparse_files_are_neither_read_nor_copied(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    with open(ws / "sparse", "wb") as fh:
        fh.truncate(1 << 40)  # 1 TiB of nothing: reading it would take hours
    (ws / "kept.bin").write_bytes(b"k" * 100)
    start = time.monotonic()
    res = collect(ws, tmp_path / "out", file_cap=1000, total_cap=10_000)
    assert time.monotonic() - start < 2
    assert res.after["sparse"].sha256 is None and res.after["sparse"].size == 1 << 40
    assert not (tmp_path / "out" / "sparse").exists() and (tmp_path / "out" / "kept.bin").exists()
    change = diff({}, res.after)
    assert {c.path: (c.change, c.sha256_after) for c in change}["sparse"] == ("created", None)
