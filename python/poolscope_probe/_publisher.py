"""The publisher: a Unix-domain socket server on a daemon thread.

Viewers connect to <attach dir>/<pid>.sock (docs/attach.md). Everything the
publisher sends goes through a per-connection outgoing buffer drained with
non-blocking sends, so no thread of the program ever waits for a viewer;
while a connection holds more than OUT_BOUND unsent bytes its snaps are not
built and their rows are counted in its `lost`.
"""

import os
import selectors
import socket
import sys
import threading
import time

from . import cbor
from . import wire
from ._instrument import (registry, name_text, W_IDLE, W_RUNNING, W_RETIRED)

OUT_BOUND = 8 * 1024 * 1024
INTERVAL = 0.1
ROWS_PER_FRAME = 20000      # keeps a snap far below the viewer's 16 MiB
READ_ONLY = "read-only: Python's executors cannot be resized or paused"

_EV_R = selectors.EVENT_READ
_EV_W = selectors.EVENT_WRITE


def runtime_text():
    impl = {"cpython": "CPython", "pypy": "PyPy"}.get(
        sys.implementation.name, sys.implementation.name)
    v = sys.version_info
    return "%s %d.%d.%d" % (impl, v[0], v[1], v[2])


class _Conn(object):
    __slots__ = ("sock", "inbuf", "out", "watched", "lost", "names_sent",
                 "closing", "deadline", "events", "viewer")

    def __init__(self, sock):
        self.sock = sock
        self.inbuf = bytearray()
        self.out = bytearray()
        self.watched = set()
        self.lost = 0
        self.names_sent = set()
        self.closing = False
        self.deadline = 0.0
        self.events = _EV_R
        self.viewer = None


class Publisher(object):
    def __init__(self, program, interval=INTERVAL, out_bound=None):
        self.program = program
        self.interval = interval
        if out_bound is None:
            # POOLSCOPE_PROBE_VIEWER_BUFFER: bytes; for tests of a slow viewer
            try:
                out_bound = int(os.environ.get("POOLSCOPE_PROBE_VIEWER_BUFFER",
                                               OUT_BOUND))
            except ValueError:
                out_bound = OUT_BOUND
        self.out_bound = out_bound
        self.pid = os.getpid()
        self.uid = os.getuid()
        self.path = None
        self.listener = None
        self.wake_r = self.wake_w = None
        self.thread = None
        self.conns = []
        self.sel = None
        self.stopping = False
        self.reason = "the program ended"
        self.connected = threading.Event()
        self.inode = None

    # ------------------------------------------------------------ control
    def start(self):
        """Bind and start serving. Returns None, or why not (nothing is
        left behind then)."""
        if not hasattr(socket, "AF_UNIX") or \
                not hasattr(socket, "SO_PEERCRED"):
            return "this platform has no Unix-domain sockets with SO_PEERCRED"
        directory = wire.attach_dir()
        why = wire.prepare_dir(directory)
        if why:
            return why
        path = wire.socket_path(directory, self.pid)
        if len(os.fsencode(path)) > 107:
            return "the socket path %s is too long for a Unix socket" % path
        sock = None
        # Bound and listening under a temporary name first, then renamed:
        # a viewer never finds <pid>.sock that refuses connections.
        tmp = path + ".tmp"
        try:
            for stale in (path, tmp):    # left by an earlier process of this pid
                try:
                    os.unlink(stale)
                except FileNotFoundError:
                    pass
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            old = os.umask(0o177)
            try:
                sock.bind(tmp)
            finally:
                os.umask(old)
            os.chmod(tmp, 0o600)
            sock.listen(16)
            sock.setblocking(False)
            self.inode = os.stat(tmp).st_ino
            os.rename(tmp, path)
            self.wake_r, self.wake_w = socket.socketpair()
            self.wake_r.setblocking(False)
            self.wake_w.setblocking(False)
        except OSError as e:
            if sock is not None:
                sock.close()
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
            return "cannot listen on %s: %s" % (path, e)
        self.listener = sock
        self.path = path
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.listener, _EV_R, "listen")
        self.sel.register(self.wake_r, _EV_R, "wake")
        self.thread = threading.Thread(target=self._run,
                                       name="poolscope-probe", daemon=True)
        self.thread.start()
        return None

    def wake(self):
        """Called from any thread: have the publisher look now."""
        w = self.wake_w
        if w is not None:
            try:
                w.send(b"\0")
            except OSError:
                pass

    def stop(self, reason, timeout=3.0):
        """Final snaps, `bye`, close, remove the socket. Bounded in time."""
        if self.pid != os.getpid():
            return
        self.reason = reason
        self.stopping = True
        self.wake()
        t = self.thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)

    def forget_after_fork(self):
        """In a forked child: drop the parent's sockets without a word."""
        self.stopping = True
        self.thread = None
        for c in self.conns:
            _close_quietly(c.sock)
        self.conns = []
        for s in (self.listener, self.wake_r, self.wake_w):
            _close_quietly(s)
        self.wake_w = None

    # --------------------------------------------------------------- loop
    def _run(self):
        try:
            self._loop()
        except Exception as e:       # never take the program down
            try:
                sys.stderr.write("poolscope_probe: publisher stopped: %r\n"
                                 % (e,))
            except Exception:
                pass
        finally:
            self._final()

    def _loop(self):
        next_tick = time.monotonic() + self.interval
        while not self.stopping:
            timeout = max(0.0, next_tick - time.monotonic())
            for key, ev in self.sel.select(timeout):
                what = key.data
                if what == "listen":
                    self._accept()
                elif what == "wake":
                    try:
                        while self.wake_r.recv(4096):
                            pass
                    except OSError:
                        pass
                else:
                    if ev & _EV_R and not what.closing:
                        self._read(what)
                    if ev & _EV_W and what in self.conns:
                        self._flush(what)
            if self.stopping:
                break
            if registry.changed:
                self._send_pools()
            now = time.monotonic()
            if now >= next_tick:
                self._tick()
                next_tick += self.interval
                if next_tick < now:
                    next_tick = now + self.interval
            self._reap(now)

    def _final(self):
        try:
            if self.pid != os.getpid():
                return
            try:
                self._tick(final=True)
            except Exception:
                pass
            for c in list(self.conns):
                if not c.closing:
                    self._send(c, wire.encode_frame("bye", reason=self.reason))
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline and \
                    any(c.out for c in self.conns):
                waiting = [c for c in self.conns if c.out]
                for c in waiting:
                    self._update(c)
                try:
                    events = self.sel.select(max(0.0, deadline -
                                                 time.monotonic()))
                except OSError:
                    break
                for key, ev in events:
                    if isinstance(key.data, _Conn) and ev & _EV_W \
                            and key.data in self.conns:
                        self._flush(key.data)
            for c in list(self.conns):
                self._drop(c)
        finally:
            self._cleanup()

    def _cleanup(self):
        registry_wake = registry.wake
        if registry_wake == self.wake:
            registry.wake = None
        if self.path and self.pid == os.getpid():
            try:
                if os.stat(self.path).st_ino == self.inode:
                    os.unlink(self.path)
            except OSError:
                pass
        for s in (self.listener, self.wake_r, self.wake_w):
            _close_quietly(s)
        self.wake_w = None
        try:
            self.sel.close()
        except Exception:
            pass

    # -------------------------------------------------------- connections
    def _accept(self):
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            sock.setblocking(False)
            c = _Conn(sock)
            self.conns.append(c)
            self.sel.register(sock, _EV_R, c)
            try:
                _, peer_uid, _ = wire.peer_credentials(sock)
                refusal = wire.peer_refusal(peer_uid, self.uid)
            except OSError as e:
                refusal = "refused: cannot read the viewer's credentials (%s)" % e
            if refusal:
                self._refuse(c, refusal)
                continue
            self._send(c, wire.encode_frame(
                "hello", program=self.program, pid=self.pid, uid=self.uid,
                language="python", runtime=runtime_text(),
                pools=[p.describe() for p in registry.listed()]))
            self.connected.set()

    def _read(self, c):
        try:
            data = c.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(c)
            return
        if not data:
            self._drop(c)
            return
        c.inbuf += data
        payloads, bad = wire.split_frames(c.inbuf, wire.PUBLISHER_FRAME_LIMIT)
        for p in payloads:
            try:
                msg = wire.parse_payload(p)
            except wire.FrameError as e:
                self._refuse(c, "bad frame: %s" % e)
                return
            if not self._handle(c, msg):
                return
        if bad:
            self._refuse(c, "bad frame: %s" % bad)

    def _handle(self, c, msg):
        """Serve one viewer frame. False when the connection was refused."""
        t = msg["t"]
        if t == "hello":
            viewer = msg.get("viewer")
            if viewer is not None and type(viewer) is not str:
                return self._bad(c, "hello: field \"viewer\" must be text")
            c.viewer = viewer
            return True
        if t == "watch" or t == "unwatch":
            pid = msg.get("pool")
            if type(pid) is not int or pid < 0:
                return self._bad(c, "%s: field \"pool\" must be a uint" % t)
            pool = registry.get(pid)
            if t == "watch":
                if pool is None:
                    self._send(c, wire.encode_frame(
                        "error", message="watch: no pool %d" % pid))
                elif pid not in c.watched:
                    c.watched.add(pid)
                    self._watchers(pool, +1)
            elif pid in c.watched:
                c.watched.discard(pid)
                if pool is not None:
                    self._watchers(pool, -1)
            return True
        if t == "control":
            rid, pid, op = msg.get("id"), msg.get("pool"), msg.get("op")
            if type(rid) is not int or rid < 0 or type(pid) is not int \
                    or pid < 0 or type(op) is not str:
                return self._bad(c, "control: fields \"id\", \"pool\" (uint) "
                                    "and \"op\" (text) are required")
            if registry.get(pid) is None:
                why = "no pool %d" % pid
            else:
                why = READ_ONLY
            self._send(c, wire.encode_frame("reply", id=rid, ok=False,
                                            error=why))
            return True
        self._send(c, wire.encode_frame(
            "error", message="unknown frame type %r" % (t,)))
        return True

    def _bad(self, c, why):
        self._refuse(c, "bad frame: %s" % why)
        return False

    def _watchers(self, pool, delta):
        pool.watchers += delta
        if pool.watchers == 1 and delta > 0:
            pool.set_recording(True)
            pool.watched.set()
        elif pool.watchers <= 0:
            pool.watchers = 0
            pool.set_recording(False)

    def _refuse(self, c, message):
        self._send(c, wire.encode_frame("error", message=message))
        self._unwatch_all(c)
        c.closing = True
        c.deadline = time.monotonic() + 2.0
        self._update(c)

    def _unwatch_all(self, c):
        for pid in list(c.watched):
            pool = registry.get(pid)
            if pool is not None:
                self._watchers(pool, -1)
        c.watched.clear()

    def _drop(self, c):
        if c not in self.conns:
            return
        self.conns.remove(c)
        self._unwatch_all(c)
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError, OSError):
            pass
        if c.closing:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        _close_quietly(c.sock)

    def _reap(self, now):
        for c in list(self.conns):
            if c.closing and (not c.out or now > c.deadline):
                self._drop(c)

    def _send(self, c, data):
        c.out += data
        self._flush(c)

    def _flush(self, c):
        out = c.out
        while out:
            try:
                with memoryview(out) as mv, mv[:262144] as part:
                    n = c.sock.send(part)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                out.clear()
                self._drop(c)
                return
            del out[:n]
        self._update(c)

    def _update(self, c):
        if c not in self.conns:
            return
        want = (0 if c.closing else _EV_R) | (_EV_W if c.out else 0)
        if want == c.events:
            return
        if want == 0:
            if c.closing:
                self._drop(c)
            return
        try:
            self.sel.modify(c.sock, want, c)
            c.events = want
        except (KeyError, ValueError, OSError):
            self._drop(c)

    # -------------------------------------------------------------- snaps
    def _send_pools(self):
        registry.changed = False
        frame = wire.encode_frame(
            "pools", pools=[p.describe() for p in registry.listed()])
        for c in list(self.conns):
            if not c.closing:
                self._send(c, frame)

    def _tick(self, final=False):
        now = time.monotonic_ns()
        for pool in registry.listed():
            viewers = [c for c in self.conns
                       if pool.id in c.watched and not c.closing]
            drop = (not final) and pool.idle_and_done()
            if viewers and not self._snap(pool, viewers, now, final):
                drop = False    # listed until every watcher has its last snap
            if drop:
                registry.remove(pool.id)
                for c in self.conns:
                    c.watched.discard(pool.id)
                pool.watchers = 0
                pool.set_recording(False)
        if registry.changed:
            self._send_pools()

    def _snap(self, pool, viewers, now, final=False):
        """Send one snap of pool to each viewer; False if a viewer over its
        bound was skipped (at exit, the last snap goes regardless)."""
        counters, pending = pool.counters()
        rows, overflow = pool.drain()
        workers, used = self._workers(pool, counters["running"])
        ex = pool.executor()
        broken = getattr(ex, "_broken", None) if ex is not None else None
        queue = []
        for task, entry in pending:
            queue.append([task, entry[0], 0, entry[1]])
            used.add(entry[0])
        for r in rows:
            used.add(r[0][6])
        used.discard(0)
        chunks = [rows[i:i + ROWS_PER_FRAME]
                  for i in range(0, len(rows), ROWS_PER_FRAME)] or [[]]
        encoded = []
        for chunk in chunks:
            texts = []
            for i, (row, args, res, err) in enumerate(chunk):
                if args or res is not None or err:
                    texts.append([i, args, res, err])
            encoded.append((cbor.Raw(cbor.encode([r[0] for r in chunk])),
                            cbor.Raw(cbor.encode(texts))))
        queue_raw = cbor.Raw(cbor.encode(queue))
        workers_raw = cbor.Raw(cbor.encode(workers))
        extra = {}
        if broken:
            extra["broken"] = broken if isinstance(broken, str) \
                else "the pool is broken"
        shutdown = bool(pool.shutdown or ex is None)
        everyone = True
        for c in viewers:
            if len(c.out) > self.out_bound and not final:
                c.lost += len(rows) + overflow
                everyone = False
                continue
            c.lost += overflow
            names = {}
            for i in used:
                if i not in c.names_sent:
                    names[i] = name_text(i)
            c.names_sent.update(names)
            for rows_raw, texts_raw in encoded:
                self._send(c, wire.encode_frame(
                    "snap", pool=pool.id, time=now, counters=counters,
                    max_workers=pool.max_workers, paused=False,
                    shutdown=shutdown, queue=queue_raw, workers=workers_raw,
                    names=names, rows=rows_raw, texts=texts_raw, lost=c.lost,
                    **extra))
                names = {}
                if c not in self.conns:
                    break
        return everyone

    def _workers(self, pool, running):
        out = []
        used = set()
        if pool.is_process:
            ex = pool.executor()
            live = set()
            if ex is not None:
                procs = getattr(ex, "_processes", None) or {}
                try:
                    live = set(list(procs))
                except RuntimeError:       # changed while we read it
                    live = set(w.pid for w in pool.workers if not w.ended)
            with pool.lock:
                for pid in sorted(live):
                    pool.process_worker(pid)
                workers = list(pool.workers)
            for w in workers:
                if w.ended:
                    continue
                if w.pid in live:
                    # Which worker runs what is known only when results
                    # come back: the first `running` live workers show as
                    # running (docs/attach.md, Python).
                    state = W_RUNNING if running > 0 else W_IDLE
                    running -= 1
                else:
                    state = W_RETIRED
                    w.ended = True
                out.append(_worker_map(w, state, 0, 0, 0))
        else:
            for w in list(pool.workers):
                if w.ended:
                    continue
                task = w.task
                name, start = (w.task_name, w.task_start) if task else (0, 0)
                if w.thread is not None and not w.thread.is_alive():
                    state = W_RETIRED
                    w.ended = True
                    task = name = start = 0
                else:
                    state = W_RUNNING if task else W_IDLE
                if name:
                    used.add(name)
                out.append(_worker_map(w, state, task, name, start))
        return out, used


def _worker_map(w, state, task, name, start):
    return {"index": w.index, "name": w.name, "pid": w.pid, "tid": w.tid,
            "state": state, "task": task, "task_name": name,
            "task_start": start, "progress": -1.0, "done": w.done,
            "busy_ns": w.busy_ns, "cpu_ns": w.cpu_ns, "core": -1,
            "gil": False}


def _close_quietly(s):
    if s is not None:
        try:
            s.close()
        except OSError:
            pass
