"""asyncio: run blocking functions in a thread pool and await them.

An event loop runs one coroutine at a time on one thread; a blocking call
(time.sleep, a file read, a library without async) would stop all of them.
loop.run_in_executor(executor, fn, *args) runs fn on a pool thread and
gives an awaitable; asyncio.gather awaits many at once.

executor=None uses the loop's default executor, a ThreadPoolExecutor the
loop creates on first use; an explicit executor is yours to size.

    python3 examples/python/asyncio_gather.py            # about 4 s
    python3 -m poolscope_probe examples/python/asyncio_gather.py
"""

import argparse
import asyncio
import concurrent.futures
import json
import time


def read_sensor(i, delay):
    """A blocking call, like a driver or a library without async."""
    time.sleep(delay)
    if i % 10 == 9:
        raise TimeoutError("sensor %d did not answer" % i)
    return 20.0 + i / 10


async def main(tasks, delay):
    loop = asyncio.get_running_loop()
    counts = {"submitted": 0, "succeeded": 0, "failed": 0, "cancelled": 0}

    def tally(results):
        for r in results:
            if isinstance(r, BaseException):
                counts["failed"] += 1
            else:
                counts["succeeded"] += 1

    # 1. The default executor (None): created by the loop on first use.
    calls = [loop.run_in_executor(None, read_sensor, i, delay)
             for i in range(tasks)]
    counts["submitted"] += len(calls)
    # return_exceptions=True: a failed call gives its exception as a value
    # instead of cancelling the wait for the others.
    tally(await asyncio.gather(*calls, return_exceptions=True))

    # 2. An explicit executor with two threads: the same calls take longer.
    with concurrent.futures.ThreadPoolExecutor(
            max_workers=2, thread_name_prefix="sensors") as pool:
        calls = [loop.run_in_executor(pool, read_sensor, i, delay)
                 for i in range(tasks // 2)]
        counts["submitted"] += len(calls)
        tally(await asyncio.gather(*calls, return_exceptions=True))
    return counts


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=40)
    ap.add_argument("--quick", action="store_true", help="a short run")
    a = ap.parse_args()
    tasks, delay = (20, 0.01) if a.quick else (a.tasks, 0.2)
    t0 = time.monotonic()
    counts = asyncio.run(main(tasks, delay))
    print("took %.2f s" % (time.monotonic() - t0))
    print(json.dumps(counts))
