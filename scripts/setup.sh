#!/usr/bin/env bash
# Idempotent setup shared by `make demo` and `make test`: installs everything tollway needs on a
# fresh Debian machine, and returns in about a second when everything is already there.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

venv="$root/.venv"
tools="$root/tools"
base_image="${TOLLWAY_BASE_IMAGE:-tollway/base:bookworm}"
stamp_dir="$root/.cache/setup"
mkdir -p "$stamp_dir"

step() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
digest() { sha256sum "$@" | sha256sum | cut -c1-16; }

apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. Python virtual environment and packages.
want="$(digest pyproject.toml)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp_dir/pip" 2>/dev/null)" != "$want" ]; then
    step "python: creating .venv and installing tollway with its dev tools (about a minute)"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet -e ".[dev]"
    echo "$want" >"$stamp_dir/pip"
fi

# 2. Native tools from npm: anvil (local chain) and solcjs (Solidity compiler).
want="$(digest tools/package.json tools/package-lock.json)"
if [ ! -x "$tools/node_modules/.bin/solcjs" ] || [ "$(cat "$stamp_dir/npm" 2>/dev/null)" != "$want" ]; then
    step "npm: installing anvil and solcjs into tools/node_modules"
    (cd "$tools" && npm install --no-audit --no-fund --silent)
    echo "$want" >"$stamp_dir/npm"
fi

# 3. Docker engine: install and start dockerd when no engine answers.
if ! docker info >/dev/null 2>&1; then
    if ! command -v dockerd >/dev/null 2>&1; then
        step "docker: installing the Docker engine (apt docker.io)"
        apt_install docker.io
    fi
    if ! docker info >/dev/null 2>&1; then
        step "docker: starting dockerd (log: /var/log/tollway-dockerd.log)"
        nohup dockerd >/var/log/tollway-dockerd.log 2>&1 &
        for _ in $(seq 1 60); do
            docker info >/dev/null 2>&1 && break
            sleep 0.5
        done
        docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/tollway-dockerd.log" >&2; exit 1; }
    fi
fi

# 4. The base image for BYOC containers: Debian bookworm with python3, built from Debian packages.
if ! docker image inspect "$base_image" >/dev/null 2>&1; then
    if [ "$base_image" != "tollway/base:bookworm" ]; then
        step "docker: pulling configured base image $base_image"
        docker pull "$base_image"
    else
        command -v mmdebstrap >/dev/null 2>&1 || { step "docker: installing mmdebstrap"; apt_install mmdebstrap; }
        step "docker: building $base_image from Debian packages (about 20 s)"
        tmp="$(mktemp -d)"
        trap 'rm -rf "$tmp"' EXIT
        mmdebstrap --quiet --variant=essential --include=python3,ca-certificates bookworm "$tmp/rootfs.tar"
        docker import --change 'CMD ["python3"]' "$tmp/rootfs.tar" "$base_image" >/dev/null
    fi
fi
