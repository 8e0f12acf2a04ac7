"""Submit tasks to a thread pool and collect their results.

Each task pretends to download a page: it mostly waits (time.sleep stands
for the network), so threads help even with the GIL, because a thread that
waits lets go of the GIL. Some pages fail, and we change our mind about the
last few pages and cancel them: only tasks that have not started yet can be
cancelled.

    python3 examples/python/threads_submit.py            # about 5 s
    python3 -m poolscope_probe examples/python/threads_submit.py
"""

import argparse
import concurrent.futures
import json
import time


def fetch(page, delay):
    """Pretend to download one page: wait, then return its size."""
    time.sleep(delay)
    if page % 13 == 12:                        # every 13th page fails
        raise ConnectionError("page %d timed out" % page)
    return 1000 + 37 * page                    # its "size" in bytes


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=60, help="pages to fetch")
    ap.add_argument("--workers", type=int, default=4, help="threads")
    ap.add_argument("--quick", action="store_true", help="a short run")
    a = ap.parse_args()
    tasks = 16 if a.quick else a.tasks
    scale = 0.01 if a.quick else 0.3           # seconds a page takes, about

    counts = {"submitted": 0, "succeeded": 0, "failed": 0, "cancelled": 0}
    with concurrent.futures.ThreadPoolExecutor(
            max_workers=a.workers, thread_name_prefix="fetch") as pool:
        # submit() returns at once with a Future: a box the result will
        # arrive in; the task runs later on one of the pool's threads.
        futures = [pool.submit(fetch, page, scale * (1 + page % 3) / 2)
                   for page in range(tasks)]
        counts["submitted"] = len(futures)
        # Change of mind: we do not need the last three pages. cancel()
        # returns False for a task that is already running or done.
        for f in futures[-3:]:
            if f.cancel():
                counts["cancelled"] += 1
        for f in futures:
            if f.cancelled():
                continue
            try:
                f.result()                     # waits for that task
                counts["succeeded"] += 1
            except ConnectionError:            # the task's exception
                counts["failed"] += 1
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
