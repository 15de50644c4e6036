#!/usr/bin/env bash
# Build tollway/roles:<version>, the image every tollway role runs from (deploy/image/Dockerfile),
# unless an image of that tag already carries the digest of this checkout's sources and was
# built on the current base. Called by scripts/setup.sh; on its own:
# `scripts/build-roles-image.sh [pip]`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
pip="${1:-$root/.venv/bin/pip}"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -1)"
image="${TOLLWAY_ROLES_IMAGE:-tollway/roles:$version}"
# Not the BYOC base image: the roles' wheels (grpc, greenlet, protobuf) need libstdc++, and
# Triton's Python backend stub needs libpython3.11.
default_base="tollway/roles-base:bookworm"
base_image="${TOLLWAY_ROLES_BASE_IMAGE:-$default_base}"
base_packages="python3,ca-certificates,libstdc++6,libpython3.11"

step() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
label() { docker image inspect -f "{{ index .Config.Labels \"$1\" }}" "$2" 2>/dev/null || true; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The default base: Debian bookworm's python3 (3.11) and the libraries above, from Debian
# packages like the BYOC base image; rebuilt when that list changes. A configured base is used
# as it is (docker build pulls it if absent).
if [ "$base_image" = "$default_base" ] && [ "$(label tollway.packages "$base_image")" != "$base_packages" ]; then
    if ! command -v mmdebstrap >/dev/null 2>&1; then
        step "docker: installing mmdebstrap"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
    fi
    step "docker: building $base_image from Debian packages (about 30 s)"
    mmdebstrap --quiet --variant=essential --include="$base_packages" bookworm "$tmp/rootfs.tar"
    docker import --change 'CMD ["python3"]' --change "LABEL tollway.packages=$base_packages" \
        "$tmp/rootfs.tar" "$base_image" >/dev/null
    rm -f "$tmp/rootfs.tar"
fi
base_id="$(docker image inspect -f '{{ .Id }}' "$base_image" 2>/dev/null || echo "$base_image")"

# Two images, so that a change to tollway's code rebuilds in seconds: the dependencies
# (tollway/roles-deps, rebuilt when pyproject.toml, Dockerfile.deps or the base change: about
# three minutes) and the role image on top of it with tollway's own package.
deps_image="${TOLLWAY_ROLES_DEPS_IMAGE:-tollway/roles-deps:$version}"
deps_want="$(sha256sum pyproject.toml deploy/image/Dockerfile.deps | sha256sum | cut -c1-16)"
# What the role image is made of: a change to any of these rebuilds it. Sorted bytewise so the
# digest is the same everywhere (tests/deploy/test_role_image.py computes it too).
want="$(
    { printf '%s\n' pyproject.toml README.md deploy/image/Dockerfile
      find tollway -type f ! -path '*/__pycache__/*' ! -name '*.pyc'; } |
        LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16
)"
deps_id="$(docker image inspect -f '{{ .Id }}' "$deps_image" 2>/dev/null || true)"
if [ "$(label tollway.deps-digest "$deps_image")" = "$deps_want" ] \
    && [ "$(label tollway.base "$deps_image")" = "$base_id" ] \
    && [ "$(label tollway.source-digest "$image")" = "$want" ] \
    && [ "$(label tollway.deps "$image")" = "$deps_id" ]; then
    exit 0
fi

build() {  # build <context> <dockerfile> <tag> [docker build args...]
    local context="$1" dockerfile="$2" tag="$3"
    shift 3
    if ! built="$(docker build --quiet --file "$dockerfile" --tag "$tag" "$@" "$context" 2>&1)"; then
        echo "$built" >&2
        exit 1
    fi
}

# A copy of the checkout, so pip's build leaves no build/ or egg-info behind in it.
mkdir "$tmp/src"
cp -r pyproject.toml README.md tollway "$tmp/src/"
find "$tmp/src" -name __pycache__ -prune -exec rm -rf {} +

if [ "$(label tollway.deps-digest "$deps_image")" != "$deps_want" ] \
    || [ "$(label tollway.base "$deps_image")" != "$base_id" ]; then
    step "docker: building $deps_image, tollway's dependencies on $base_image (about three minutes)"
    started=$SECONDS
    # The host's python is 3.11 like the base image's, so the cp311 wheels pip picks run there.
    "$pip" install --quiet --disable-pip-version-check --target "$tmp/deps" "$tmp/src"
    # tollway itself goes in the layer above; console scripts point at the host's interpreter.
    rm -rf "$tmp/deps/bin" "$tmp/deps/tollway" "$tmp/deps"/tollway-*.dist-info
    installed=$SECONDS
    build "$tmp/deps" deploy/image/Dockerfile.deps "$deps_image" --build-arg "BASE=$base_image" \
        --label "tollway.deps-digest=$deps_want" --label "tollway.base=$base_id"
    size="$(docker image inspect -f '{{ .Size }}' "$deps_image")"
    echo "built $deps_image in $((SECONDS - started)) s (pip $((installed - started)) s," \
        "docker build $((SECONDS - installed)) s): $((size / 1024 / 1024)) MiB"
    deps_id="$(docker image inspect -f '{{ .Id }}' "$deps_image")"
fi

step "docker: building $image on $deps_image (tollway's own package, seconds)"
"$pip" install --quiet --disable-pip-version-check --no-deps --target "$tmp/app" "$tmp/src"
rm -rf "$tmp/app/bin"
build "$tmp/app" deploy/image/Dockerfile "$image" --build-arg "DEPS=$deps_image" \
    --label "tollway.source-digest=$want" --label "tollway.deps=$deps_id"
