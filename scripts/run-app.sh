#!/usr/bin/env bash
# The main job: set up a Debian 12 machine, build the `release` preset and run
# PoolScope. Extra arguments are passed on to the program.
#
#   bash scripts/run-app.sh
set -euo pipefail

# ---------------------------------------------------------------------------
# WHAT TO RUN: the PoolScope window, starting a demo workload (primes on the
# thread pool). With a display it stays open for you to use. Without one
# (a server, CI) it runs under `xvfb-run`, saves a screenshot of the running
# window to $SCREENSHOT after a few seconds and quits, so the main job also
# proves itself headless.
SCREENSHOT=${SCREENSHOT:-build/release/poolscope-screenshot.png}
APP=(build/release/app/poolscope --workload primes --start)
APP_IS_GUI=1
if [ -z "${DISPLAY:-}" ]; then
    APP+=(--no-settings --screenshot "$SCREENSHOT" --after 4000)
fi
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
