#!/usr/bin/env bash
# The 1-vs-2-worker speedup of each CPU-bound workload in the WINDOW, as a
# class sees it (issue #15): `poolscope --workload W --tasks 16 --workers N`
# with every panel live, on 1 and on 2 workers, alternating, REPS pairs; the
# run's time is the record's first submit to last end (span_s of
# --run-log). Prints each pair's ratio and the median, and marks NOISY (and
# leaves out) a pair where other programs used >= 0.15 cores (other_cores,
# the window's load meter). The last column is the median share of the
# cores the window's GUI thread took drawing the 2-worker runs
# (window_cores): what the workers did not have. Runs under xvfb-run when
# there is no display.
#
#   scripts/window-speedup.sh [POOLSCOPE] [REPS] [POOLS...]
#   defaults: build/bench/app/poolscope, 5, thread process
set -euo pipefail
if [ -z "${DISPLAY:-}" ] && [ -z "${WINDOW_SPEEDUP_INNER:-}" ]; then
  command -v xvfb-run >/dev/null || { echo "window-speedup: needs a display or xvfb-run" >&2; exit 2; }
  WINDOW_SPEEDUP_INNER=1 exec xvfb-run -a -s "-screen 0 1920x1080x24" bash "$0" "$@"
fi
app=${1:-build/bench/app/poolscope}
reps=${2:-5}
shift $(( $# > 2 ? 2 : $# ))
pools=("$@")
[ ${#pools[@]} -gt 0 ] || pools=(thread process)
[ -x "$app" ] || { echo "window-speedup: no window at $app (build the bench preset)" >&2; exit 2; }
workloads=(primes primes_native montecarlo_pi hash matmul)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $reps pairs each, window $app"
for pool in "${pools[@]}"; do
  for wl in "${workloads[@]}"; do
    ratios=()
    drew=()
    line=""
    for ((r = 0; r < reps; r++)); do
      if (( r % 2 )); then order=(2 1); else order=(1 2); fi
      declare -A span=() other=()
      for w in "${order[@]}"; do
        : >"$log"
        "$app" --no-settings --workload "$wl" --tasks 16 --workers "$w" --pool "$pool" \
          --run-log "$log" --quit-after-runs 1 >/dev/null 2>&1
        out=$(tail -1 "$log")
        [ -n "$out" ] || { echo "window-speedup: no run logged for $wl on $w $pool worker(s)" >&2; exit 1; }
        span[$w]=$(field "$out" span_s)
        other[$w]=$(field "$out" other_cores)
        [ "$w" = 2 ] && drew+=("$(field "$out" window_cores)")
      done
      ratio=$(python3 -c "print(round(${span[1]}/${span[2]},3))")
      noisy=$(python3 -c "print(1 if max(${other[1]},${other[2]}) >= 0.15 else 0)")
      if [ "$noisy" = 1 ]; then line+=" ${ratio}(NOISY)"; else ratios+=("$ratio"); line+=" $ratio"; fi
      unset span other
    done
    med=$(printf '%s\n' "${ratios[@]:-}" | python3 -c 'import sys,statistics
v=[float(x) for x in sys.stdin.read().split()]
print(f"{statistics.median(v):.2f}" if v else "n/a")')
    gui=$(printf '%s\n' "${drew[@]}" | python3 -c 'import sys,statistics
print(f"{statistics.median(float(x) for x in sys.stdin.read().split()):.2f}")')
    printf '%-8s %-14s median %5s x  (%d quiet of %d pairs:%s)  window %s cores\n' "$pool" "$wl" "$med" "${#ratios[@]}" "$reps" "$line" "$gui"
  done
done
