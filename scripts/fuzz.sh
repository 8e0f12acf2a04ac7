#!/usr/bin/env bash
# Bounded libFuzzer runs of the protocol codec, the trace loader and the attach codec.
#   bash scripts/fuzz.sh [seconds-per-target]   (default 60)
# Builds with clang (libclang-rt-14-dev gives libFuzzer), runs each target on
# a copy of its seed corpus, and fails if a crash is found; crashing inputs
# are left in build/fuzz/crashes/ — copy them into tests/fuzz/corpus/<target>/
# so the replay test (ctest fuzz_*_corpus) keeps them fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
gen=()
command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
CXX=clang++ cmake -S . -B build/fuzz "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPOOLSCOPE_FUZZ=ON -DPOOLSCOPE_BUILD_BENCH=OFF \
    -DCMAKE_CXX_FLAGS="-fno-omit-frame-pointer" >/dev/null
cmake --build build/fuzz --target fuzz_protocol fuzz_trace fuzz_attach
mkdir -p build/fuzz/crashes
status=0
for t in fuzz_protocol fuzz_trace fuzz_attach; do
    work=build/fuzz/corpus-$t
    rm -rf "$work" && mkdir -p "$work" && cp tests/fuzz/corpus/$t/* "$work"/
    echo "[fuzz] $t for ${secs}s"
    if ! build/fuzz/tests/fuzz/$t "$work" -max_total_time="$secs" -rss_limit_mb=2048 \
        -artifact_prefix=build/fuzz/crashes/$t- -print_final_stats=1 2>build/fuzz/$t.log; then
        status=1
        echo "[fuzz] $t FOUND A CRASH:"; tail -40 build/fuzz/$t.log
    fi
    grep -E 'stat::number_of_executed_units|stat::new_units_added' build/fuzz/$t.log | sed "s/^/[fuzz] $t /"
done
exit $status
