"""A container of the real engine (Docker SDK): start, logs, wait, kill, files in and out, remove."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from runner.docker_layer import release_writable_layer
from runner.engine import ExitState
from runner.errors import InfraError

try:  # the SDK is a runtime dependency
    import docker
    import docker.errors
except ImportError:  # pragma: no cover
    docker = None


class DockerContainer:
    def __init__(self, client: Any, container: Any, layer_mount: Path | None = None) -> None:
        self._client = client
        self._c = container
        self.id: str = container.id
        self._layer_mount = layer_mount  # where the run's filesystem is bound over the engine's layer

    def start(self) -> None:
        try:
            self._c.start()
        except docker.errors.APIError as exc:
            detail = exc.explanation or exc
            raise InfraError(f"the Docker engine could not start the container: {detail}") from None

    def log_stream(self) -> Iterator[bytes]:
        # The json-file driver writes the log to disk whatever we do, so a slow reader never
        # blocks the container; follow=True reads from the beginning, so nothing is lost.
        yield from self._c.logs(stream=True, follow=True, stdout=True, stderr=True)

    def wait(self, timeout_s: float) -> bool:
        try:
            self._c.wait(timeout=max(timeout_s, 0.01))
            return True
        except Exception as exc:  # requests' ReadTimeout/ConnectionError on timeout
            if "timed out" in str(exc).lower() or exc.__class__.__name__ in (
                "ReadTimeout",
                "ConnectionError",
            ):
                return False
            raise

    def kill(self) -> None:
        try:
            self._c.kill()
        except docker.errors.APIError:
            pass  # already stopped

    def exit_state(self) -> ExitState:
        self._c.reload()
        state = self._c.attrs.get("State", {})
        running = state.get("Running", False)
        code = None if running else state.get("ExitCode")
        return ExitState(exit_code=code, oom_killed=bool(state.get("OOMKilled")))

    def read_files(self, folder: str, max_bytes: int = 1024**2) -> dict[str, bytes]:
        try:
            stream, _stat = self._c.get_archive(folder)
            data = b"".join(stream)
        except docker.errors.NotFound:
            return {}
        except docker.errors.APIError as exc:
            raise InfraError(f"the Docker engine could not read {folder}: {exc.explanation or exc}") from None
        found: dict[str, bytes] = {}
        total = 0
        base = folder.rstrip("/").rsplit("/", 1)[0]
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar:
                if not member.isreg() or total + member.size > max_bytes:
                    continue
                fh = tar.extractfile(member)
                if fh is not None:
                    found[f"{base}/{member.name}"] = fh.read()
                    total += member.size
        return found

    def put_files(self, files: Mapping[str, bytes]) -> None:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            dirs: set[str] = set()
            for path in files:
                parts = path.strip("/").split("/")[:-1]
                dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
            for d in sorted(dirs):
                info = tarfile.TarInfo(d)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            for path, data in files.items():
                info = tarfile.TarInfo(path.strip("/"))
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
        try:
            self._c.put_archive("/", buf.getvalue())
        except docker.errors.APIError as exc:
            raise InfraError(
                f"the Docker engine could not prepare the container: {exc.explanation or exc}"
            ) from None

    def remove(self) -> None:
        if self._layer_mount is not None:
            self.kill()
            self.wait(30)
            release_writable_layer(self._layer_mount)
        try:
            self._c.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if "already in progress" not in str(exc):
                raise
