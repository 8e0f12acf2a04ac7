"""poolscope_probe: make a Python program's concurrent.futures pools and
asyncio's run_in_executor visible to PoolScope (docs/attach.md).

    python3 -m poolscope_probe script.py args...

or, from code:

    import poolscope_probe
    poolscope_probe.enable()

Standard library only; Python 3.8 or later; Linux (Unix sockets with
SO_PEERCRED). The probe never raises into the program and never makes it
wait for a viewer (except when POOLSCOPE_PROBE_WAIT=1 asks it to).
"""

import atexit
import os
import sys
import threading

from . import _instrument
from ._instrument import registry
from ._publisher import Publisher

__all__ = ["enable", "disable", "enabled", "socket_path"]
__version__ = "1.0"

_lock = threading.Lock()
_publisher = None
_atexit_registered = False
_fork_hook_registered = False


def _wait_timeout():
    try:
        return float(os.environ.get("POOLSCOPE_PROBE_WAIT_TIMEOUT", "30"))
    except ValueError:
        return 30.0


def _warn(text):
    try:
        sys.stderr.write("poolscope_probe: %s\n" % text)
        sys.stderr.flush()
    except Exception:
        pass


def enable(name=None):
    """Instrument the executors and publish them on <attach dir>/<pid>.sock.

    name: the program's name in the viewer (default: the script's basename).
    Returns True when publishing, False (with a message on stderr) when it
    cannot, e.g. an unsafe attach directory; the program goes on either way.

    POOLSCOPE_PROBE_WAIT=1: wait until a viewer connects, and at every new
    pool until a viewer watches it (at most POOLSCOPE_PROBE_WAIT_TIMEOUT
    seconds, default 30): so that a demo or a test sees every task."""
    global _publisher, _atexit_registered, _fork_hook_registered
    wait = os.environ.get("POOLSCOPE_PROBE_WAIT", "") not in ("", "0")
    with _lock:
        if _publisher is not None:
            return True
        if not name:
            argv0 = sys.argv[0] if sys.argv and sys.argv[0] else ""
            name = os.path.basename(argv0) if argv0 not in ("", "-c") \
                else "python"
        pub = Publisher(name)
        try:
            why = pub.start()
        except Exception as e:           # never crash the program
            why = "could not start: %r" % (e,)
        if why:
            _warn("not publishing: %s" % why)
            return False
        registry.wait_for_watch = _wait_timeout() if wait else None
        registry.wake = pub.wake
        _instrument.patch()
        _publisher = pub
        if not _atexit_registered:
            atexit.register(_at_exit)
            _atexit_registered = True
        if not _fork_hook_registered and hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_after_fork_in_child)
            _fork_hook_registered = True
    if wait:
        t = _wait_timeout()
        if not pub.connected.wait(t):
            _warn("no viewer connected within %g s (POOLSCOPE_PROBE_WAIT); "
                  "going on" % t)
    return True


def disable(reason="poolscope_probe.disable() was called"):
    """Stop publishing (viewers get `bye` with reason), remove the socket
    and put the original executor classes back."""
    global _publisher
    with _lock:
        pub, _publisher = _publisher, None
        _instrument.unpatch()
        registry.wait_for_watch = None
    if pub is not None:
        pub.stop(reason)


def enabled():
    return _publisher is not None


def socket_path():
    """The socket this process publishes on, or None."""
    pub = _publisher
    return pub.path if pub is not None else None


def _at_exit():
    try:
        disable("the program ended")
    except Exception:
        pass


def _after_fork_in_child():
    # A forked child (e.g. a ProcessPoolExecutor worker) is not the
    # publisher: it lets go of the parent's sockets and publishes nothing.
    global _publisher
    pub, _publisher = _publisher, None
    registry.wake = None
    registry.wait_for_watch = None
    if pub is not None:
        try:
            pub.forget_after_fork()
        except Exception:
            pass
