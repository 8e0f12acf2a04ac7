#!/usr/bin/env bash
# The whole test suite: set up a Debian 12 machine, build and run every test.
#
#   bash scripts/run-tests.sh                # preset `dev` (Debug, warnings on)
#   bash scripts/run-tests.sh --sanitizers   # + the `asan` and `tsan` suites
#   CI=true bash scripts/run-tests.sh        # preset `ci` (-Werror) + sanitizers
#
# Exits non-zero if a build or any test fails. The sanitizer suites still run
# after a failure in the main suite, so one run reports everything.
#
# Time budget (CI: 2 cores, 90 min limit). The CI run of 2026-11-22 (ci build
# + suite, asan and tsan builds + suites, fuzz) took 10 min in total; the
# sanitizer suites themselves take about a minute each.
# Each ctest has a per-test timeout (CMakePresets.json: 300 s, 900 s under a
# sanitizer), so a hung test cannot eat the budget.
# Benchmarks are not built in the sanitizer presets (see CMakePresets.json).
set -euo pipefail

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }

sanitizers=0
for arg in "$@"; do
    case "$arg" in
        --sanitizers) sanitizers=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "run-tests.sh: unknown argument '$arg'" >&2; usage >&2; exit 2 ;;
    esac
done

preset=dev
if [ "${CI:-}" = true ]; then
    preset=ci
    sanitizers=1
fi

cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh

# Ninja when available (setup installs it); an existing build dir keeps the
# generator it was configured with.
if [ -z "${CMAKE_GENERATOR:-}" ] && command -v ninja >/dev/null 2>&1; then
    export CMAKE_GENERATOR=Ninja
fi
jobs=$(nproc)
failed=()

say() { printf '\n[run-tests] %s\n' "$*"; }

build() { # preset
    say "configure + build preset '$1'"
    local start=$SECONDS
    cmake --preset "$1" && cmake --build --preset "$1" --parallel "$jobs" || return
    say "build '$1' took $((SECONDS - start)) s"
}

suite() { # preset [extra ctest args...]
    local p=$1
    shift
    say "ctest --preset $p $*"
    local start=$SECONDS rc=0
    ctest --preset "$p" --output-on-failure -j2 "$@" || rc=$?
    say "suite '$p' took $((SECONDS - start)) s (exit $rc)"
    # A CI log keeps only its head and tail: repeat which test functions
    # failed, and where, so the tail says it.
    if [ "$rc" -ne 0 ]; then
        local log="build/$p/Testing/Temporary/LastTest.log"
        # FAIL! lines with what follows them up to the next test line (a
        # message of several lines, Loc/Actual/Expected; 12 lines at most;
        # not a SKIP's Loc), and sanitizer reports.
        [ -f "$log" ] && awk '/^FAIL!/ { print; f = 1; n = 0; next }
            f && /^([A-Z!]+ *: |Totals|\*\*\*)/ { f = 0 }
            f && ++n > 12 { f = 0 }
            f { print; next }
            /ThreadSanitizer: [a-z]|AddressSanitizer: [a-z]|runtime error:/ { print }' "$log" |
            head -60 | sed "s/^/[run-tests] $p: /" >>"$failures"
    fi
    return "$rc"
}

total_start=$SECONDS
failures=$(mktemp)
trap 'rm -f "$failures"' EXIT

# The main suite. Its build failing is fatal: nothing else would tell more.
build "$preset"
suite "$preset" || failed+=("$preset")

if [ "$sanitizers" = 1 ]; then
    # Sanitizer gates (docs/reliability.md "Sanitizers").
    # ASan+UBSan (with LeakSanitizer): the whole suite, UI and CLI included.
    # TSan: the whole suite too (process pool, UI offscreen, CLI), except the
    # MPI tests: Open MPI's runtime is not built with TSan and reports its
    # own lock order inside its TCP transport. tests/tsan.supp explains each
    # suppression. The long soak/bench programs are not built in the
    # sanitizer presets.
    if build asan; then
        suite asan -E 'soak|bench' || failed+=(asan)
    else
        failed+=("asan (build)")
    fi

    if build tsan; then
        suite tsan -E 'soak|bench' -LE mpi || failed+=(tsan)
    else
        failed+=("tsan (build)")
    fi

    # Bounded libFuzzer runs of the frame codec and the trace loader (clang).
    say "fuzz: 60 s per target"
    bash scripts/fuzz.sh 60 || failed+=(fuzz)
fi

say "total $((SECONDS - total_start)) s"
if [ ${#failed[@]} -ne 0 ]; then
    [ -s "$failures" ] && say "failing test functions:" && cat "$failures"
    say "FAILED: ${failed[*]}"
    exit 1
fi
say "all passed"
