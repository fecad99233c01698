#!/usr/bin/env bash
# Install everything reprobot needs on a fresh Debian machine, idempotently:
#   a virtualenv with reprobot and its test extras, Debian's docker.io (engine started),
#   debootstrap (to build the default reproduction image offline), chromium and chromium-driver
#   (HTML report tests, driven by selenium), the default reproduction image itself, and what bounds
#   a run: squid (the egress allow-list proxy), iptables, e2fsprogs (the per-run filesystem) and
#   runsc (gVisor), registered with the engine as the runtime "runsc".
# Re-running is cheap: each step is skipped when its result is already there.
# REPROBOT_SKIP_DOCKER=1 / REPROBOT_SKIP_BROWSER=1 skip those parts.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$apt_updated" = 0 ]; then log "apt-get update"; as_root apt-get update -q >/dev/null; apt_updated=1; fi
  log "apt-get install ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

# 1. Python environment
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.reprobot-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  log "installing reprobot and its test dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  # setuptools' notice about editable installs (every editable mode has one) is not ours to act on
  PYTHONWARNINGS=ignore .venv/bin/python -m pip install -q -e '.[test]'
  touch "$stamp"
fi

# 2. Docker engine (Debian's docker.io), started if not running
if [ "${REPROBOT_SKIP_DOCKER:-0}" != 1 ]; then
  command -v dockerd >/dev/null 2>&1 || apt_install docker.io
  apt_install debootstrap squid iptables e2fsprogs
  # Debian starts its own squid on port 3128 when installed; reprobot runs one per run instead.
  # gVisor, where Debian has it: registered as the runtime "runsc" (runner.runtime: runsc).
  if apt-cache show runsc >/dev/null 2>&1; then apt_install runsc; fi
  if ! docker info >/dev/null 2>&1; then
    log "starting dockerd"
    as_root sh -c 'nohup dockerd >/var/log/reprobot-dockerd.log 2>&1 &'
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { log "dockerd did not start; see /var/log/reprobot-dockerd.log"; exit 1; }
  fi
  # runsc: registered once (merged into /etc/docker/daemon.json; dockerd reloads it on SIGHUP).
  # Debian's runsc (2022-12) refuses to start its own network stack on kernels that give every
  # network namespace its own net.core.rmem_default (it takes that for the host's namespace);
  # --network=host keeps the container's own namespace, and reprobot's rules, with the kernel's
  # stack inside it: that works on every kernel.
  if command -v runsc >/dev/null 2>&1 && ! grep -q '"runsc"' /etc/docker/daemon.json 2>/dev/null; then
    log "registering runsc with the Docker engine (/etc/docker/daemon.json)"
    as_root python3 - "$(command -v runsc)" <<'PY'
import json, os, sys
path = "/etc/docker/daemon.json"
data = json.load(open(path)) if os.path.exists(path) and os.path.getsize(path) else {}
data.setdefault("runtimes", {})["runsc"] = {"path": sys.argv[1], "runtimeArgs": ["--network=host"]}
os.makedirs("/etc/docker", exist_ok=True)
json.dump(data, open(path + ".tmp", "w"), indent=2)
os.replace(path + ".tmp", path)
PY
    as_root sh -c 'kill -HUP "$(pidof dockerd)"' || true
    for _ in $(seq 1 20); do docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"' && break; sleep 0.5; done
  fi
  # 3. The default reproduction image, built locally (no registry needed); a no-op when present.
  if .venv/bin/reprobot image --help >/dev/null 2>&1; then
    .venv/bin/reprobot image build
  fi
fi

# 4. Chromium and its WebDriver (selenium drives it) for the HTML report's browser tests
if [ "${REPROBOT_SKIP_BROWSER:-0}" != 1 ]; then
  apt_install chromium chromium-driver
fi
log "ready"
