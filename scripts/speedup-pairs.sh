# Sourced by cli-speedup.sh and window-speedup.sh (issue #15): the five
# CPU-bound workloads on 1 and on 2 workers, REPS pairs alternating which
# runs first; a pair where other programs used >= 0.15 cores (other_cores,
# the load meter's line) is marked NOISY and left out of the median.
#
# The caller defines `run_one WORKLOAD POOL WORKERS`, printing one JSON
# object with the run's time under the key it passes to speedup_pairs,
# `other_cores`, `mean_run_ms` (a task's mean time on its worker), and
# optionally `window_cores`.
#
# Where the speedup falls short of 2x, two figures say why:
#   "tasks 1.15x as long": the median over pairs of mean_run_ms on 2 workers
#     over 1 worker: each task ran slower while both cores computed (shared
#     caches and memory bandwidth, or a host that shares the cores; the
#     machine, not the pool);
#   "window N cores": the cores the window took from the 2-worker runs.

speedup_workloads=(primes primes_native montecarlo_pi hash matmul)

json_field() { # JSON KEY
  python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], ""))' "$1" "$2"
}

median() { # numbers on stdin -> the median (2 decimals) or n/a
  python3 -c 'import sys,statistics
v=[float(x) for x in sys.stdin.read().split()]
print(f"{statistics.median(v):.2f}" if v else "n/a")'
}

# speedup_pairs POOL WORKLOAD REPS TIME_KEY: prints one line, e.g.
#   thread   primes         median  1.92 x  (5 quiet of 5 pairs: 1.9 ...)  tasks 1.02x as long on 2
# with "window N cores" appended when the runs report window_cores (the
# median over the 2-worker runs).
speedup_pairs() {
  local pool=$1 wl=$2 reps=$3 key=$4 r w out ratio noisy
  local ratios=() drew=() slower=() line=""
  local -A time=() other=() task=()
  for ((r = 0; r < reps; r++)); do
    local order=(1 2)
    (( r % 2 )) && order=(2 1)
    for w in "${order[@]}"; do
      out=$(run_one "$wl" "$pool" "$w")
      time[$w]=$(json_field "$out" "$key")
      other[$w]=$(json_field "$out" other_cores)
      task[$w]=$(json_field "$out" mean_run_ms)
      if [ "$w" = 2 ]; then
        local gui
        gui=$(json_field "$out" window_cores)
        [ -z "$gui" ] || drew+=("$gui")
      fi
    done
    ratio=$(python3 -c "print(round(${time[1]}/${time[2]},3))")
    noisy=$(python3 -c "print(1 if max(${other[1]},${other[2]}) >= 0.15 else 0)")
    if [ "$noisy" = 1 ]; then line+=" ${ratio}(NOISY)"; else ratios+=("$ratio"); line+=" $ratio"; fi
    if [ "$noisy" = 0 ] && [ -n "${task[1]}" ] && [ -n "${task[2]}" ]; then
      slower+=("$(python3 -c "print(${task[2]}/${task[1]} if ${task[1]} > 0 else 1)")")
    fi
  done
  local med gui_med="" task_med
  med=$(printf '%s\n' "${ratios[@]:-}" | median)
  task_med=$(printf '%s\n' "${slower[@]:-}" | median)
  [ ${#drew[@]} -eq 0 ] || gui_med="  window $(printf '%s\n' "${drew[@]}" | median) cores"
  printf '%-8s %-14s median %5s x  (%d quiet of %d pairs:%s)  tasks %sx as long on 2%s\n' \
    "$pool" "$wl" "$med" "${#ratios[@]}" "$reps" "$line" "$task_med" "$gui_med"
}
