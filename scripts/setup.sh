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
tmp=""
trap 'rm -rf ${tmp:+"$tmp"}' EXIT
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
    # torch first and pinned: anything unpinned that depends on it would pull CUDA builds.
    "$venv/bin/pip" install --quiet "torch==2.13.0"
    # av and opencv from wheels only: their sources do not build here.
    "$venv/bin/pip" install --quiet --only-binary av,opencv-python -e ".[dev]"
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
        mmdebstrap --quiet --variant=essential --include=python3,ca-certificates bookworm "$tmp/rootfs.tar"
        docker import --change 'CMD ["python3"]' "$tmp/rootfs.tar" "$base_image" >/dev/null
    fi
fi

# 4b. The image tollway's roles run from in deploy/compose.yaml and deploy/k8s: the base image
#     with tollway and its runtime dependencies; rebuilt when pyproject.toml or tollway/ change.
scripts/build-roles-image.sh "$venv/bin/pip"

# 5. The torch image the torch-filter example builds on: the base image's Debian with torch's
#    C++ runtime, and torch (CPU), Pillow and numpy installed from pip into its site-packages.
torch_image="tollway/torch:2.13.0"
if ! docker image inspect "$torch_image" >/dev/null 2>&1; then
    command -v mmdebstrap >/dev/null 2>&1 || { step "docker: installing mmdebstrap"; apt_install mmdebstrap; }
    step "docker: building $torch_image (Debian + CPU torch, about a minute)"
    tmp="$(mktemp -d)"
    mmdebstrap --quiet --variant=essential --include=python3,ca-certificates,libstdc++6,libgomp1 \
        bookworm "$tmp/rootfs"
    "$venv/bin/pip" install --quiet --target "$tmp/rootfs/usr/local/lib/python3.11/dist-packages" \
        "torch==2.13.0" "pillow==13.0.0" "numpy>=1.26,<2"
    tar -C "$tmp/rootfs" -c . | docker import --change 'CMD ["python3"]' - "$torch_image" >/dev/null
    rm -rf "$tmp"
fi

# 6. The pytrickle image the live-effect example builds on: the torch image with pytrickle 0.1.6
#    and what it imports (aiohttp, PyAV from its wheel, pydantic, nvidia-ml-py) from pip.
trickle_image="tollway/pytrickle:0.1.6"
if ! docker image inspect "$trickle_image" >/dev/null 2>&1; then
    step "docker: building $trickle_image (the torch image + pytrickle, about 20 s)"
    tmp="$(mktemp -d)"
    "$venv/bin/pip" install --quiet --target "$tmp/site" --only-binary :all: \
        "aiohttp==3.14.5" "av==14.2.0" "nvidia-ml-py==13.615.71" "pydantic==2.14.3"
    rm -rf "$tmp/site/bin"
    "$venv/bin/pip" install --quiet --target "$tmp/site" --no-deps "pytrickle==0.1.6"
    printf 'FROM %s\nCOPY site/ /usr/local/lib/python3.11/dist-packages/\n' "$torch_image" \
        >"$tmp/Dockerfile"
    if ! built="$(docker build --quiet --tag "$trickle_image" "$tmp" 2>&1)"; then
        echo "$built" >&2
        exit 1
    fi
    rm -rf "$tmp"
fi

# 7. PostgreSQL server binaries (Debian's postgresql): the store's tests run against a server of
#    their own (tollway/devnet/postgres.py starts it on 127.0.0.1); nothing is started here.
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
    step "postgresql: installing the server (apt postgresql, about 15 s)"
    apt_install postgresql
fi

# 8. Prometheus and promtool (Debian's prometheus): the tests check the alert rules and scrape
#    the embedded stack; `tollway up --observe` runs it. The package's own service is not started.
if ! command -v promtool >/dev/null 2>&1; then
    step "prometheus: installing Prometheus and promtool (apt prometheus, about 10 s)"
    apt_install prometheus
    # Where systemd runs, the package starts its own server on every address: stop it.
    systemctl disable --now prometheus >/dev/null 2>&1 || true
fi

# 9. Chromium (Debian's) for the browser tests of the /docs pages: Playwright drives this one and
#    never downloads a browser of its own (`playwright install` cannot work here).
if ! command -v chromium >/dev/null 2>&1; then
    step "chromium: installing Debian's browser for the /docs tests (about a minute)"
    apt_install chromium
fi

# 10. docker-compose (Debian's, v1.29): the tests check deploy/compose.yaml with `config -q`.
if ! command -v docker-compose >/dev/null 2>&1; then
    step "docker-compose: installing Debian's docker-compose (about 10 s)"
    apt_install docker-compose
fi
