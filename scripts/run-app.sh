#!/usr/bin/env bash
# The main job: set up a Debian 12 machine, build the `release` preset and run
# PoolScope. Extra arguments are passed on to the program.
#
#   bash scripts/run-app.sh
set -euo pipefail

# ---------------------------------------------------------------------------
# WHAT TO RUN: the program (path relative to the repository root) and its
# arguments, in one array.
#   Today: the command-line demo, which runs a workload on the thread pool and
#   prints a summary.
#   Later, for the GUI, switch to something like
#     APP=(build/release/app/poolscope --screenshot "$SCREENSHOT")
#   and set APP_IS_GUI=1: a GUI program is started under `xvfb-run -a` when
#   $DISPLAY is empty, and SCREENSHOT is where it should save its window.
APP=(build/release/app/poolscope-cli demo)
APP_IS_GUI=0
SCREENSHOT=${SCREENSHOT:-build/release/poolscope-screenshot.png}
# ---------------------------------------------------------------------------

PRESET=release
cd "$(dirname "$0")/.."

bash scripts/setup-debian.sh

# Ninja when available (setup installs it); an existing build dir keeps the
# generator it was configured with.
if [ -z "${CMAKE_GENERATOR:-}" ] && command -v ninja >/dev/null 2>&1; then
    export CMAKE_GENERATOR=Ninja
fi

echo "[run-app] configure + build preset '$PRESET'"
cmake --preset "$PRESET"
cmake --build --preset "$PRESET" --parallel "$(nproc)"

if [ ! -x "${APP[0]}" ]; then
    echo "[run-app] ${APP[0]} was not built (see the APP variable in $0)" >&2
    exit 1
fi

cmd=("${APP[@]}" "$@")
if [ "$APP_IS_GUI" = 1 ]; then
    mkdir -p "$(dirname "$SCREENSHOT")"
    if [ -z "${DISPLAY:-}" ]; then
        cmd=(xvfb-run -a -s "-screen 0 1600x1000x24" "${cmd[@]}")
    fi
fi

echo "[run-app] running: ${cmd[*]}"
status=0
"${cmd[@]}" || status=$?
if [ "$APP_IS_GUI" = 1 ] && [ -f "$SCREENSHOT" ]; then
    echo "[run-app] screenshot: $SCREENSHOT"
fi
exit "$status"
