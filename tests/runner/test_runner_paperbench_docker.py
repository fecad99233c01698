"""PaperBench's contract on the real engine: root inside a fresh container, never root outside.

Invariants: reproduce.sh runs as root from the submission folder with a writable root filesystem
(apt-get install works, /usr/local/bin is writable, a stale venv/ is gone before it starts), yet
that root holds only the package-manager capabilities: it cannot mount, open raw sockets, make
device nodes, load kernel modules, write /proc/sysrq-trigger or reach the docker socket. A quick
failure is salvaged with PaperBench's variations (every attempt kept, the last graded, only when
it failed; the report says which). A missing reproduce.sh is recorded, not rejected. A killed
`reprobot grade` leaves no running container past the deadline, and the next start removes its
container and temp folders. When reprobot runs as an ordinary user, root's files never block
cleanup. Bad input (no image, no GPUs, impossible limits) is one line, exit 3, nothing left.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner.engine import LabelledContainer
from runner.janitor import OWNER_LABEL, RUN_LABEL, owner_label
from runner.profiles import PACKAGE_MANAGER_CAPS
from runner.reproduce import ReproduceOptions, reproduce

pytestmark = pytest.mark.docker

CAP_BITS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "FSETID": 4, "KILL": 5, "SETGID": 6, "SETUID": 7}


def make(root: Path, script: str, files: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "reproduce.sh").write_text(script)
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def opts(image: str, **kw: object) -> ReproduceOptions:
    base: dict[str, object] = dict(
        image=image, timeout_s=60, memory="512m", cpus=1.0, pids_limit=256, network="none", salvage=False
    )
    base.update(kw)
    return ReproduceOptions(**base)  # type: ignore[arg-type]


def test_root_inside_with_only_package_manager_capabilities(
    tmp_path: Path, repro_image: str, docker_engine: object
) -> None:
    script = r"""
echo "uid=$(id -u) pwd=$(pwd)"
grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status
echo "mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"
echo "pids=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)"
cg=/sys/fs/cgroup/cpu
echo "cpu=$(cat $cg/cpu.cfs_quota_us 2>/dev/null)/$(cat $cg/cpu.cfs_period_us 2>/dev/null)"
echo "env-keys=$(env | cut -d= -f1 | sort | tr '\n' ' ')"
echo hi > /usr/local/bin/made-by-root && echo "usr-local-writable"
touch /etc/owned && echo "root-writable"
ls -d venv .venv 2>&1 | grep -c 'No such file'
mount -t tmpfs none /mnt 2>/dev/null && echo "MOUNTED" || echo "no-mount"
python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)' 2>/dev/null \
  && echo "RAW-SOCKET" || echo "no-raw-socket"
mknod /tmp/mem c 1 1 2>/dev/null && echo "MKNOD" || echo "no-mknod"
python3 - <<'PY'
import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
# finit_module(fd, "", 0) with an fd of /dev/null: EPERM without CAP_SYS_MODULE (seccomp or caps)
fd = __import__("os").open("/dev/null", 0)
nr = {"x86_64": 313, "aarch64": 273}.get(__import__("platform").machine(), 313)
rc = libc.syscall(nr, fd, b"", 0)
print("MODULE-LOADED" if rc == 0 else f"no-module-load errno={errno.errorcode.get(ctypes.get_errno())}")
PY
echo b > /proc/sysrq-trigger 2>/dev/null && echo "SYSRQ" || echo "no-sysrq"
ls /var/run/docker.sock /run/docker.sock 2>&1 | grep -c 'No such file'
python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.connect("/var/run/docker.sock")' 2>/dev/null \
  && echo "DOCKER" || echo "no-docker"
ls /work 2>&1 | head -1
"""
    sub = make(tmp_path / "sub", script, {"venv/bin/python": "stale", ".venv/x": "stale"})
    meta = reproduce(sub, tmp_path / "out", opts(repro_image), engine=docker_engine)  # type: ignore[arg-type]
    log = (tmp_path / "out" / "reproduce.log").read_text()
    assert meta.exit_code == 0 and meta.profile == "paperbench", log
    assert "uid=0 pwd=/submission" in log
    mask = sum(1 << CAP_BITS[c] for c in PACKAGE_MANAGER_CAPS)
    assert f"CapEff:\t{mask:016x}" in log and f"CapBnd:\t{mask:016x}" in log, log
    assert "NoNewPrivs:\t1" in log and "Seccomp:\t2" in log
    assert f"mem={512 * 1024**2}" in log and "pids=256" in log and "cpu=100000/100000" in log
    env_keys = set(log.split("env-keys=")[1].split("\n")[0].split())
    assert env_keys <= {"HOME", "HOSTNAME", "LANG", "PATH", "PWD", "SHLVL", "_", "OLDPWD"}, env_keys
    assert "usr-local-writable" in log and "root-writable" in log
    assert log.count("\n2\n") >= 2  # venv and .venv gone before the run; both docker socket paths absent
    for bad in ("MOUNTED", "RAW-SOCKET", "MKNOD", "MODULE-LOADED", "SYSRQ", "DOCKER"):
        assert bad not in log, log
    assert "no-module-load errno=EPERM" in log
    assert "cannot access '/work'" in log
    assert meta.userns_remap is False and meta.creation_time is not None
    created = int((tmp_path / "out" / "reproduce.log.creation_time").read_text())
    assert abs(created - meta.creation_time) < 2
    assert not (sub / "usr").exists() and (sub / "venv" / "bin" / "python").exists()  # original untouched


def test_paperbench_toy_example_strictly_with_apt_get(
    tmp_path: Path, repro_image: str, docker_engine: object
) -> None:
    """PaperBench's toy reproduce.sh starts with apt-get install; with set -e it must pass."""
    script = (
        "set -e\napt-get update -q\napt-get install -y -q jq\n"
        "python3 -c 'print(2 + 2)' > result.txt\njq -n '{ok: true}' > result.json\n"
    )
    sub = make(tmp_path / "sub", script)
    meta = reproduce(
        sub, tmp_path / "out", opts(repro_image, network="bridge", timeout_s=300), engine=docker_engine
    )  # type: ignore[arg-type]
    log = (tmp_path / "out" / "reproduce.log").read_text()
    if meta.exit_code != 0 and ("Temporary failure" in log or "Could not resolve" in log):
        pytest.skip("no apt mirror reachable from a container here")
    assert meta.exit_code == 0, log[-2000:]
    assert (tmp_path / "out" / "submission" / "result.txt").read_text() == "4\n"
    assert json.loads((tmp_path / "out" / "submission" / "result.json").read_text()) == {"ok": True}
    assert meta.changed_paths == {"result.txt", "result.json"}


def test_salvage_retries_quick_failures_and_grades_the_last(
    tmp_path: Path, repro_image: str, docker_engine: object
) -> None:
    needs_venv = 'echo "venv=${VIRTUAL_ENV:-none}"\n[ -n "${VIRTUAL_ENV:-}" ] || exit 3\necho ok > out.txt\n'
    out = tmp_path / "out"
    meta = reproduce(
        make(tmp_path / "s1", needs_venv), out, opts(repro_image, salvage=True), engine=docker_engine
    )  # type: ignore[arg-type]
    assert [a.exit_code for a in meta.attempts][-1] == 0 and meta.exit_code == 0
    assert meta.attempts[0].exit_code == 3 and meta.attempts[0].variation == "as submitted"
    assert "fresh venv" in meta.attempts[-1].variation
    assert meta.graded_attempt == meta.attempts[-1].number == len(meta.attempts)
    for a in meta.attempts:
        assert (out / a.log).is_file() and (out / "attempts" / str(a.number) / "metadata.json").is_file()
    assert "venv=/submission/venv" in (out / "reproduce.log").read_text()
    assert (out / "submission" / "out.txt").read_text() == "ok\n"
    assert json.loads((out / "metadata.json").read_text())["graded_attempt"] == len(meta.attempts)

    ok = reproduce(
        make(tmp_path / "s2", "echo fine\n"),
        tmp_path / "o2",
        opts(repro_image, salvage=True),
        engine=docker_engine,
    )  # type: ignore[arg-type]
    assert len(ok.attempts) == 1 and ok.exit_code == 0  # never retried when it succeeded
    slow = reproduce(
        make(tmp_path / "s3", "exit 5\n"),
        tmp_path / "o3",
        opts(repro_image, salvage=True, salvage_under_s=0),
        engine=docker_engine,  # type: ignore[arg-type]
    )
    assert len(slow.attempts) == 1 and slow.exit_code == 5  # not quick: not retried


def test_no_reproduce_sh_is_recorded_not_rejected(
    tmp_path: Path, repro_image: str, docker_engine: object
) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "model.py").write_text("print('x')\n")
    meta = reproduce(sub, tmp_path / "out", opts(repro_image), engine=docker_engine)  # type: ignore[arg-type]
    assert meta.status == "not_run" and meta.not_run_reason == "no reproduce.sh" and meta.exit_code is None
    assert (tmp_path / "out" / "submission" / "model.py").is_file()
    assert (tmp_path / "out" / "reproduce.log").read_bytes() == b""
    ours = docker_engine.labelled_containers(RUN_LABEL)  # type: ignore[attr-defined]
    assert [c for c in ours if c.labels.get(OWNER_LABEL) == owner_label()] == []


def test_kill_9_of_reprobot_grade_leaves_nothing_past_the_deadline(
    tmp_path: Path, repro_image: str, docker_engine: object
) -> None:
    """kill -9 of `reprobot grade` mid-run: the container stops by its own deadline; the next
    `reprobot grade` removes it and the dead run's temp folders."""
    sub = make(tmp_path / "sub", "echo running\nsleep 600\n")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    config = tmp_path / "c.yaml"
    config.write_text(
        f"runner:\n  image: {repro_image}\n  timeout_s: 4\n  deadline_grace_s: 2\n"
        "  network: none\n  memory: 128m\n  salvage: false\n"
    )
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    cli = [sys.executable, "-m", "bot.cli", "--config", str(config), "grade"]
    args = ["--paper", "tiny-moons", "--judge", "dummy", "--out"]
    proc = subprocess.Popen(
        [*cli, str(sub), *args, str(tmp_path / "out")], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    owner = f"{socket.gethostname()}:{proc.pid}"  # the dockerd is shared: only this run's containers

    def mine() -> list[LabelledContainer]:
        found = docker_engine.labelled_containers(RUN_LABEL)  # type: ignore[attr-defined]
        return [c for c in found if c.labels.get(OWNER_LABEL) == owner]

    deadline = time.monotonic() + 60
    while not any(c.running for c in mine()) and time.monotonic() < deadline:
        time.sleep(0.1)  # created is not enough: the CLI must have started it before it dies
    ids = [c.id for c in mine()]
    assert ids, "the container never started"
    started = time.monotonic()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    left = {p.name.split("-")[1] for p in tmpdir.iterdir() if f"-{proc.pid}-" in p.name}
    assert left == {"run", "fetch"}, left  # what the dead run left behind
    time.sleep(2)
    assert any(c.running for c in mine()), "the container should still run before its deadline"
    # The container's own deadline (timeout 4 s + grace 2 s) stops it with nobody watching.
    while time.monotonic() < started + 6 + 10 and any(c.running for c in mine()):
        time.sleep(0.5)
    assert not any(c.running for c in mine()), "the container outlived its deadline"
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "main.py").write_text("print(1)\n")
    nxt = subprocess.run(
        [*cli, str(empty), *args, str(tmp_path / "out2")], env=env, capture_output=True, timeout=120
    )
    assert nxt.returncode == 0, nxt.stderr[-2000:]
    assert mine() == []  # removed by the next start
    assert [p.name for p in tmpdir.iterdir() if p.name.startswith("reprobot-")] == []


def test_bad_input_is_one_line_exit_3_and_nothing_left(tmp_path: Path, repro_image: str) -> None:
    sub = make(tmp_path / "sub", "echo hi\n")
    base = [sys.executable, "-m", "bot.cli", "reproduce", str(sub), "--network", "none"]
    cases = [
        ["--image", "reprobot/missing:nope"],
        ["--image", repro_image, "--memory", "1k"],
        ["--image", repro_image, "--timeout", "0"],
        ["--image", repro_image, "--gpus", "all"],
    ]
    for i, extra in enumerate(cases):
        out = tmp_path / f"out{i}"
        proc = subprocess.run([*base, "--out", str(out), *extra], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 3, (extra, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert not out.exists(), extra


@pytest.fixture
def request_cleanup() -> object:
    done: list[object] = []
    yield done
    for fn in done:
        fn()  # type: ignore[operator]


def test_ordinary_user_reprobot_leaves_nothing_of_roots_files(
    repro_image: str, docker_engine: object, request_cleanup: list[object]
) -> None:
    """reprobot as uid 65534 (with the docker socket's group): root's 0600/0500 files never block it."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an ordinary user")
    sock_gid = os.stat("/var/run/docker.sock").st_gid
    script = "mkdir -p d/e && echo secret > d/e/f && chmod 600 d/e/f && chmod 500 d/e d\necho r > rootfile\n"
    import shutil
    import tempfile

    work = Path(tempfile.mkdtemp(prefix="reprobot-test-nobody-"))  # pytest's tmp_path is root-only
    request_cleanup.append(lambda: shutil.rmtree(work, ignore_errors=True))
    sub = make(work / "sub", script)
    (work / "tmp").mkdir()
    for path in (work, work / "tmp", work / "sub", work / "sub" / "reproduce.sh"):
        os.chown(path, 65534, 65534)
    code = (
        "from pathlib import Path; from runner.reproduce import ReproduceOptions, reproduce\n"
        f"m = reproduce(Path({str(sub)!r}), Path({str(work / 'out')!r}),"
        f" ReproduceOptions(image={repro_image!r},"  # an ordinary user cannot mount a disk limit
        " network='none', disk_limit=None, memory='128m', salvage=False)); print('exit', m.exit_code)\n"
    )

    def demote() -> None:
        os.setgroups([sock_gid])
        os.setgid(65534)
        os.setuid(65534)

    import sysconfig

    repo = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "TMPDIR": str(work / "tmp"),
        "HOME": str(work),
        "PYTHONPATH": f"{repo}:{sysconfig.get_paths()['purelib']}",
    }
    python = None
    for candidate in (sys.executable, "/usr/bin/python3"):
        try:
            probe = subprocess.run(
                [candidate, "-c", "import runner.reproduce, docker"], env=env, preexec_fn=demote,  # noqa: PLW1509
                capture_output=True, timeout=60,
            )  # fmt: skip
        except OSError:
            continue
        if probe.returncode == 0:
            python = candidate
            break
    if python is None:
        pytest.skip("no Python interpreter this machine lets an ordinary user run reprobot with")
    proc = subprocess.run(
        [python, "-c", code],
        env=env,
        preexec_fn=demote,  # noqa: PLW1509 - the test needs another uid
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and "exit 0" in proc.stdout, proc.stderr[-2000:]
    out = work / "out" / "submission"
    assert (out / "d" / "e" / "f").read_text() == "secret\n" and (out / "rootfile").is_file()
    assert os.stat(out / "rootfile").st_uid == 65534
    assert list((work / "tmp").iterdir()) == []  # no temp folder left, root's files included


def test_salvage_switches_python3_where_the_image_has_two(
    tmp_path: Path, repro_image: str, docker_engine: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The "other Python" variation really switches python3 (here to the image's own 3.11)."""
    import runner.reproduce as rp

    assert rp.salvage_plan(("3.12", "3.11")) == (
        rp.Variation(python="3.11"),
        rp.Variation(fresh_venv=True),
        rp.Variation(python="3.11", fresh_venv=True),
    )
    assert rp.salvage_plan(("3.11",)) == (rp.Variation(fresh_venv=True),)
    monkeypatch.setattr(rp, "salvage_plan", lambda pythons: (rp.Variation(python="3.11"),))
    script = '[ "$(command -v python3)" = /usr/local/bin/python3 ] || exit 4\npython3 --version\n'
    meta = reproduce(
        make(tmp_path / "s", script), tmp_path / "o", opts(repro_image, salvage=True), engine=docker_engine
    )  # type: ignore[arg-type]
    assert [(a.variation, a.exit_code) for a in meta.attempts] == [("as submitted", 4), ("python3.11", 0)]
    assert "salvage: python3 is now Python 3.11" in (tmp_path / "o" / "reproduce.log").read_text()


def test_the_report_says_which_attempt_is_graded(tmp_path: Path, repro_image: str) -> None:
    from click.testing import CliRunner

    from bot.cli import main

    sub = make(tmp_path / "sub", '[ -n "${VIRTUAL_ENV:-}" ] || exit 3\necho ok > out.txt\n')
    config = tmp_path / "c.yaml"
    config.write_text(f"runner:\n  image: {repro_image}\n  network: none\n  memory: 256m\n")
    out = tmp_path / "out"
    args = ["--config", str(config), "grade", str(sub), "--paper", "tiny-moons", "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--judge", "dummy"])
    assert result.exit_code == 0, result.stderr
    html = (out / "report.html").read_text()
    assert "graded: attempt 2 (fresh venv)" in html
    assert (out / "attempts" / "1" / "reproduce.log").is_file()
