"""Instrumentation of concurrent.futures and asyncio's default executor.

Every ThreadPoolExecutor / ProcessPoolExecutor created while the probe is
enabled is a Pool. Its counters are always kept (exact, under the pool's
lock); rows (one per finished task) and the text summaries of arguments
and results are recorded only while a viewer watches the pool, and at most
ROW_BOUND of them wait for the publisher, which drains them every 100 ms.
"""

import functools
import os
import reprlib
import sys
import threading
import time
import weakref

from concurrent.futures import _base as _cf_base
from concurrent.futures import process as _cf_process
from concurrent.futures import thread as _cf_thread

_monotonic_ns = time.monotonic_ns
_thread_time_ns = time.thread_time_ns

ROW_BOUND = 100000          # unsent rows kept per pool while watched

KIND_THREAD = "python-thread"
KIND_PROCESS = "python-process"
KIND_ASYNCIO = "python-asyncio"

# row status
SUCCEEDED, FAILED, CANCELLED = 0, 1, 2
# worker state
W_IDLE, W_RUNNING, W_RETIRED = 1, 2, 5

# ------------------------------------------------------------- summaries


class _ShortRepr(reprlib.Repr):
    """reprlib with bounded cost for the big builtins it would repr whole."""

    def __init__(self):
        reprlib.Repr.__init__(self)
        self.maxlevel = 3
        self.maxstring = 60
        self.maxother = 60
        self.maxlong = 40
        self.maxlist = self.maxtuple = self.maxset = 6
        self.maxfrozenset = self.maxdeque = self.maxarray = 6
        self.maxdict = 4

    def repr_int(self, x, level):
        if x.bit_length() > 128:
            return "<int of %d bits>" % x.bit_length()
        return reprlib.Repr.repr_int(self, x, level)

    def repr_bytes(self, x, level):
        if len(x) > 40:
            return repr(x[:30])[:-1] + "...'"
        return repr(x)

    def repr_bytearray(self, x, level):
        if len(x) > 40:
            return "bytearray(%s...)" % repr(bytes(x[:30]))
        return repr(x)


_short = _ShortRepr()
TEXT_MAX = 80


def _trunc(s, n=TEXT_MAX):
    return s if len(s) <= n else s[:n - 3] + "..."


def safe_repr(x):
    """A short repr that never raises."""
    try:
        return _trunc(_short.repr(x))
    except Exception:
        return "<%s object>" % type(x).__name__


_SIMPLE = (int, float, bool, type(None))


def summarize_args(args, kwargs):
    try:
        if not kwargs and len(args) <= 6:
            # fast path: a few small numbers or short strings
            for a in args:
                t = type(a)
                if not (t in _SIMPLE and (t is not int or -(1 << 64) < a <
                                          (1 << 64))
                        or t is str and len(a) <= 30):
                    break
            else:
                return _trunc(", ".join(map(repr, args)))
        parts = [safe_repr(a) for a in args[:6]]
        if len(args) > 6:
            parts.append("...")
        for i, (k, v) in enumerate(kwargs.items()):
            if i == 6:
                parts.append("...")
                break
            parts.append("%s=%s" % (k, safe_repr(v)))
        return _trunc(", ".join(parts))
    except Exception:
        return ""


_I64_MIN, _U64_END = -(1 << 63), 1 << 64


def summarize_result(x):
    """A CBOR scalar for a task's result: small numbers, bools, None and
    short strings as they are, anything else as a short repr."""
    t = type(x)
    if x is None or t is bool or t is float:
        return x
    if t is int and _I64_MIN <= x < _U64_END:
        return x
    if t is str and len(x) <= TEXT_MAX:
        return x
    return safe_repr(x)


def error_text(e):
    """'ValueError: message', as Python names it."""
    try:
        msg = str(e)
    except Exception:
        msg = ""
    name = type(e).__name__
    return _trunc("%s: %s" % (name, msg), 200) if msg else name


# ------------------------------------------------------------------ names

_names = {"task": 0}
_name_texts = ["task"]
_names_lock = threading.Lock()


def intern_name(text):
    i = _names.get(text)
    if i is None:
        with _names_lock:
            i = _names.get(text)
            if i is None:
                i = len(_name_texts)
                _name_texts.append(text)
                _names[text] = i
    return i


def name_text(i):
    return _name_texts[i]


def callable_name(fn):
    try:
        if isinstance(fn, functools.partial):
            if fn.func is getattr(_cf_process, "_process_chunk", None) \
                    and fn.args:
                return callable_name(fn.args[0]) + " (chunk)"
            return callable_name(fn.func)
        q = getattr(fn, "__qualname__", None)
        if not isinstance(q, str):
            q = getattr(type(fn), "__qualname__", None)
        return q if isinstance(q, str) and q else "task"
    except Exception:
        return "task"


# ------------------------------------------------------------------ pools


class Worker(object):
    __slots__ = ("index", "key", "name", "pid", "tid", "thread", "task",
                 "task_name", "task_start", "done", "busy_ns", "cpu_ns",
                 "ended")

    def __init__(self, index, key, name, pid, tid, thread):
        self.index = index
        self.key = key
        self.name = name
        self.pid = pid
        self.tid = tid
        self.thread = thread
        self.task = 0
        self.task_name = 0
        self.task_start = 0
        self.done = 0
        self.busy_ns = 0
        self.cpu_ns = 0
        self.ended = False


class Pool(object):
    """One executor as the protocol shows it."""

    def __init__(self, pool_id, name, kind, max_workers, executor):
        self.id = pool_id
        self.name = name
        self.kind = kind
        self.is_process = kind == KIND_PROCESS
        self.max_workers = int(max_workers or 0)
        self.executor_ref = weakref.ref(executor)
        self.lock = threading.Lock()
        self.next_task = 1
        self.submitted = 0
        self.queued = 0        # process pools: pending (queued or running)
        self.running = 0
        self.succeeded = 0
        self.failed = 0
        self.cancelled = 0
        self.shutdown = False
        # task id -> [name id, submit ns, args text]: not started (threads),
        # not finished (processes). Insertion order = dispatch order.
        self.pending = {}
        self.workers = []
        self.by_key = {}
        self.recording = False
        self.rows = []         # (row array, args, result, error)
        self.overflow = 0      # rows dropped over ROW_BOUND, not yet told
        self.watchers = 0
        self.watched = threading.Event()

    # -- description
    def describe(self):
        return {"id": self.id, "name": self.name, "kind": self.kind,
                "max_workers": self.max_workers, "control": []}

    def executor(self):
        return self.executor_ref()

    def idle_and_done(self):
        """True when the pool may leave the list: shut down (or collected)
        and no task left."""
        if not (self.shutdown or self.executor_ref() is None):
            return False
        return self.queued == 0 and self.running == 0

    # -- submit side (the program's threads)
    def prepare(self, fn, args, kwargs):
        name_id = intern_name(callable_name(fn))
        now = _monotonic_ns()
        text = summarize_args(args, kwargs) if self.recording else ""
        with self.lock:
            task = self.next_task
            self.next_task = task + 1
            self.submitted += 1
            self.queued += 1
            self.pending[task] = (name_id, now, text)
        return task, name_id

    def unsubmit(self, task):
        """The executor refused the task (shut down, broken): forget it."""
        with self.lock:
            if self.pending.pop(task, None) is not None:
                self.submitted -= 1
                self.queued -= 1

    def on_done(self, task, future):
        """Finishes, from its future, a task the wrappers did not see finish
        (cancelled, never started, lost by a broken pool)."""
        try:
            if task not in self.pending:
                return
            exc = None
            if future.cancelled():
                status = CANCELLED
            else:
                exc = future.exception()
                status = SUCCEEDED if exc is None else FAILED
            err = error_text(exc) if exc is not None and self.recording else ""
            now = _monotonic_ns()
            with self.lock:
                entry = self.pending.pop(task, None)
                if entry is None:
                    return
                self.queued -= 1
                self._count(status)
                if self.recording:
                    self._add_row([task, entry[1], now, now, -1, 0, entry[0],
                                   -1, -1, status, False], entry[2], None, err)
        except Exception:
            pass

    def _count(self, status):
        if status == SUCCEEDED:
            self.succeeded += 1
        elif status == FAILED:
            self.failed += 1
        else:
            self.cancelled += 1

    def _add_row(self, row, args, result, err):
        """self.lock held: the row goes with the counters in one step, so a
        snap never sees a task counted whose row is still to come."""
        if len(self.rows) >= ROW_BOUND:
            self.overflow += 1
        else:
            self.rows.append((row, args, result, err))

    # -- thread workers
    def thread_worker(self):
        key = threading.get_ident()
        w = self.by_key.get(key)
        if w is None:
            t = threading.current_thread()
            with self.lock:
                w = Worker(len(self.workers), key, t.name, os.getpid(),
                           threading.get_native_id(), t)
                self.workers.append(w)
                self.by_key[key] = w
        return w

    def begin_thread(self, task, name_id, start):
        w = self.thread_worker()
        with self.lock:
            entry = self.pending.pop(task, None)
            if entry is not None:
                self.queued -= 1
            self.running += 1
        w.task_name = name_id
        w.task_start = start
        w.task = task
        return w, entry

    def end_thread(self, w, entry, task, name_id, start, cpu0, status,
                   result, exc):
        try:
            end = _monotonic_ns()
            cpu = _thread_time_ns() - cpu0
            w.task = 0
            w.done += 1
            w.busy_ns += end - start
            w.cpu_ns += cpu
            if self.recording:
                res = summarize_result(result) if status == SUCCEEDED else None
                err = error_text(exc) if exc is not None else ""
            else:
                res, err = None, ""
            with self.lock:
                self.running -= 1
                self._count(status)
                if self.recording:
                    self._add_row([task, entry[1] if entry else 0, start, end,
                                   cpu, 0, name_id, w.index, -1, status, True],
                                  entry[2] if entry else "", res, err)
        except Exception:
            pass

    # -- process workers
    def process_worker(self, pid):
        """The worker of that pid; self.lock must be held."""
        w = self.by_key.get(pid)
        if w is None:
            w = Worker(len(self.workers), pid, "pid %d" % pid, pid, pid, None)
            self.workers.append(w)
            self.by_key[pid] = w
        return w

    def finish_outcome(self, o):
        try:
            if self.recording:
                res = summarize_result(o.value) if o.ok else None
                err = "" if o.ok else error_text(o.value)
            else:
                res, err = None, ""
            status = SUCCEEDED if o.ok else FAILED
            with self.lock:
                entry = self.pending.pop(o.task, None)
                if entry is None:
                    return
                self.queued -= 1
                self._count(status)
                w = self.process_worker(o.pid)
                w.done += 1
                w.busy_ns += o.end - o.start
                if o.cpu >= 0:
                    w.cpu_ns += o.cpu
                if self.recording:
                    self._add_row([o.task, entry[1], o.start, o.end, o.cpu, 0,
                                   entry[0], w.index, -1, status, True],
                                  entry[2], res, err)
        except Exception:
            pass

    # -- publisher side
    def set_recording(self, on):
        with self.lock:
            self.recording = on
            if not on:
                self.rows = []
                self.overflow = 0

    def drain(self):
        """(rows, overflow) since the last drain."""
        with self.lock:
            rows, self.rows = self.rows, []
            overflow, self.overflow = self.overflow, 0
        return rows, overflow

    def counters(self):
        with self.lock:
            queued, running = self.queued, self.running
            c = {"submitted": self.submitted, "succeeded": self.succeeded,
                 "failed": self.failed, "cancelled": self.cancelled,
                 "dropped": 0}
            pending = list(self._first_pending(20 + self.max_workers))
        if self.is_process:
            # Running vs queued is known only when results come back: the
            # estimate fills the workers first (docs/attach.md, Python).
            running = min(queued, max(self.max_workers, 0))
            queued -= running
            pending = pending[running:]
        c["queued"] = queued
        c["running"] = running
        return c, pending[:20]

    def _first_pending(self, n):
        for i, (task, entry) in enumerate(self.pending.items()):
            if i >= n:
                break
            yield (task, entry)


class _Registry(object):
    def __init__(self):
        self.lock = threading.Lock()
        self.pools = {}          # id -> Pool, insertion order
        self.next_id = 1
        self.changed = False
        self.wake = None         # set by the publisher
        self.wait_for_watch = None   # timeout in s, when POOLSCOPE_PROBE_WAIT
        self.process_names = 0

    def add(self, executor, name, kind, max_workers):
        with self.lock:
            pool = Pool(self.next_id, name, kind, max_workers, executor)
            self.next_id += 1
            self.pools[pool.id] = pool
            self.changed = True
        wake = self.wake
        if wake is not None:
            wake()
        return pool

    def get(self, pool_id):
        return self.pools.get(pool_id)

    def remove(self, pool_id):
        with self.lock:
            self.pools.pop(pool_id, None)
            self.changed = True

    def listed(self):
        with self.lock:
            return list(self.pools.values())


registry = _Registry()

# ------------------------------------------------------- process outcomes


class _Outcome(object):
    """What a wrapped task returns from a worker process: the real result
    or exception plus when and where it ran. Turned back into the result by
    _ProbeFuture.set_result before anyone can see it."""
    __slots__ = ("pool", "task", "ok", "value", "pid", "start", "end", "cpu")

    def __init__(self, pool, task, ok, value, pid, start, end, cpu):
        self.pool = pool
        self.task = task
        self.ok = ok
        self.value = value
        self.pid = pid
        self.start = start
        self.end = end
        self.cpu = cpu

    def __reduce__(self):
        return (_Outcome, (self.pool, self.task, self.ok, self.value,
                           self.pid, self.start, self.end, self.cpu))


class _ProcessCall(object):
    """The picklable callable a ProcessPoolExecutor really runs: calls the
    user's function in the worker process and times it."""
    __slots__ = ("fn", "pool", "task")

    def __init__(self, fn, pool, task):
        self.fn = fn
        self.pool = pool
        self.task = task

    def __reduce__(self):
        return (_ProcessCall, (self.fn, self.pool, self.task))

    def __call__(self, *args, **kwargs):
        start = _monotonic_ns()
        cpu0 = _thread_time_ns()
        try:
            value = self.fn(*args, **kwargs)
            ok = True
        except BaseException as e:
            ok = False
            # Exactly what the stock worker sends back: the exception with
            # its remote traceback text as __cause__ in the parent.
            wrap = getattr(_cf_process, "_ExceptionWithTraceback", None)
            value = wrap(e, e.__traceback__) if wrap is not None else e
        end = _monotonic_ns()
        return _Outcome(self.pool, self.task, ok, value, os.getpid(), start,
                        end, _thread_time_ns() - cpu0)


_tls = threading.local()


class _ProbeFuture(_cf_base.Future):
    """The Future the executors' submit() creates while the probe is on
    (concurrent.futures.thread/process see it as _base.Future).

    It knows its (pool, task) from the moment it exists (the submit wrapper
    names them in a thread-local just around the real submit), so the
    tasks that end without running (cancelled, a broken pool) are counted
    without a done-callback per task; and for a process pool it unpacks the
    _Outcome envelope before storing the result, so the user's future holds
    exactly the original result or exception."""

    def __init__(self):
        _cf_base.Future.__init__(self)
        self._poolscope = getattr(_tls, "submitting", None)

    def cancel(self):
        done = _cf_base.Future.cancel(self)
        b = self._poolscope
        if done and b is not None:
            b[0].on_done(b[1], self)
        return done

    def set_exception(self, exception):
        _cf_base.Future.set_exception(self, exception)
        b = self._poolscope
        if b is not None and b[1] in b[0].pending:
            b[0].on_done(b[1], self)

    def set_result(self, result):
        if type(result) is _Outcome:
            o = result
            pool = registry.get(o.pool)
            if pool is not None:
                pool.finish_outcome(o)
            if o.ok:
                return _cf_base.Future.set_result(self, o.value)
            return self.set_exception(o.value)
        _cf_base.Future.set_result(self, result)
        b = self._poolscope
        if b is not None and b[1] in b[0].pending:
            b[0].on_done(b[1], self)


class _BaseShim(type(sys)):
    """Stands in for concurrent.futures._base inside the thread and process
    modules only: the same module, except that Future is _ProbeFuture."""

    def __init__(self):
        type(sys).__init__(self, "concurrent.futures._base")
        self.Future = _ProbeFuture

    def __getattr__(self, name):
        return getattr(_cf_base, name)


# ------------------------------------------------------------- patching

_orig = {}
_enabled = False


def _pool_of(executor):
    try:
        return executor.__dict__.get("_poolscope_pool")
    except AttributeError:
        return None


def _wait_watched(pool):
    timeout = registry.wait_for_watch
    if timeout is None or registry.wake is None:
        return
    if not pool.watched.wait(timeout):
        sys.stderr.write("poolscope_probe: no viewer watched pool %r within "
                         "%g s (POOLSCOPE_PROBE_WAIT); going on\n"
                         % (pool.name, timeout))


def _thread_init(self, *args, **kwargs):
    _orig["thread_init"](self, *args, **kwargs)
    try:
        if getattr(_tls, "asyncio_default", False):
            _tls.asyncio_default = False
            name, kind = "asyncio default executor", KIND_ASYNCIO
        else:
            name = getattr(self, "_thread_name_prefix", "") or \
                "ThreadPoolExecutor"
            kind = KIND_THREAD
        pool = registry.add(self, name, kind, getattr(self, "_max_workers", 0))
        self.__dict__["_poolscope_pool"] = pool
    except Exception:
        return
    _wait_watched(pool)


def _process_init(self, *args, **kwargs):
    _orig["process_init"](self, *args, **kwargs)
    try:
        registry.process_names += 1
        pool = registry.add(self, "ProcessPoolExecutor-%d"
                            % registry.process_names, KIND_PROCESS,
                            getattr(self, "_max_workers", 0))
        self.__dict__["_poolscope_pool"] = pool
    except Exception:
        return
    _wait_watched(pool)


def _thread_submit(self, fn, /, *args, **kwargs):
    pool = _pool_of(self)
    if pool is None:
        return _orig["thread_submit"](self, fn, *args, **kwargs)
    task, name_id = pool.prepare(fn, args, kwargs)

    def poolscope_task():
        start = _monotonic_ns()
        cpu0 = _thread_time_ns()
        w, entry = pool.begin_thread(task, name_id, start)
        try:
            result = fn(*args, **kwargs)
        except BaseException as e:
            pool.end_thread(w, entry, task, name_id, start, cpu0, FAILED,
                            None, e)
            raise
        pool.end_thread(w, entry, task, name_id, start, cpu0, SUCCEEDED,
                        result, None)
        return result

    _tls.submitting = (pool, task)
    try:
        return _orig["thread_submit"](self, poolscope_task)
    except BaseException:
        pool.unsubmit(task)
        raise
    finally:
        _tls.submitting = None


def _process_submit(self, fn, /, *args, **kwargs):
    pool = _pool_of(self)
    if pool is None or not isinstance(_cf_process._base, _BaseShim):
        return _orig["process_submit"](self, fn, *args, **kwargs)
    task, name_id = pool.prepare(fn, args, kwargs)
    _tls.submitting = (pool, task)
    try:
        return _orig["process_submit"](self, _ProcessCall(fn, pool.id, task),
                                       *args, **kwargs)
    except BaseException:
        pool.unsubmit(task)
        raise
    finally:
        _tls.submitting = None


def _make_shutdown(key):
    def shutdown(self, *args, **kwargs):
        pool = _pool_of(self)
        if pool is not None:
            pool.shutdown = True
            wake = registry.wake
            if wake is not None:
                wake()
        return _orig[key](self, *args, **kwargs)
    shutdown.__name__ = "shutdown"
    return shutdown


def _run_in_executor(self, executor, func, *args):
    if executor is None and getattr(self, "_default_executor", 1) is None:
        _tls.asyncio_default = True
        try:
            return _orig["run_in_executor"](self, executor, func, *args)
        finally:
            _tls.asyncio_default = False
    return _orig["run_in_executor"](self, executor, func, *args)


def _copy_meta(wrapper, original):
    for attr in ("__doc__", "__qualname__", "__module__"):
        try:
            setattr(wrapper, attr, getattr(original, attr))
        except (AttributeError, TypeError):
            pass
    try:
        wrapper.__wrapped__ = original
    except AttributeError:
        pass
    return wrapper


def patch():
    """Install the wrappers (idempotent)."""
    global _enabled
    if _enabled:
        return
    import asyncio.base_events as _be
    TPE = _cf_thread.ThreadPoolExecutor
    PPE = _cf_process.ProcessPoolExecutor
    _orig.update({
        "thread_init": TPE.__dict__["__init__"],
        "thread_submit": TPE.__dict__["submit"],
        "thread_shutdown": TPE.__dict__["shutdown"],
        "process_init": PPE.__dict__["__init__"],
        "process_submit": PPE.__dict__["submit"],
        "process_shutdown": PPE.__dict__["shutdown"],
        "run_in_executor": _be.BaseEventLoop.__dict__["run_in_executor"],
        "process_base": _cf_process._base,
        "thread_base": _cf_thread._base,
    })
    TPE.__init__ = _copy_meta(_thread_init, _orig["thread_init"])
    TPE.submit = _copy_meta(_thread_submit, _orig["thread_submit"])
    TPE.shutdown = _copy_meta(_make_shutdown("thread_shutdown"),
                              _orig["thread_shutdown"])
    PPE.__init__ = _copy_meta(_process_init, _orig["process_init"])
    PPE.submit = _copy_meta(_process_submit, _orig["process_submit"])
    PPE.shutdown = _copy_meta(_make_shutdown("process_shutdown"),
                              _orig["process_shutdown"])
    _be.BaseEventLoop.run_in_executor = _copy_meta(
        _run_in_executor, _orig["run_in_executor"])
    shim = _BaseShim()
    _cf_process._base = shim
    _cf_thread._base = shim
    _enabled = True


def unpatch():
    """Put the original methods back (idempotent). Executors created while
    enabled keep counting their tasks until they end; new ones are plain."""
    global _enabled
    if not _enabled:
        return
    import asyncio.base_events as _be
    TPE = _cf_thread.ThreadPoolExecutor
    PPE = _cf_process.ProcessPoolExecutor
    TPE.__init__ = _orig["thread_init"]
    TPE.submit = _orig["thread_submit"]
    TPE.shutdown = _orig["thread_shutdown"]
    PPE.__init__ = _orig["process_init"]
    PPE.submit = _orig["process_submit"]
    PPE.shutdown = _orig["process_shutdown"]
    _be.BaseEventLoop.run_in_executor = _orig["run_in_executor"]
    _cf_process._base = _orig["process_base"]
    _cf_thread._base = _orig["thread_base"]
    _enabled = False


def is_patched():
    return _enabled

