"""The same CPU-bound function on threads, then on processes.

Only one thread at a time runs Python code in a CPython process (the GIL),
so four threads computing take about as long as one: threads do not speed
up pure-Python computation. Processes each have their own interpreter and
GIL, so they use the cores.

    python3 examples/python/cpu_threads_vs_processes.py  # about 6 s
    python3 -m poolscope_probe examples/python/cpu_threads_vs_processes.py
"""

import argparse
import concurrent.futures
import json
import os
import time


def burn(n):
    """Pure-Python arithmetic: holds the GIL the whole time."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def run(pool_class, tasks, n, workers):
    t0 = time.monotonic()
    with pool_class(max_workers=workers) as pool:
        results = list(pool.map(burn, [n] * tasks))
    return time.monotonic() - t0, len(results)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=16)
    ap.add_argument("--scale", type=int, default=1500000,
                    help="loop iterations per task")
    ap.add_argument("--quick", action="store_true", help="a short run")
    a = ap.parse_args()
    tasks, n = (6, 20000) if a.quick else (a.tasks, a.scale)
    workers = os.cpu_count() or 2

    t_threads, done1 = run(concurrent.futures.ThreadPoolExecutor, tasks, n,
                           workers)
    t_processes, done2 = run(concurrent.futures.ProcessPoolExecutor, tasks, n,
                             workers)
    print("%d workers: threads %.2f s, processes %.2f s (x%.1f)"
          % (workers, t_threads, t_processes, t_threads / t_processes))
    print(json.dumps({"submitted": 2 * tasks, "succeeded": done1 + done2,
                      "failed": 0, "cancelled": 0}))


if __name__ == "__main__":
    main()
