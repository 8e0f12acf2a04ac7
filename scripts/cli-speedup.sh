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
. "$(dirname "$0")/speedup-pairs.sh"
run_one() { # WORKLOAD POOL WORKERS
  "$cli" run --workload "$1" --tasks 16 --workers "$3" --pool "$2" --json --quiet
}
echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $reps pairs each"
for pool in "${pools[@]}"; do
  for wl in "${speedup_workloads[@]}"; do
    speedup_pairs "$pool" "$wl" "$reps" wall_s
  done
done
