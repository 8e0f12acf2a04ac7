"""Submit CPU-bound tasks to a process pool.

Each task counts the primes in a range of numbers: pure computation, so
threads would take turns on the GIL; processes each have their own
interpreter and run truly in parallel, one per core. A range without a
prime makes its task fail with ZeroDivisionError: the exception travels
back from the worker process and is raised by result(), as in a thread.

Every task returns the pid of the process that ran it, so you can see the
work spread over the pool's processes.

    python3 examples/python/processes_submit.py          # about 5 s on 2 cores
    python3 -m poolscope_probe examples/python/processes_submit.py
"""

import argparse
import concurrent.futures
import json
import os


def is_prime(n):
    if n < 2:
        return False
    i = 2
    while i * i <= n:
        if n % i == 0:
            return False
        i += 1
    return True


def prime_density(lo, hi):
    """Numbers per prime in [lo, hi): fails when there is no prime."""
    primes = sum(1 for n in range(lo, hi) if is_prime(n))
    return os.getpid(), (hi - lo) / primes     # ZeroDivisionError if none


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=40)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--scale", type=int, default=15000,
                    help="numbers per task (more = longer tasks)")
    ap.add_argument("--quick", action="store_true", help="a short run")
    a = ap.parse_args()
    tasks, scale = (8, 2000) if a.quick else (a.tasks, a.scale)

    ranges = [(1000000 + i * scale, 1000000 + (i + 1) * scale)
              for i in range(tasks)]
    ranges[len(ranges) // 2] = (24, 29)        # no prime in 24..28: fails
    counts = {"submitted": 0, "succeeded": 0, "failed": 0, "cancelled": 0}
    pids = set()
    # The `if __name__ == "__main__"` guard below matters: with the spawn
    # start method every worker process imports this file.
    with concurrent.futures.ProcessPoolExecutor(max_workers=a.workers) as pool:
        futures = [pool.submit(prime_density, lo, hi) for lo, hi in ranges]
        counts["submitted"] = len(futures)
        for f in concurrent.futures.as_completed(futures):
            try:
                pid, density = f.result()
                pids.add(pid)
                counts["succeeded"] += 1
            except ZeroDivisionError as e:
                print("a task failed: %s: %s" % (type(e).__name__, e))
                counts["failed"] += 1
    counts["pids"] = sorted(pids)
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
