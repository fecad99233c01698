"""GPUs: every way Docker offers them is accepted, and what the container saw is parsed exactly.

Invariants: nvidia-smi's real H100 outputs (shared fixtures) parse to model, memory, driver, CUDA
version and count; a host with only the toolkit's hook, only the nvidia runtime, or only CDI
specs gets GPUs (each its own request form); ``auto`` asks for all GPUs on a GPU host and none
elsewhere; a GPU host the engine cannot serve, or an explicit request on an engine without any
way, is one clear infrastructure error. On the real engine (no GPU here) each request form is
refused by the engine and that answer becomes an InfraError, never a traceback or a run without GPUs;
with an engine that has GPUs (a stand-in answering with the real H100 output), the run gets the
probe's request and metadata.json records what the container saw.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.docker_engine import gpu_create_args
from runner.engine import ContainerSpec, EngineInfo, ExitState, GpuRequest
from runner.errors import InfraError
from runner.gpu import (
    HostGpus,
    detect_host,
    parse_nvidia_smi_csv,
    parse_nvidia_smi_xml,
    probe,
    resolve_request,
)
from runner.reproduce import ReproduceOptions, reproduce

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "gpu"


def info(runtimes: tuple[str, ...] = ("runc",), cdi: tuple[str, ...] = ()) -> EngineInfo:
    return EngineInfo("27.0", frozenset(runtimes), ("name=seccomp,profile=default",), 16, cdi)


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="shared GPU fixtures not present")
def test_real_h100_outputs_parse() -> None:
    snap = parse_nvidia_smi_xml((FIXTURES / "h100-nvidia-smi-q.xml").read_text())
    assert snap.count == 1 and snap.driver_version == "580.159.04" and snap.cuda_version == "13.0"
    assert snap.devices[0].name == "NVIDIA H100 80GB HBM3"
    assert snap.devices[0].memory_total_mib == 81559  # frame buffer, not BAR1 (131072)
    assert snap.to_dict()["devices"][0]["uuid"] == "GPU-00000000-1111-2222-3333-444444444444"
    rows = parse_nvidia_smi_csv((FIXTURES / "h100-nvidia-smi-query.csv").read_text())
    assert [(r.name, r.memory_total_mib) for r in rows] == [("NVIDIA H100 80GB HBM3", 81559)]
    with pytest.raises(ValueError):
        parse_nvidia_smi_xml("<nvidia_smi_log><gpu>")


def test_every_way_docker_offers_gpus_is_accepted() -> None:
    dev = lambda pattern: ["/dev/nvidia0"] if "nvidia" in pattern else []  # noqa: E731
    no_dev = lambda pattern: []  # noqa: E731
    hook_only = detect_host(info(), which=lambda n: "/usr/bin/" + n if "hook" in n else None, dev_glob=dev)
    assert hook_only == HostGpus(True, ("hook",))  # today's check refused this host
    runtime_only = detect_host(info(("runc", "nvidia")), which=lambda n: None, dev_glob=dev)
    assert runtime_only.methods == ("runtime",)
    cdi_only = detect_host(
        info(cdi=("/etc/cdi",)), which=lambda n: None, dev_glob=dev, cdi_has_nvidia=lambda d: True
    )
    assert cdi_only.methods == ("cdi",)
    cpu_host = detect_host(info(), which=lambda n: None, dev_glob=no_dev)
    assert not cpu_host.devices_present and not cpu_host.usable

    assert resolve_request("auto", hook_only) == GpuRequest("all", "hook")
    assert resolve_request("auto", cpu_host) is None
    assert resolve_request("none", hook_only) is None
    assert resolve_request("device=0,1", cdi_only) == GpuRequest("device=0,1", "cdi")
    with pytest.raises(InfraError, match="NVIDIA Container Toolkit"):
        resolve_request("auto", HostGpus(True, ()))  # GPUs, but no way to hand them over
    with pytest.raises(InfraError, match="offers none"):
        resolve_request("all", cpu_host)
    with pytest.raises(InfraError, match="expected 'all'"):
        resolve_request("lots", hook_only)


def test_request_forms_per_method() -> None:
    hook = gpu_create_args(GpuRequest("2", "hook"))["device_requests"][0]
    assert hook["Driver"] == "nvidia" and hook["Count"] == 2 and hook["Capabilities"] == [["gpu"]]
    cdi = gpu_create_args(GpuRequest("device=0,1", "cdi"))["device_requests"][0]
    assert cdi["Driver"] == "cdi" and cdi["DeviceIDs"] == ["nvidia.com/gpu=0", "nvidia.com/gpu=1"]
    runtime = gpu_create_args(GpuRequest("all", "runtime"))
    assert runtime["runtime"] == "nvidia" and runtime["environment"]["NVIDIA_VISIBLE_DEVICES"] == "all"


@pytest.mark.docker
@pytest.mark.parametrize("method", ["hook", "runtime", "cdi"])
def test_engine_answers_become_one_clear_infra_error(
    method: str, repro_image: str, docker_engine: object
) -> None:
    with pytest.raises(InfraError) as err:
        probe(docker_engine, repro_image, GpuRequest("all", method))  # type: ignore[arg-type]
    message = str(err.value)
    assert "\n" not in message and "Traceback" not in message
    assert docker_engine.list_labelled("org.reprobot.probe") == []  # type: ignore[attr-defined]


class _FakeContainer:
    def __init__(self, spec: ContainerSpec, output: bytes) -> None:
        self.id, self.spec, self.output = "c" * 64, spec, output

    def start(self) -> None: ...

    def log_stream(self) -> Iterator[bytes]:
        yield self.output

    def wait(self, timeout_s: float) -> bool:
        return True

    def kill(self) -> None: ...

    def exit_state(self) -> ExitState:
        return ExitState(0, False)

    def remove(self) -> None: ...


class GpuHostEngine:
    """An honest stand-in for an engine with the nvidia runtime whose containers see one H100."""

    def __init__(self, xml: bytes) -> None:
        self.xml = xml
        self.specs: list[ContainerSpec] = []

    def info(self) -> EngineInfo:
        return info(("runc", "nvidia"))

    def image_digest(self, image: str) -> str:
        return "sha256:" + "1" * 64

    def image_labels(self, image: str) -> dict[str, str]:
        return {}

    def create(self, spec: ContainerSpec) -> _FakeContainer:
        self.specs.append(spec)
        return _FakeContainer(spec, self.xml if spec.command[0] == "nvidia-smi" else b"trained\n")

    def list_labelled(self, label: str) -> list[str]:
        return []

    def labelled_containers(self, label: str) -> list[object]:
        return []

    def remove_container(self, container_id: str) -> None: ...


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="shared GPU fixtures not present")
def test_metadata_records_what_the_container_saw(tmp_path: Path) -> None:
    engine = GpuHostEngine((FIXTURES / "h100-nvidia-smi-q.xml").read_bytes())
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "reproduce.sh").write_text("python train.py\n")
    # This stand-in engine answers for GPUs only: the run needs no network and no disk limit from it.
    options = ReproduceOptions(image="img", gpus="all", salvage=False, network="none", disk_limit=None)
    meta = reproduce(sub, tmp_path / "out", options, engine=engine)  # type: ignore[arg-type]
    probe_spec, run_spec = engine.specs
    assert probe_spec.command[:2] == ("nvidia-smi", "-q") and probe_spec.gpu == GpuRequest("all", "runtime")
    assert run_spec.gpu == GpuRequest("all", "runtime")  # the run gets what the probe got
    gpu = json.loads((tmp_path / "out" / "metadata.json").read_text())["gpu"]
    assert (
        gpu["requested"] == "all" and gpu["method"] == "runtime" and gpu["names"] == ["NVIDIA H100 80GB HBM3"]
    )
    assert gpu["seen"]["count"] == 1 and gpu["seen"]["cuda_version"] == "13.0"
    assert gpu["seen"]["driver_version"] == "580.159.04"
    assert gpu["seen"]["devices"][0]["memory_total_mib"] == 81559
    assert meta.gpu == gpu
