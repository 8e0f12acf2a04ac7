"""I/O-bound tasks on threads: more threads, shorter wall time.

A task that waits (network, disk, time.sleep) releases the GIL, so while
one thread waits another runs: with 2x the threads, the same waits take
about half the time, until the waits, not the threads, are the limit. Each
pool size is its own pool, so a viewer shows them one after the other.

    python3 examples/python/io_threads.py                # about 6 s
    python3 -m poolscope_probe examples/python/io_threads.py
"""

import argparse
import concurrent.futures
import json
import time


def wait_for_io(delay):
    time.sleep(delay)          # releases the GIL while it waits
    return delay


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=32)
    ap.add_argument("--delay", type=float, default=0.1, help="seconds a task waits")
    ap.add_argument("--quick", action="store_true", help="a short run")
    a = ap.parse_args()
    tasks, delay = (8, 0.01) if a.quick else (a.tasks, a.delay)

    done = 0
    for workers in (1, 2, 4, 8, 16):
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(
                max_workers=workers,
                thread_name_prefix="io-%dthreads" % workers) as pool:
            done += len(list(pool.map(wait_for_io, [delay] * tasks)))
        print("%2d threads: %.2f s" % (workers, time.monotonic() - t0))
    print(json.dumps({"submitted": done, "succeeded": done, "failed": 0,
                      "cancelled": 0}))


if __name__ == "__main__":
    main()
