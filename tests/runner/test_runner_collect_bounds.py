"""Collection has its own bounds and never raises for what a run left.

Invariants: the number of files, the bytes read, the bytes copied and the time are each capped;
what is past a cap is counted and skipped, never read (a sparse 10 MiB file past the read cap is
not hashed), and listed compactly (a bounded number of named entries, the rest summed per top
folder); memory grows with the cap, not with the number of files the run made (300,000 files cost
what 60,000 do); odd names (not UTF-8, control characters), over-long paths and chains deeper than
PATH_MAX are recorded, not raised; the record is plain JSON.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.collect import NAMED_SKIPS, CollectCaps, collect
from runner.run_record import collection_notes, collection_record


def make_files(folder: Path, n: int, per_dir: int = 50_000) -> None:
    for i in range(n):
        d = folder / f"d{i // per_dir:03d}"
        if i % per_dir == 0:
            d.mkdir(parents=True, exist_ok=True)
        os.close(os.open(d / f"f{i:07d}", os.O_CREAT | os.O_WRONLY, 0o644))


def peak_of(workspace: Path, dest: Path, caps: CollectCaps) -> tuple[int, object]:
    tracemalloc.start()
    try:
        result = collect(workspace, dest, caps)
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


@pytest.fixture
def fast_tmp(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs folder when there is one (300,000 inodes are made 4x faster there), else tmp_path."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        folder = Path(tempfile.mkdtemp(prefix="reprobot-test-collect-", dir=shm))
        yield folder
        shutil.rmtree(folder, ignore_errors=True)
    else:
        yield tmp_path


def test_300000_files_are_collected_within_the_caps_in_bounded_memory(fast_tmp: Path, tmp_path: Path) -> None:
    small, large = fast_tmp / "small", fast_tmp / "large"
    make_files(small, 60_000)
    make_files(large, 300_000)
    caps = CollectCaps(max_files=20_000)
    peak_small, _ = peak_of(small, tmp_path / "out-small", caps)
    peak_large, result = peak_of(large, tmp_path / "out-large", caps)
    assert result.entries_seen == 20_000 and result.files_seen == 20_000 - 1  # one folder among them
    # d000 holds 50,000 files: 30,001 of them are past the cap; d001..d005 are skipped whole, unread
    assert result.files_skipped == 30_001 + 5
    assert [line for line in result.skipped if line.startswith("1 more under d00")] == [
        f"1 more under d00{i}/ (past the file-count cap)" for i in range(1, 6)
    ]
    assert "files" in result.caps_hit and result.stopped is None
    assert len(result.skipped) <= NAMED_SKIPS + 10  # named ones, then one line per (reason, top folder)
    summed = [line for line in result.skipped if " more under " in line]
    assert sum(int(line.split()[0]) for line in summed) + NAMED_SKIPS == result.files_skipped
    assert (peak_small, peak_large) < (200 * 1024**2, 200 * 1024**2)
    copied = sum(1 for _ in (tmp_path / "out-large").rglob("f*"))
    assert copied == result.files_seen
    assert peak_large < 1.5 * peak_small, (peak_small, peak_large)  # bounded by the cap, not by the run
    record = collection_record(result)  # type: ignore[arg-type]
    json.dumps({**dataclasses.asdict(record), "skipped": result.skipped})
    assert collection_notes(result)[0].startswith("collection: ")  # type: ignore[arg-type]


def test_sparse_files_past_the_read_cap_are_not_read(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    for i in range(1500):  # the 1,500 sparse 10 MiB files: 15 GiB to read, 0 bytes on disk
        with open(ws / f"s{i:04d}.bin", "wb") as fh:
            fh.truncate(10 * 1024**2 - 1)
    caps = CollectCaps(file_cap=10 * 1024**2, total_cap=64 * 1024**2, read_cap=100 * 1024**2)
    result = collect(ws, tmp_path / "out", caps)
    assert result.read_bytes <= caps.read_cap
    hashed = [k for k, v in result.after.items() if v.sha256 is not None]
    assert len(hashed) == caps.read_cap // (10 * 1024**2 - 1)  # 10 files read, the rest only stat'ed
    assert result.copied_bytes <= caps.total_cap and {"read", "copied"} <= set(result.caps_hit)
    assert len(result.after) == 1500  # every file is still known by its size (files_changed)


def test_the_time_cap_stops_collection_with_what_it_has(tmp_path: Path) -> None:
    make_files(tmp_path / "ws", 500)
    ticks = iter(range(10**6))
    result = collect(
        tmp_path / "ws", tmp_path / "out", CollectCaps(time_s=100), clock=lambda: float(next(ticks))
    )
    assert result.stopped == "time" and "time" in result.caps_hit
    assert 0 < result.files_seen < 500
    assert any("time cap" in line for line in result.skipped)


def deep_chain(root: Path, depth: int, name: str = "a" * 200) -> None:
    """A chain of folders whose full path is far beyond PATH_MAX (built relative to each folder)."""
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            nxt = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        os.close(os.open("leaf.txt", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
    finally:
        os.close(fd)


def test_odd_names_and_deep_chains_are_recorded_not_raised(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "ok.txt").write_text("fine\n")
    deep_chain(ws, 40)  # 40 x 201 bytes: an 8 KB path, twice PATH_MAX
    latin1 = os.fsdecode(b"caf\xe9-latin1.txt")
    (ws / latin1).write_bytes(b"x")
    (ws / "new\nline.txt").write_text("x")
    (ws / "tab\there").mkdir()
    (ws / "tab\there" / "inside.txt").write_text("reached")
    result = collect(ws, tmp_path / "out", CollectCaps(max_depth=64, max_path_bytes=1024))
    skipped = "\n".join(result.skipped)
    assert "path longer than 1024 bytes; not descended" in skipped and set(result.caps_hit) == {"names"}
    odd = "\n".join(result.odd_names)  # collected as they are, listed escaped
    assert "caf\\xe9-latin1.txt (name is not UTF-8)" in odd
    assert "new\\nline.txt (control character in name)" in odd and "tab\\there (control character" in odd
    out = tmp_path / "out"
    assert (out / "ok.txt").read_text() == "fine\n" and (out / latin1).read_bytes() == b"x"
    assert (out / "tab\there" / "inside.txt").read_text() == "reached"
    json.dumps([result.skipped, result.odd_names, sorted(result.after)])  # plain JSON
    for line in [*result.skipped, *result.odd_names]:
        line.encode("utf-8")  # never a lone surrogate in what is shown


def test_a_chain_deeper_than_the_depth_cap_stops_at_the_cap(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    deep_chain(ws, 100, name="d")
    result = collect(ws, tmp_path / "out", CollectCaps(max_depth=64))
    assert any("deeper than 64 folders; not descended" in s for s in result.skipped)
    assert result.files_seen == 0 and result.entries_seen == 65  # the 65th folder is seen, not entered
