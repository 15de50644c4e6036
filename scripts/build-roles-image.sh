#!/usr/bin/env bash
# Build tollway/roles:<version>, the image every tollway role runs from (deploy/image/Dockerfile),
# unless an image of that tag already carries the digest of this checkout's sources. Called by
# scripts/setup.sh; on its own: `scripts/build-roles-image.sh [pip]`.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
pip="${1:-$root/.venv/bin/pip}"
# Not the BYOC base image: the roles' wheels (grpc, greenlet, protobuf) need libstdc++.
base_image="${TOLLWAY_ROLES_BASE_IMAGE:-tollway/roles-base:bookworm}"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -1)"
image="${TOLLWAY_ROLES_IMAGE:-tollway/roles:$version}"

# What the image is made of: a change to any of these rebuilds it. Sorted bytewise so the
# digest is the same everywhere (tests/deploy/test_role_image.py computes it too).
want="$(
    { printf '%s\n' pyproject.toml README.md deploy/image/Dockerfile
      find tollway -type f ! -path '*/__pycache__/*' ! -name '*.pyc'; } |
        LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16
)"
have="$(docker image inspect -f '{{ index .Config.Labels "tollway.source-digest" }}' "$image" \
    2>/dev/null || true)"
[ "$have" = "$want" ] && exit 0

step() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
started=$SECONDS
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# The default base: Debian bookworm's python3 (3.11), CA certificates and libstdc++, built from
# Debian packages like the BYOC base image. A configured one is used as it is (pulled if absent).
if [ "$base_image" = "tollway/roles-base:bookworm" ] && ! docker image inspect "$base_image" >/dev/null 2>&1; then
    if ! command -v mmdebstrap >/dev/null 2>&1; then
        step "docker: installing mmdebstrap"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
    fi
    step "docker: building $base_image from Debian packages (about 20 s)"
    mmdebstrap --quiet --variant=essential --include=python3,ca-certificates,libstdc++6 \
        bookworm "$tmp/rootfs.tar"
    docker import --change 'CMD ["python3"]' "$tmp/rootfs.tar" "$base_image" >/dev/null
    rm -f "$tmp/rootfs.tar"
fi

step "docker: building $image on $base_image (about two minutes)"
# A copy of the checkout, so pip's build leaves no build/ or egg-info behind in it.
mkdir "$tmp/src"
cp -r pyproject.toml README.md tollway "$tmp/src/"
find "$tmp/src" -name __pycache__ -prune -exec rm -rf {} +
# The host's python is 3.11 like the base image's, so the cp311 wheels pip picks run there.
pip_started=$SECONDS
"$pip" install --quiet --disable-pip-version-check --target "$tmp/site" "$tmp/src"
installed=$SECONDS
# Console scripts point at the host's interpreter; the image runs `python3 -m tollway`.
rm -rf "$tmp/site/bin"
cp deploy/image/Dockerfile "$tmp/Dockerfile"
if ! built="$(docker build --quiet --build-arg "BASE=$base_image" \
    --label "tollway.source-digest=$want" --tag "$image" "$tmp" 2>&1)"; then
    echo "$built" >&2
    exit 1
fi
size="$(docker image inspect -f '{{ .Size }}' "$image")"
echo "built $image in $((SECONDS - started)) s (pip $((installed - pip_started)) s," \
    "docker build $((SECONDS - installed)) s): $((size / 1024 / 1024)) MiB"
