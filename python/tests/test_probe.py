"""The probe end to end: a fake viewer against probe-enabled subprocesses
running the examples (quick mode) and small workloads."""

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

from ._viewer import (Collector, Viewer, REPO, PYDIR, start_probed,
                      probe_env, wait_until, frame)

EXAMPLES = os.path.join(REPO, "examples", "python")


def summary_of(out):
    return json.loads(out.decode().strip().splitlines()[-1])


class _TmpDir(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="probe-test-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.procs = []
        self.addCleanup(self._reap)

    def _reap(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.communicate()

    def start(self, args, wait=True):
        p, path = start_probed(args, self.dir, wait=wait)
        self.procs.append(p)
        return p, path


class Examples(_TmpDir):
    """Each example under the probe: the viewer's counts are the script's."""

    def run_example(self, name, kinds):
        p, path = self.start([os.path.join(EXAMPLES, name), "--quick"])
        c = Collector(path)
        c.wait_done(40)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err.decode())
        self.assertNotIn(b"poolscope_probe", err)
        mine = summary_of(out)
        # hello
        h = c.hello
        self.assertEqual(h["language"], "python")
        self.assertEqual(h["program"], name)
        self.assertEqual(h["pid"], p.pid)
        self.assertEqual(h["uid"], os.getuid())
        self.assertTrue(h["runtime"].startswith("CPython 3."), h["runtime"])
        # pools
        self.assertEqual(sorted(q["kind"] for q in c.pools.values()),
                         sorted(kinds))
        for q in c.pools.values():
            self.assertEqual(q["control"], [])
            self.assertGreater(q["max_workers"], 0)
        # counts: the script's own == the last snaps' == the rows received
        tot = c.totals()
        for k in ("submitted", "succeeded", "failed", "cancelled"):
            self.assertEqual(tot[k], mine[k], k)
        for pid, snaps in c.snaps.items():
            last = snaps[-1]["counters"]
            self.assertEqual(last["queued"], 0)
            self.assertEqual(last["running"], 0)
            self.assertEqual(len(c.rows[pid]), last["succeeded"] +
                             last["failed"] + last["cancelled"])
            self.assertEqual(sorted(r[0] for r in c.rows[pid]),
                             list(range(1, last["submitted"] + 1)))
            for r in c.rows[pid]:
                self.assertEqual(len(r), 11)
                self.assertIn(r[6], c.names)
                if r[10]:
                    self.assertLessEqual(r[1], r[2])
                    self.assertLessEqual(r[2], r[3])
                    self.assertGreaterEqual(r[7], 0)
        self.assertEqual(c.lost, 0)
        self.assertEqual(c.bye["reason"], "the program ended")
        self.assertEqual(c.errors, [])
        self.assertFalse(os.path.exists(path), "socket left behind")
        return c, mine

    def test_threads_submit(self):
        c, mine = self.run_example("threads_submit.py", ["python-thread"])
        self.assertGreater(mine["cancelled"], 0)
        (pid,) = c.rows
        rows = c.rows[pid]
        cancelled = [r for r in rows if r[9] == 2]
        self.assertEqual(len(cancelled), mine["cancelled"])
        for r in cancelled:
            self.assertFalse(r[10])              # never started
            self.assertEqual(r[2], r[3])
            self.assertEqual(r[7], -1)
        errors = [t[2] for t in c.texts[pid].values() if t[2]]
        self.assertIn("ConnectionError: page 12 timed out", errors)
        self.assertEqual(c.names[rows[0][6]], "fetch")
        snap = c.snaps[pid][-1]
        self.assertTrue(snap["shutdown"])
        names = {w["name"] for s in c.snaps[pid] for w in s["workers"]}
        self.assertTrue(names and all(n.startswith("fetch_") for n in names))
        for s in c.snaps[pid]:
            for w in s["workers"]:
                self.assertEqual(w["pid"], c.hello["pid"])
                self.assertGreater(w["tid"], 0)

    def test_processes_submit(self):
        c, mine = self.run_example("processes_submit.py", ["python-process"])
        (pid,) = c.rows
        workers = {}
        for s in c.snaps[pid]:
            for w in s["workers"]:
                workers[w["index"]] = w["pid"]
                self.assertEqual(w["name"], "pid %d" % w["pid"])
        self.assertTrue(set(mine["pids"]) <= set(workers.values()))
        texts = c.texts[pid]
        checked = 0
        for r in c.rows[pid]:
            if r[9] == 0:
                result = texts[r[0]][1]          # "(pid, density)"
                self.assertEqual(workers[r[7]],
                                 int(result.strip("()").split(",")[0]))
                checked += 1
        self.assertEqual(checked, mine["succeeded"])
        errors = [t[2] for t in texts.values() if t[2]]
        self.assertEqual(errors, ["ZeroDivisionError: division by zero"])
        self.assertEqual(c.names[c.rows[pid][0][6]], "prime_density")

    def test_map_chunks(self):
        c, mine = self.run_example("map_chunks.py",
                                   ["python-thread", "python-process"])
        kinds = {q["id"]: q["kind"] for q in c.pools.values()}
        for pid, rows in c.rows.items():
            want = "slow_square (chunk)" if kinds[pid] == "python-process" \
                else "slow_square"
            self.assertEqual({c.names[r[6]] for r in rows}, {want})

    def test_asyncio_gather(self):
        c, mine = self.run_example("asyncio_gather.py",
                                   ["python-asyncio", "python-thread"])
        names = {q["name"] for q in c.pools.values()}
        self.assertEqual(names, {"asyncio default executor", "sensors"})
        errors = [t[2] for tx in c.texts.values() for t in tx.values() if t[2]]
        self.assertEqual(len(errors), mine["failed"])
        self.assertTrue(all(e.startswith("TimeoutError: sensor ")
                            for e in errors))

    def test_cpu_threads_vs_processes(self):
        self.run_example("cpu_threads_vs_processes.py",
                         ["python-thread", "python-process"])

    def test_io_threads(self):
        c, _ = self.run_example("io_threads.py", ["python-thread"] * 5)
        self.assertEqual(sorted(q["max_workers"] for q in c.pools.values()),
                         [1, 2, 4, 8, 16])


# A program that keeps a pool (with a queue) until a line arrives on stdin.
HOLDER = textwrap.dedent("""
    import concurrent.futures, json, sys, threading
    gate = threading.Event()
    def held(i):
        gate.wait()
        return i
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2,
                                                 thread_name_prefix="held")
    fs = [pool.submit(held, i) for i in range(5)]
    print("ready", flush=True)
    sys.stdin.readline()
    gate.set()
    pool.shutdown()
    print(json.dumps({"submitted": 5, "sum": sum(f.result() for f in fs)}))
""")


class Protocol(_TmpDir):
    def start_holder(self):
        script = os.path.join(self.dir, "holder.py")
        with open(script, "w") as f:
            f.write(HOLDER)
        p = subprocess.Popen([sys.executable, "-m", "poolscope_probe", script],
                             env=probe_env(self.dir, wait=False), cwd=REPO,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        self.procs.append(p)
        self.assertEqual(p.stdout.readline(), b"ready\n")
        path = os.path.join(self.dir, "%d.sock" % p.pid)
        self.assertTrue(os.path.exists(path))
        return p, path

    def finish(self, p):
        out, err = p.communicate(b"\n", timeout=20)
        self.assertEqual(p.returncode, 0, err.decode())
        self.assertEqual(json.loads(out.decode().splitlines()[-1]),
                         {"submitted": 5, "sum": 10})

    def hello(self, path):
        v = Viewer(path)
        self.addCleanup(v.close)
        h = v.recv()
        self.assertEqual(h["t"], "hello")
        return v, h

    def test_socket_mode_and_dir(self):
        p, path = self.start_holder()
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(self.dir).st_mode & 0o777, 0o700)
        self.finish(p)
        self.assertFalse(os.path.exists(path))

    def test_watch_snap_queue_workers(self):
        p, path = self.start_holder()
        v, h = self.hello(path)
        (pool,) = h["pools"]
        self.assertEqual((pool["name"], pool["kind"], pool["max_workers"]),
                         ("held", "python-thread", 2))
        v.send("hello", viewer="test")
        v.send("watch", pool=pool["id"])
        s = v.recv()
        while s["t"] != "snap":
            s = v.recv()
        self.assertEqual(s["pool"], pool["id"])
        c = s["counters"]
        self.assertEqual((c["submitted"], c["queued"], c["running"]), (5, 3, 2))
        self.assertEqual([q[0] for q in s["queue"]], [3, 4, 5])
        self.assertTrue(all(q[2] == 0 and q[3] > 0 for q in s["queue"]))
        running = [w for w in s["workers"] if w["state"] == 2]
        self.assertEqual(sorted(w["task"] for w in running), [1, 2])
        self.assertEqual(s["names"], {1: "held"})
        for w in running:
            self.assertEqual(w["task_name"], 1)
            self.assertGreater(w["task_start"], 0)
        s2 = v.recv_skipping_pools()
        self.assertEqual(s2["t"], "snap")
        self.assertEqual(s2["names"], {})        # each name is sent once
        self.assertGreater(s2["time"], s["time"])
        v.send("unwatch", pool=pool["id"])
        self.finish(p)

    def test_control_is_refused(self):
        p, path = self.start_holder()
        v, h = self.hello(path)
        v.send("control", id=7, pool=h["pools"][0]["id"], op="resize", n=4)
        r = v.recv_skipping_pools()
        self.assertEqual(r["t"], "reply")
        self.assertEqual((r["id"], r["ok"]), (7, False))
        self.assertEqual(r["error"], "read-only: Python's executors cannot be "
                                     "resized or paused")
        v.send("control", id=8, pool=999, op="pause")
        r = v.recv_skipping_pools()
        self.assertEqual((r["id"], r["ok"], r["error"]), (8, False, "no pool 999"))
        self.finish(p)

    def test_unknown_type_and_pool_answered_not_closed(self):
        p, path = self.start_holder()
        v, h = self.hello(path)
        v.send("frobnicate")
        e = v.recv_skipping_pools()
        self.assertEqual(e["t"], "error")
        self.assertIn("frobnicate", e["message"])
        v.send("watch", pool=4242)
        e = v.recv_skipping_pools()
        self.assertEqual(e["t"], "error")
        self.assertIn("4242", e["message"])
        v.send("watch", pool=h["pools"][0]["id"])       # still served
        m = v.recv()
        while m["t"] != "snap":
            m = v.recv()
        self.finish(p)

    def bad_frame_closes(self, data, words):
        p, path = self.start_holder()
        v, _ = self.hello(path)
        v.send_raw(data)
        e = v.recv_skipping_pools()
        self.assertEqual(e["t"], "error")
        for w in words:
            self.assertIn(w, e["message"])
        self.assertIsNone(v.recv_skipping_pools())  # closed
        # the program goes on, and serves the next viewer
        v2, h2 = self.hello(path)
        self.assertEqual(h2["pid"], p.pid)
        self.finish(p)

    def test_malformed_cbor(self):
        self.bad_frame_closes(b"\x00\x00\x00\x02\xa1\xff", ["malformed"])

    def test_not_a_map(self):
        self.bad_frame_closes(b"\x00\x00\x00\x01\x80", ["not a CBOR map"])

    def test_oversized(self):
        self.bad_frame_closes(b"\x00\x01\x00\x01" + b"\0" * 70000,
                              ["65537", "limit"])

    def test_wrong_version(self):
        self.bad_frame_closes(frame("hello").replace(b"av\x01", b"av\x02"),
                              ["version"])

    def test_wrong_field_type(self):
        self.bad_frame_closes(frame("watch", pool="one"), ["pool"])

    def test_bye_then_close_at_exit(self):
        p, path = self.start_holder()
        v, _ = self.hello(path)
        p.stdin.write(b"\n")
        p.stdin.flush()
        frames = []
        while True:
            m = v.recv()
            if m is None:
                break
            frames.append(m["t"])
        self.assertEqual(frames[-1], "bye")
        out, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 0, err.decode())
        self.assertFalse(os.path.exists(path))


STALLED = textwrap.dedent("""
    import concurrent.futures, json, sys
    sys.stdin.readline()                  # the viewer watches, then stalls
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        n = sum(1 for _ in pool.map(str, range(30000)))
    print(json.dumps({"submitted": n}), flush=True)
    sys.stdin.readline()                  # the viewer reads again
""")


class SlowViewer(_TmpDir):
    def test_stalled_viewer_loses_rows_not_counts(self):
        script = os.path.join(self.dir, "stalled.py")
        with open(script, "w") as f:
            f.write(STALLED)
        env = probe_env(self.dir, wait=True)
        env["POOLSCOPE_PROBE_VIEWER_BUFFER"] = "65536"
        p = subprocess.Popen([sys.executable, "-m", "poolscope_probe", script],
                             env=env, cwd=REPO, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.procs.append(p)
        path = os.path.join(self.dir, "%d.sock" % p.pid)
        wait_until(lambda: os.path.exists(path), 20, what="the socket")
        v = Viewer(path)
        self.addCleanup(v.close)
        self.assertEqual(v.recv()["t"], "hello")
        p.stdin.write(b"\n")
        p.stdin.flush()
        m = v.recv()
        while m["t"] != "pools" or not m["pools"]:
            m = v.recv()
        pid = m["pools"][0]["id"]
        v.send("watch", pool=pid)
        # stall: read nothing until the program has run all its tasks
        self.assertEqual(json.loads(p.stdout.readline()), {"submitted": 30000})
        p.stdin.write(b"\n")
        p.stdin.close()
        p.stdin = None
        rows, last, bye = 0, None, None
        while True:
            m = v.recv()
            if m is None:
                break
            if m["t"] == "snap" and m["pool"] == pid:
                rows += len(m["rows"])
                last = m
            elif m["t"] == "bye":
                bye = m
        p.wait(20)
        self.assertIsNotNone(bye)
        c = last["counters"]
        self.assertEqual((c["submitted"], c["succeeded"]), (30000, 30000))
        self.assertGreater(last["lost"], 0)
        self.assertEqual(rows + last["lost"], 30000)


class Refusals(_TmpDir):
    def test_unsafe_dir_does_not_publish(self):
        os.chmod(self.dir, 0o755)
        p = subprocess.Popen(
            [sys.executable, "-m", "poolscope_probe",
             os.path.join(EXAMPLES, "threads_submit.py"), "--quick"],
            env=probe_env(self.dir, wait=True), cwd=REPO,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.procs.append(p)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0)
        self.assertIn("not publishing", err.decode())
        self.assertIn(self.dir, err.decode())
        self.assertEqual(summary_of(out)["submitted"], 16)
        self.assertEqual(os.listdir(self.dir), [])

    @unittest.skipUnless(os.getuid() == 0, "needs root to run as another uid")
    def test_other_uid_refused(self):
        # A forked viewer takes the uid of nobody (effective and real; the
        # saved uid stays 0), and then filesystem uid 0 only, so that it can
        # still reach the socket in the publisher's 0700 directory:
        # SO_PEERCRED reports the effective uid, nobody's.
        import ctypes
        import ctypes.util
        try:
            nobody = pwd.getpwnam("nobody")
        except KeyError:
            self.skipTest("no user nobody")
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6",
                           use_errno=True)
        p, path = self.start([os.path.join(EXAMPLES, "threads_submit.py"),
                              "--quick"])
        r, w = os.pipe()
        child = os.fork()
        if child == 0:
            code = 1
            try:
                os.close(r)
                os.setgroups([])
                os.setresgid(nobody.pw_gid, nobody.pw_gid, 0)
                os.setresuid(nobody.pw_uid, nobody.pw_uid, 0)
                libc.setfsuid(0)
                v = Viewer(path)
                got = []
                while True:
                    m = v.recv()
                    if m is None:
                        break
                    got.append(m)
                os.write(w, json.dumps({"uid": os.geteuid(),
                                        "frames": got}).encode())
                code = 0
            except BaseException as e:
                os.write(w, json.dumps({"exc": repr(e)}).encode())
            finally:
                os._exit(code)
        os.close(w)
        data = b""
        while True:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            data += chunk
        os.close(r)
        _, status = os.waitpid(child, 0)
        res = json.loads(data.decode())
        self.assertNotIn("exc", res, res)
        self.assertEqual(res["uid"], nobody.pw_uid)
        self.assertEqual([m["t"] for m in res["frames"]], ["error"])
        msg = res["frames"][0]["message"]
        self.assertIn("uid %d" % nobody.pw_uid, msg)
        self.assertIn("uid 0", msg)
        # the program is not disturbed: a viewer of its own uid is served
        c = Collector(path)
        c.wait_done(40)
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err.decode())
        self.assertEqual(c.totals()["submitted"], summary_of(out)["submitted"])


if __name__ == "__main__":
    unittest.main()
