#!/usr/bin/env bash
# The 1-vs-2-worker speedup of each CPU-bound workload through the CLI, as a
# user sees it (issue #15): `poolscope-cli run --workload W --tasks 16` on 1
# and on 2 workers, alternating, REPS pairs; prints each pair's ratio and
# the median, and the cores other programs used (the CLI's own figure,
# other_cores in its JSON): a pair where others used >= 0.15 cores is
# marked NOISY and left out of the median.
#
#   scripts/cli-speedup.sh [CLI] [REPS] [POOLS...]
#   defaults: build/bench/app/poolscope-cli, 5, thread process
set -euo pipefail
cli=${1:-build/bench/app/poolscope-cli}
reps=${2:-5}
shift $(( $# > 2 ? 2 : $# ))
pools=("$@")
[ ${#pools[@]} -gt 0 ] || pools=(thread process)
[ -x "$cli" ] || { echo "cli-speedup: no CLI at $cli (build the bench preset)" >&2; exit 2; }
workloads=(primes primes_native montecarlo_pi hash matmul)
echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $reps pairs each"
for pool in "${pools[@]}"; do
  for wl in "${workloads[@]}"; do
    ratios=()
    line=""
    for ((r = 0; r < reps; r++)); do
      # alternate which size runs first
      if (( r % 2 )); then order=(2 1); else order=(1 2); fi
      declare -A wall=() other=()
      for w in "${order[@]}"; do
        out=$("$cli" run --workload "$wl" --tasks 16 --workers "$w" --pool "$pool" --json --quiet)
        wall[$w]=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["wall_s"])' "$out")
        other[$w]=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["other_cores"])' "$out")
      done
      ratio=$(python3 -c "print(round(${wall[1]}/${wall[2]},3))")
      noisy=$(python3 -c "print(1 if max(${other[1]},${other[2]}) >= 0.15 else 0)")
      if [ "$noisy" = 1 ]; then line+=" ${ratio}(NOISY)"; else ratios+=("$ratio"); line+=" $ratio"; fi
      unset wall other
    done
    med=$(printf '%s\n' "${ratios[@]:-}" | python3 -c 'import sys,statistics
v=[float(x) for x in sys.stdin.read().split()]
print(f"{statistics.median(v):.2f}" if v else "n/a")')
    printf '%-8s %-14s median %5s x  (%d quiet of %d pairs:%s)\n' "$pool" "$wl" "$med" "${#ratios[@]}" "$reps" "$line"
  done
done
