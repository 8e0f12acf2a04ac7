"""Overhead of poolscope_probe per task.

    python3 python/bench_probe.py [--rounds 7] [--thread-tasks 20000]
                                  [--process-tasks 4000] [--workers 2]

The same workload (N tiny tasks submitted to a pool, then all results
awaited) runs in a fresh interpreter each time, in three modes:

  off        plain Python, no probe
  unwatched  poolscope_probe.enable(), nobody connected
  watched    enabled, and a viewer (this script, another process) watches
             the pool from before the first task and receives every row

Modes alternate inside every round (rotating which goes first) so that a
machine getting busier or quieter affects all three alike; the figure is
the median over the rounds of microseconds per task: wall time of submit
+ wait divided by N, and CPU time (the program's, plus its worker
processes') divided by N. Run it on a quiet machine; on a busy one the CPU
figure is the steadier.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

MODES = ("off", "unwatched", "watched")


def noop(i):
    return i


def child(kind, tasks, workers):
    """Runs in the measured interpreter; prints one JSON line."""
    import concurrent.futures as cf
    if os.environ.get("BENCH_PROBE") == "1":
        import poolscope_probe
        if not poolscope_probe.enable(name="bench_probe"):
            sys.exit(3)
    cls = cf.ThreadPoolExecutor if kind == "thread" else cf.ProcessPoolExecutor
    with cls(max_workers=workers) as ex:
        # warm up: start every worker before measuring
        list(ex.map(noop, range(workers * 4)))
        t0 = time.perf_counter()
        c0 = time.process_time()
        fs = [ex.submit(noop, i) for i in range(tasks)]
        total = sum(f.result() for f in fs)
        dt = time.perf_counter() - t0
        cpu = time.process_time() - c0
    # the worker processes' CPU (whole life: they only ran these tasks and
    # the warm-up), counted once they are reaped by the shutdown above
    t = os.times()
    cpu += t.children_user + t.children_system
    assert total == tasks * (tasks - 1) // 2
    print(json.dumps({"us_per_task": dt * 1e6 / tasks,
                      "cpu_us_per_task": cpu * 1e6 / tasks}))


def run_once(mode, kind, tasks, workers, attach_dir):
    from tests._viewer import Collector, wait_until
    env = dict(os.environ)
    env.pop("POOLSCOPE_PROBE_WAIT", None)
    env["PYTHONPATH"] = HERE
    env["POOLSCOPE_ATTACH_DIR"] = attach_dir
    if mode != "off":
        env["BENCH_PROBE"] = "1"
    if mode == "watched":
        env["POOLSCOPE_PROBE_WAIT"] = "1"
        env["POOLSCOPE_PROBE_WAIT_TIMEOUT"] = "20"
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child",
                          kind, str(tasks), str(workers)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    col = None
    if mode == "watched":
        path = os.path.join(attach_dir, "%d.sock" % p.pid)
        wait_until(lambda: os.path.exists(path) or p.poll() is not None, 20,
                   what="the socket")
        col = Collector(path)
    out, err = p.communicate(timeout=600)
    if p.returncode != 0:
        raise SystemExit("bench child failed (%s): %s" % (mode, err.decode()))
    res = json.loads(out.decode().splitlines()[-1])
    if col is not None:
        col.wait_done(30)
        rows = sum(len(r) for r in col.rows.values())
        want = tasks + workers * 4
        if rows + col.lost != want:
            raise SystemExit("the viewer got %d rows + %d lost of %d tasks"
                             % (rows, col.lost, want))
    return res["us_per_task"], res["cpu_us_per_task"]


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--thread-tasks", type=int, default=20000)
    ap.add_argument("--process-tasks", type=int, default=4000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--kinds", default="thread,process")
    a = ap.parse_args()
    attach_dir = tempfile.mkdtemp(prefix="bench-probe-")
    try:
        print("python %s, %d cpus, load %s" % (
            sys.version.split()[0], os.cpu_count() or 0,
            " ".join(open("/proc/loadavg").read().split()[:3])
            if os.path.exists("/proc/loadavg") else "?"))
        for kind in a.kinds.split(","):
            tasks = a.thread_tasks if kind == "thread" else a.process_tasks
            results = {m: [] for m in MODES}
            for r in range(a.rounds):
                order = MODES[r % 3:] + MODES[:r % 3]
                for m in order:
                    results[m].append(run_once(m, kind, tasks, a.workers,
                                               attach_dir))
            print("%sPoolExecutor, %d tiny tasks, %d workers, median of %d:"
                  % ("Thread" if kind == "thread" else "Process", tasks,
                     a.workers, a.rounds))
            for which, label in ((0, "wall"), (1, "cpu ")):
                base = statistics.median(r[which] for r in results["off"])
                for m in MODES:
                    runs = [r[which] for r in results[m]]
                    med = statistics.median(runs)
                    print("  %s %-9s %8.2f us/task  x%.3f  (%+.2f us)  runs: %s"
                          % (label, m, med, med / base, med - base,
                             " ".join("%.1f" % x for x in runs)))
    finally:
        shutil.rmtree(attach_dir, True)


if __name__ == "__main__":
    main()
