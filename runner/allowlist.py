"""The egress allow-list of a run: the hosts reprobot's proxy lets a reproduction reach.

Entries follow squid's ``dstdomain``: ``files.example.org`` is that host only, ``.example.org`` the domain and
every host under it. Package registries are never written into reprobot: their names come from the
tools' own configuration on this machine: the index pip itself names as its default (and any index
pip is configured with, in its config files or ``PIP_INDEX_URL``/``PIP_EXTRA_INDEX_URL``), the apt
sources of this host and of the run's image (Debian's mirrors on a Debian image, Ubuntu's archive on
an Ubuntu one). Hosts that are not registries are named here: PyTorch's wheel index (the one
``runner/docker/Dockerfile.cuda`` installs from), Hugging Face and GitHub. The organizer adds hosts
in the configuration (``runner.egress_allow``) and per paper (``runner: egress_allow:`` in the
paper's ``config.yaml``), and may drop the defaults (``runner.egress_defaults: false``).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from runner.image import APT_SOURCE_FILES, parse_apt_sources

NAMED_HOSTS: tuple[str, ...] = (
    "download.pytorch.org",  # PyTorch's wheel index (--index-url https://download.pytorch.org/whl/...)
    ".huggingface.co",  # the Hub, its API and its LFS/CDN hosts
    ".hf.co",  # the Hub's short domain and its Xet storage bridge
    "github.com",
    ".github.com",  # api., codeload.
    ".githubusercontent.com",  # raw., objects. (release assets, LFS)
)
APT_SOURCE_DIR = Path("/etc/apt/sources.list.d")
_HOST_RE = re.compile(r"^\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


def normalise_entry(value: str) -> str:
    """``https://Files.Example.org/x`` -> ``files.example.org``; ``*.example.org`` -> ``.example.org``.

    Raises ValueError for anything that is not a host name, a ``.domain`` or an IP address.
    """
    text = value.strip().lower()
    if "://" in text:
        text = urlsplit(text).hostname or ""
    text = text.split("/", 1)[0]
    if text.startswith("*."):
        text = text[1:]
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if text.count(":") == 1:  # host:port -> host (the proxy decides ports: 80 and 443)
        text = text.split(":", 1)[0]
    if not text or len(text) > 253 or not _HOST_RE.match(text) or text.strip(".") == "":
        raise ValueError(
            f"{value!r}: not a host name (files.example.org), a domain (.example.org) or an IP address"
        )
    return text


def compact(entries: Iterable[str]) -> tuple[str, ...]:
    """Sorted, without duplicates and without hosts a ``.domain`` entry already covers."""
    unique = set(entries)
    domains = {e for e in unique if e.startswith(".")}

    def covered(entry: str) -> bool:
        bare = entry.lstrip(".")
        parts = bare.split(".")
        for i in range(len(parts)):
            suffix = "." + ".".join(parts[i:])
            if suffix in domains and suffix != entry:
                return True
        return False

    return tuple(sorted(e for e in unique if not covered(e)))


def _url_host(url: str) -> str | None:
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    if not host:
        return None
    try:
        return normalise_entry(host)
    except ValueError:
        return None


def pip_index_hosts(environ: Mapping[str, str]) -> list[str]:
    """The hosts pip itself would fetch from: its default index, and any index it is configured with."""
    hosts: list[str] = []
    urls: list[str] = []
    try:
        from pip._internal.models.index import PyPI

        hosts += [PyPI.netloc, PyPI.file_storage_domain]
    except Exception:  # noqa: BLE001 - pip absent or changed: the organizer's config still applies
        pass
    try:
        from pip._internal.configuration import Configuration

        config = Configuration(isolated=False)
        config.load()
        for key, value in config.items():
            if key.split(".")[-1] in ("index-url", "extra-index-url", "find-links"):
                urls += str(value).split()
    except Exception:  # noqa: BLE001
        pass
    for key in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS"):
        urls += environ.get(key, "").split()
    hosts += [h for h in (_url_host(u) for u in urls) if h]
    return hosts


def apt_source_hosts(texts: Iterable[tuple[str, bool]]) -> list[str]:
    """Hosts of apt sources given as (file text, is deb822)."""
    hosts: list[str] = []
    for text, deb822 in texts:
        for source in parse_apt_sources(text, deb822=deb822):
            host = _url_host(source.uri)
            if host:
                hosts.append(host)
    return hosts


def host_apt_texts(
    files: Sequence[Path] = APT_SOURCE_FILES, folder: Path = APT_SOURCE_DIR
) -> list[tuple[str, bool]]:
    paths = list(files)
    try:
        paths += sorted(p for p in folder.iterdir() if p.suffix in (".list", ".sources"))
    except OSError:
        pass
    texts: list[tuple[str, bool]] = []
    for path in dict.fromkeys(paths):
        try:
            texts.append((path.read_text(encoding="utf-8", errors="replace"), path.suffix == ".sources"))
        except OSError:
            continue
    return texts


def image_apt_texts(files: Mapping[str, bytes]) -> list[tuple[str, bool]]:
    """apt sources read from the run's image (path -> content), as ``host_apt_texts`` gives them."""
    return [
        (data.decode("utf-8", errors="replace"), path.endswith(".sources"))
        for path, data in sorted(files.items())
        if path.endswith((".list", ".sources"))
    ]


def default_hosts(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The defaults that do not depend on the image: pip's indexes, this host's apt sources, NAMED_HOSTS."""
    env = os.environ if environ is None else environ
    return compact([*pip_index_hosts(env), *apt_source_hosts(host_apt_texts()), *NAMED_HOSTS])


def allow_list(
    *,
    defaults: bool,
    configured: Iterable[str] = (),
    paper: Iterable[str] = (),
    image_apt: Iterable[tuple[str, bool]] = (),
    environ: Mapping[str, str] | None = None,
) -> tuple[str, ...]:
    """The run's allow-list: the defaults (when on), the image's apt hosts, the config's and the paper's."""
    entries: list[str] = []
    if defaults:
        entries += default_hosts(environ)
        entries += apt_source_hosts(image_apt)
    entries += [normalise_entry(e) for e in configured]
    entries += [normalise_entry(e) for e in paper]
    return compact(entries)
