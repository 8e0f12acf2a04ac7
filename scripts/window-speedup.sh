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
log=$(mktemp)
trap 'rm -f "$log"' EXIT
. "$(dirname "$0")/speedup-pairs.sh"
run_one() { # WORKLOAD POOL WORKERS
  : >"$log"
  "$app" --no-settings --workload "$1" --tasks 16 --workers "$3" --pool "$2" \
    --run-log "$log" --quit-after-runs 1 >/dev/null 2>&1
  [ -s "$log" ] || { echo "window-speedup: no run logged for $1 on $3 $2 worker(s)" >&2; exit 1; }
  tail -1 "$log"
}
echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $reps pairs each, window $app"
for pool in "${pools[@]}"; do
  for wl in "${speedup_workloads[@]}"; do
    speedup_pairs "$pool" "$wl" "$reps" span_s
  done
done
