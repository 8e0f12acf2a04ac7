"""A fake viewer for the tests and the benchmark: our own client of the
attach protocol (docs/attach.md), independent of the publisher's code
except for the CBOR codec and the framing helpers."""

import os
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.dirname(HERE)
REPO = os.path.dirname(PYDIR)
if PYDIR not in sys.path:
    sys.path.insert(0, PYDIR)

from poolscope_probe import cbor  # noqa: E402

_LEN = struct.Struct(">I")


def wait_until(pred, timeout=10.0, interval=0.01, what="condition"):
    """Poll pred() until it is true; return its value or fail on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %gs waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


def frame(msg_type, **fields):
    body = {"v": 1, "t": msg_type}
    body.update(fields)
    payload = cbor.encode(body)
    return _LEN.pack(len(payload)) + payload


class Viewer(object):
    """A blocking client with a receive timeout."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = bytearray()
        self.eof = False

    def send(self, msg_type, **fields):
        self.sock.sendall(frame(msg_type, **fields))

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv(self):
        """The next frame as a dict, or None at EOF / reset."""
        while True:
            if len(self.buf) >= 4:
                (n,) = _LEN.unpack_from(self.buf, 0)
                if len(self.buf) >= 4 + n:
                    payload = bytes(self.buf[4:4 + n])
                    del self.buf[:4 + n]
                    return cbor.decode(payload)
            if self.eof:
                return None
            try:
                data = self.sock.recv(1 << 20)
            except ConnectionResetError:
                data = b""
            if not data:
                self.eof = True
            self.buf += data

    def recv_skipping_pools(self):
        """The next frame that is not a `pools` list (one may come after the
        hello at any time: the publisher says every change of its pools to
        every viewer, also a change it made before this viewer's hello)."""
        while True:
            m = self.recv()
            if m is None or m.get("t") != "pools":
                return m

    def close(self):
        self.sock.close()


class Collector(object):
    """Watches every pool a publisher lists, on a thread of its own, and
    keeps everything it receives until the connection ends."""

    def __init__(self, path, timeout=30.0, watch=True):
        self.viewer = Viewer(path, timeout)
        self.watch = watch
        self.hello = None
        self.frames = []
        self.pools = {}        # id -> pool map, every pool ever listed
        self.snaps = {}        # id -> [snap]
        self.rows = {}         # id -> [row]
        self.texts = {}        # id -> {task id: [args, result, error]}
        self.names = {0: "task"}
        self.bye = None
        self.errors = []
        self.replies = []
        self.lost = 0
        self.exc = None
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _watch_new(self, pools):
        for p in pools:
            if p["id"] not in self.pools:
                self.pools[p["id"]] = p
                if self.watch:
                    self.viewer.send("watch", pool=p["id"])

    def _run(self):
        try:
            while True:
                m = self.viewer.recv()
                if m is None:
                    break
                with self.lock:
                    self.frames.append(m)
                    t = m["t"]
                    if t == "hello":
                        self.hello = m
                        self.viewer.send("hello", viewer="test")
                        self._watch_new(m["pools"])
                    elif t == "pools":
                        self._watch_new(m["pools"])
                    elif t == "snap":
                        pid = m["pool"]
                        self.snaps.setdefault(pid, []).append(m)
                        self.names.update(m["names"])
                        rows = self.rows.setdefault(pid, [])
                        texts = self.texts.setdefault(pid, {})
                        for i, a, r, e in m["texts"]:
                            texts[m["rows"][i][0]] = [a, r, e]
                        rows.extend(m["rows"])
                        self.lost = max(self.lost, m["lost"])
                    elif t == "bye":
                        self.bye = m
                    elif t == "error":
                        self.errors.append(m)
                    elif t == "reply":
                        self.replies.append(m)
        except Exception as e:  # reported by the tests
            self.exc = e
        finally:
            self.viewer.close()
            self.done.set()

    def wait_done(self, timeout=30.0):
        if not self.done.wait(timeout):
            raise AssertionError("the publisher did not close in %gs" % timeout)
        if self.exc is not None:
            raise self.exc

    def last_counters(self, pid):
        return self.snaps[pid][-1]["counters"]

    def totals(self):
        tot = {"submitted": 0, "succeeded": 0, "failed": 0, "cancelled": 0}
        for pid, snaps in self.snaps.items():
            c = snaps[-1]["counters"]
            for k in tot:
                tot[k] += c[k]
        return tot


def probe_env(attach_dir, wait=True):
    env = dict(os.environ)
    env["POOLSCOPE_ATTACH_DIR"] = attach_dir
    env["PYTHONPATH"] = PYDIR + (os.pathsep + env["PYTHONPATH"]
                                 if env.get("PYTHONPATH") else "")
    if wait:
        env["POOLSCOPE_PROBE_WAIT"] = "1"
        env["POOLSCOPE_PROBE_WAIT_TIMEOUT"] = "20"
    else:
        env.pop("POOLSCOPE_PROBE_WAIT", None)
    env.pop("XDG_RUNTIME_DIR", None)
    return env


def start_probed(args, attach_dir, wait=True, **kw):
    """python3 -m poolscope_probe args... with its socket in attach_dir;
    returns (process, socket path) once the socket exists."""
    p = subprocess.Popen([sys.executable, "-m", "poolscope_probe"] + list(args),
                         env=probe_env(attach_dir, wait), cwd=REPO,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    path = os.path.join(attach_dir, "%d.sock" % p.pid)
    try:
        wait_until(lambda: os.path.exists(path) or p.poll() is not None,
                   timeout=20, what="the probe's socket")
    except AssertionError:
        p.kill()
        raise
    if not os.path.exists(path):
        out, err = p.communicate()
        raise AssertionError("the probed program ended early (rc %s): %s"
                             % (p.returncode, err.decode(errors="replace")))
    return p, path
