"""The probe inside this process: the user's results and exceptions are
unchanged, the counters are exact without any viewer, disable() restores
the classes."""

import asyncio
import concurrent.futures as cf
import concurrent.futures.process as cf_process
import concurrent.futures.thread as cf_thread
import concurrent.futures._base as cf_base
import os
import pickle
import shutil
import sys
import tempfile
import threading
import traceback
import unittest

import poolscope_probe
from poolscope_probe import _instrument
from poolscope_probe._instrument import registry, summarize_args, \
    summarize_result, error_text, callable_name


class Boom(Exception):
    def __init__(self, code, why):
        Exception.__init__(self, code, why)
        self.code = code


def square(x):
    return x * x


def fail(code):
    raise Boom(code, "boom %d" % code)


def div(a, b):
    return a / b


def whoami(_):
    return os.getpid()


def user_frame_raises():
    {}["missing"]


class _Enabled(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="probe-inproc-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.old_env = {k: os.environ.get(k) for k in
                        ("POOLSCOPE_ATTACH_DIR", "POOLSCOPE_PROBE_WAIT")}
        os.environ["POOLSCOPE_ATTACH_DIR"] = self.dir
        os.environ.pop("POOLSCOPE_PROBE_WAIT", None)
        self.assertTrue(poolscope_probe.enable(name="unittest"))
        self.addCleanup(self._restore)

    def _restore(self):
        poolscope_probe.disable()
        for k, v in self.old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def pool_of(self, ex):
        return ex.__dict__["_poolscope_pool"]


class Unchanged(_Enabled):
    def test_thread_results_and_exceptions(self):
        with cf.ThreadPoolExecutor(3) as ex:
            self.assertEqual(ex.submit(square, 7).result(), 49)
            self.assertEqual(list(ex.map(square, range(10))),
                             [x * x for x in range(10)])
            f = ex.submit(fail, 3)
            with self.assertRaises(Boom) as cm:
                f.result()
            self.assertEqual(cm.exception.code, 3)
            self.assertIs(type(f.exception()), Boom)
            f = ex.submit(user_frame_raises)
            tb = traceback.extract_tb(f.exception().__traceback__)
            self.assertEqual(tb[-1].name, "user_frame_raises")
            self.assertEqual(ex.submit(dict, a=1).result(), {"a": 1})
            # a keyword called fn reaches the user's function
            self.assertEqual(ex.submit(lambda fn: fn, fn=5).result(), 5)
            pool = self.pool_of(ex)
        c, _ = pool.counters()
        self.assertEqual((c["submitted"], c["succeeded"], c["failed"]),
                         (15, 13, 2))

    def test_process_results_and_exceptions(self):
        with cf.ProcessPoolExecutor(2) as ex:
            self.assertEqual(ex.submit(square, 9).result(), 81)
            self.assertEqual(list(ex.map(square, range(20), chunksize=6)),
                             [x * x for x in range(20)])
            f = ex.submit(div, 1, 0)
            e = f.exception()
            self.assertIs(type(e), ZeroDivisionError)
            self.assertEqual(str(e), "division by zero")
            # as without the probe: the remote traceback is the cause
            self.assertIs(type(e.__cause__), cf_process._RemoteTraceback)
            self.assertIn("div", str(e.__cause__))
            e = ex.submit(fail, 4).exception()
            self.assertIs(type(e), Boom)
            self.assertEqual(e.code, 4)
            pids = {ex.submit(whoami, i).result() for i in range(6)}
            self.assertNotIn(os.getpid(), pids)
            pool = self.pool_of(ex)
        c, _ = pool.counters()
        self.assertEqual((c["submitted"], c["succeeded"], c["failed"]),
                         (1 + 4 + 2 + 6, 11, 2))
        self.assertTrue(pids <= {w.pid for w in pool.workers})

    def test_cancelled_counted(self):
        gate = threading.Event()
        with cf.ThreadPoolExecutor(1) as ex:
            first = ex.submit(gate.wait, 10)
            later = [ex.submit(square, i) for i in range(4)]
            self.assertTrue(all(f.cancel() for f in later))
            pool = self.pool_of(ex)
            c, pending = pool.counters()
            self.assertEqual((c["cancelled"], c["queued"]), (4, 0))
            gate.set()
            self.assertTrue(first.result())
        c, _ = pool.counters()
        self.assertEqual((c["submitted"], c["succeeded"], c["cancelled"],
                          c["running"]), (5, 1, 4, 0))

    @unittest.skipIf(sys.version_info < (3, 9), "cancel_futures is 3.9+")
    def test_shutdown_cancel_futures(self):
        gate = threading.Event()
        ex = cf.ThreadPoolExecutor(1)
        ex.submit(gate.wait, 10)
        for i in range(3):
            ex.submit(square, i)
        pool = self.pool_of(ex)
        t = threading.Thread(target=ex.shutdown,
                             kwargs={"wait": True, "cancel_futures": True})
        t.start()
        _wait(lambda: pool.cancelled == 3)
        gate.set()
        t.join(10)
        self.assertTrue(pool.shutdown)
        self.assertTrue(pool.idle_and_done())

    def test_broken_pool_tasks_fail_unstarted(self):
        gate = threading.Event()

        def bad_init():
            gate.wait(10)
            raise RuntimeError("no start")
        ex = cf.ThreadPoolExecutor(1, initializer=bad_init)
        fs = [ex.submit(square, i) for i in range(3)]
        gate.set()
        for f in fs:
            self.assertIsInstance(f.exception(10), cf_thread.BrokenThreadPool)
        ex.shutdown()
        pool = self.pool_of(ex)
        c, _ = pool.counters()
        self.assertEqual((c["submitted"], c["failed"], c["queued"],
                          c["running"]), (3, 3, 0, 0))

    def test_refused_submit_not_counted(self):
        ex = cf.ThreadPoolExecutor(1)
        ex.shutdown()
        with self.assertRaises(RuntimeError):
            ex.submit(square, 1)
        self.assertEqual(self.pool_of(ex).submitted, 0)

    def test_asyncio_default_and_explicit(self):
        async def main():
            loop = asyncio.get_running_loop()
            a = await asyncio.gather(*[loop.run_in_executor(None, square, i)
                                       for i in range(5)])
            with cf.ThreadPoolExecutor(2) as ex:
                b = await loop.run_in_executor(ex, square, 11)
                explicit = self.pool_of(ex)
            return a, b, loop._default_executor, explicit
        a, b, default, explicit = asyncio.run(main())
        self.assertEqual((a, b), ([0, 1, 4, 9, 16], 121))
        d = self.pool_of(default)
        self.assertEqual((d.kind, d.name, d.succeeded),
                         ("python-asyncio", "asyncio default executor", 5))
        self.assertEqual((explicit.kind, explicit.succeeded),
                         ("python-thread", 1))

    def test_pools_listed_until_shutdown_and_idle(self):
        ex = cf.ThreadPoolExecutor(1)
        pool = self.pool_of(ex)
        self.assertIn(pool, registry.listed())
        self.assertFalse(pool.idle_and_done())
        ex.shutdown()
        self.assertTrue(pool.idle_and_done())
        _wait(lambda: pool not in registry.listed())


def _wait(pred, timeout=10.0):
    import time
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


class Restore(unittest.TestCase):
    def test_disable_restores_the_classes(self):
        import asyncio.base_events as be
        before = (cf.ThreadPoolExecutor.__dict__["submit"],
                  cf.ThreadPoolExecutor.__dict__["__init__"],
                  cf.ThreadPoolExecutor.__dict__["shutdown"],
                  cf.ProcessPoolExecutor.__dict__["submit"],
                  cf.ProcessPoolExecutor.__dict__["__init__"],
                  cf.ProcessPoolExecutor.__dict__["shutdown"],
                  be.BaseEventLoop.__dict__["run_in_executor"],
                  cf_process._base, cf_thread._base)
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d, True)
        os.environ["POOLSCOPE_ATTACH_DIR"] = d
        try:
            self.assertTrue(poolscope_probe.enable())
            self.assertTrue(poolscope_probe.enabled())
            path = poolscope_probe.socket_path()
            self.assertTrue(os.path.exists(path))
            self.assertIsNot(cf.ThreadPoolExecutor.submit, before[0])
            self.assertIsNot(cf_process._base, cf_base)
            poolscope_probe.disable()
        finally:
            os.environ.pop("POOLSCOPE_ATTACH_DIR", None)
        after = (cf.ThreadPoolExecutor.__dict__["submit"],
                 cf.ThreadPoolExecutor.__dict__["__init__"],
                 cf.ThreadPoolExecutor.__dict__["shutdown"],
                 cf.ProcessPoolExecutor.__dict__["submit"],
                 cf.ProcessPoolExecutor.__dict__["__init__"],
                 cf.ProcessPoolExecutor.__dict__["shutdown"],
                 be.BaseEventLoop.__dict__["run_in_executor"],
                 cf_process._base, cf_thread._base)
        for a, b in zip(before, after):
            self.assertIs(a, b)
        self.assertFalse(poolscope_probe.enabled())
        self.assertFalse(os.path.exists(path))
        with cf.ThreadPoolExecutor(1) as ex:
            self.assertNotIn("_poolscope_pool", ex.__dict__)
            self.assertEqual(ex.submit(square, 3).result(), 9)


class Summaries(unittest.TestCase):
    def test_bounded_texts(self):
        big = list(range(10 ** 6))
        s = summarize_args((big, "x" * 10 ** 6, b"y" * 10 ** 6, 7 ** 100000),
                           {"k": {i: i for i in range(1000)}})
        self.assertLessEqual(len(s), 80)
        self.assertTrue(s.startswith("[0, 1, 2"))
        self.assertEqual(summarize_result(5), 5)
        self.assertEqual(summarize_result(None), None)
        self.assertEqual(summarize_result(2 ** 70), "1180591620717411303424")
        self.assertIn("bits", summarize_result(7 ** 100000))
        self.assertLessEqual(len(summarize_result(big)), 80)

        class Bad(object):
            def __repr__(self):
                raise RuntimeError("no")
        self.assertTrue(summarize_result(Bad()).startswith("<Bad "))

    def test_error_text_and_names(self):
        try:
            1 / 0
        except ZeroDivisionError as e:
            self.assertEqual(error_text(e), "ZeroDivisionError: division by zero")
        self.assertEqual(error_text(KeyboardInterrupt()), "KeyboardInterrupt")
        self.assertEqual(callable_name(Summaries.test_error_text_and_names),
                         "Summaries.test_error_text_and_names")
        import functools
        self.assertEqual(callable_name(functools.partial(square, 2)), "square")
        self.assertEqual(callable_name(functools.partial(
            cf_process._process_chunk, square)), "square (chunk)")
        self.assertEqual(callable_name(object()), "object")

    def test_outcome_pickles(self):
        o = _instrument._Outcome(1, 2, True, [1, 2], 3, 4, 5, 6)
        o2 = pickle.loads(pickle.dumps(o))
        self.assertEqual((o2.pool, o2.task, o2.ok, o2.value, o2.cpu),
                         (1, 2, True, [1, 2], 6))
        call = pickle.loads(pickle.dumps(_instrument._ProcessCall(square, 1, 2)))
        self.assertEqual(call(4).value, 16)


if __name__ == "__main__":
    unittest.main()
