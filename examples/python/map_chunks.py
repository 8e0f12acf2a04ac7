"""executor.map(), and what chunksize changes.

map(fn, items) is submit() for every item, with the results returned in
the order of the items. On a ThreadPoolExecutor each item is a task. On a
ProcessPoolExecutor every task travels to a worker process and back
(pickled), which costs much more than a tiny function: chunksize=C sends C
items per task, so the pool runs len(items) / C tasks instead.

    python3 examples/python/map_chunks.py                # about 5 s
    python3 -m poolscope_probe examples/python/map_chunks.py
"""

import argparse
import concurrent.futures
import json
import math
import os
import time


def slow_square(x):
    time.sleep(0.002)            # a little work per item
    return x * x


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--chunksize", type=int, default=50)
    ap.add_argument("--quick", action="store_true", help="a short run")
    a = ap.parse_args()
    items = 60 if a.quick else a.items
    chunk = 10 if a.quick else a.chunksize
    workers = os.cpu_count() or 2

    # Threads: one task per item; chunksize would be ignored.
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        total_threads = sum(pool.map(slow_square, range(items)))
    t_threads = time.monotonic() - t0

    # Processes: one task per chunk of `chunk` items.
    t0 = time.monotonic()
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        total_processes = sum(pool.map(slow_square, range(items),
                                       chunksize=chunk))
    t_processes = time.monotonic() - t0
    assert total_threads == total_processes

    print("threads:   %d tasks in %.2f s" % (items, t_threads))
    print("processes: %d tasks of %d items in %.2f s"
          % (math.ceil(items / chunk), chunk, t_processes))
    tasks = items + math.ceil(items / chunk)
    print(json.dumps({"submitted": tasks, "succeeded": tasks, "failed": 0,
                      "cancelled": 0}))


if __name__ == "__main__":
    main()
