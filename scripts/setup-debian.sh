#!/usr/bin/env bash
# Installs what PoolScope needs to build, test and run on Debian 12 (bookworm).
# Idempotent: asks apt only for the packages that are missing, and runs
# `apt-get update` only when something is missing. Works as root (apt-get
# directly) or as a user with sudo. Safe to run with no stdin (CI).
#
#   bash scripts/setup-debian.sh
set -euo pipefail

packages=(
    build-essential     # g++ 12, make, libc headers; also libasan/libubsan/libtsan
    cmake               # 3.25 on bookworm (the project needs >= 3.21)
    ninja-build         # preferred generator; scripts/*.sh use it when present
    pkg-config
    git
    qt6-base-dev        # Qt 6.4: Core, Gui, Widgets, Test, OpenGLWidgets + qpa plugins (offscreen)
    qt6-base-dev-tools  # moc, rcc, uic
    qt6-charts-dev
    libqt6opengl6-dev   # Qt6OpenGLConfig.cmake: only a Recommends of qt6-base-dev, but
                        # find_package(Qt6 COMPONENTS Charts) fails without it
    libgl-dev
    libtbb-dev
    libopenmpi-dev      # the MPI pool (core/mpi, POOLSCOPE_WITH_MPI=AUTO picks it up)
    openmpi-bin         # mpirun: the mpi-labelled tests run under it
    python3             # tests/tools/check_exports.py: the independent reader of CSV and JSON
    protobuf-compiler   # protoc: the independent reader of Perfetto traces in the tests
    xvfb                # xvfb-run for the GUI when there is no $DISPLAY
    xauth               # needed by xvfb-run
    clang               # clang 14, alternative compiler for the sanitizer presets
    libclang-rt-14-dev  # clang's sanitizer runtimes
    gdb                 # QtTest prints a hung or crashed test's stacks with it
)

log() { printf '[setup-debian] %s\n' "$*"; }

if [ ! -r /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
    log "this script is for Debian 12 (apt-get not found); install the equivalent of: ${packages[*]}" >&2
    exit 1
fi
case "$(cat /etc/debian_version)" in
    12*|bookworm*) ;;
    *) log "warning: tested on Debian 12, this is Debian $(cat /etc/debian_version); trying anyway" ;;
esac

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    log "all ${#packages[@]} packages already installed; nothing to do"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    log "not root and sudo is not installed; as root, run: apt-get install ${missing[*]}" >&2
    exit 1
fi

# `env` so the variable survives sudo's environment reset.
apt=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)

log "missing: ${missing[*]}"
log "running: ${as_root[*]:+${as_root[*]} }apt-get update"
"${apt[@]}" update -q
log "running: ${as_root[*]:+${as_root[*]} }apt-get install -y --no-install-recommends ${missing[*]}"
"${apt[@]}" install -y -q --no-install-recommends "${missing[@]}" </dev/null

# Check the result rather than trusting apt's exit code alone.
still=()
for p in "${missing[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || still+=("$p")
done
if [ ${#still[@]} -ne 0 ]; then
    log "still missing after install: ${still[*]}" >&2
    exit 1
fi
log "installed ${#missing[@]} package(s); ready"
