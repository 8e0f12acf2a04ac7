"""The attach protocol's plumbing (docs/attach.md): where sockets live,
who may connect, and frames (u32 big-endian length + CBOR map)."""

import os
import socket
import stat
import struct

from . import cbor

PROTOCOL_VERSION = 1
PUBLISHER_FRAME_LIMIT = 64 * 1024        # bytes a publisher accepts in a frame
VIEWER_FRAME_LIMIT = 16 * 1024 * 1024    # bytes a viewer accepts in a frame

_LEN = struct.Struct(">I")


class FrameError(ValueError):
    """A frame that breaks the protocol; the message says why."""


def encode_frame(msg_type, **fields):
    """One frame: {"v": 1, "t": msg_type, **fields}, length-prefixed."""
    body = {"v": PROTOCOL_VERSION, "t": msg_type}
    body.update(fields)
    payload = cbor.encode(body)
    return _LEN.pack(len(payload)) + payload


def frame_bytes(payload):
    """Length-prefix an already encoded payload."""
    return _LEN.pack(len(payload)) + payload


def split_frames(buf, limit):
    """Take the complete frames at the front of bytearray buf (consumed).

    Returns (payloads, error): the payloads (bytes) in order, and None or
    why the next frame is refused (it announces more than limit bytes; the
    frames before it are still returned)."""
    out = []
    pos = 0
    n = len(buf)
    err = None
    while n - pos >= 4:
        (length,) = _LEN.unpack_from(buf, pos)
        if length > limit:
            err = ("frame of %d bytes is over the limit of %d bytes"
                   % (length, limit))
            break
        if n - pos - 4 < length:
            break
        out.append(bytes(buf[pos + 4:pos + 4 + length]))
        pos += 4 + length
    del buf[:pos]
    return out, err


def parse_payload(payload):
    """Decode a payload into its map; check v and t. Raises FrameError."""
    try:
        msg = cbor.decode(payload, max_depth=16)
    except ValueError as e:
        raise FrameError("malformed CBOR: %s" % e)
    if not isinstance(msg, dict):
        raise FrameError("the payload is not a CBOR map")
    v = msg.get("v")
    if type(v) is not int or v != PROTOCOL_VERSION:
        raise FrameError("unsupported protocol version %r (this publisher "
                         "speaks v=1)" % (v,))
    t = msg.get("t")
    if type(t) is not str:
        raise FrameError("the frame has no text field \"t\"")
    return msg


# ------------------------------------------------------------ directories

def attach_dir(environ=None):
    """The directory where publishers put their sockets."""
    env = os.environ if environ is None else environ
    d = env.get("POOLSCOPE_ATTACH_DIR")
    if d:
        return d
    xdg = env.get("XDG_RUNTIME_DIR")
    if xdg:
        return os.path.join(xdg, "poolscope")
    return "/tmp/poolscope-%d" % os.getuid()


def check_dir(path):
    """None if path is a directory safe to publish in, else why not: it must
    be a real directory (not a symlink), owned by this user, with no
    group/other permission bits."""
    try:
        st = os.lstat(path)
    except OSError as e:
        return "cannot inspect the attach directory %s: %s" % (path, e.strerror)
    if not stat.S_ISDIR(st.st_mode):
        return "the attach directory %s is not a directory" % path
    if st.st_uid != os.getuid():
        return ("the attach directory %s is owned by uid %d, not by this user "
                "(uid %d)" % (path, st.st_uid, os.getuid()))
    if st.st_mode & 0o077:
        return ("the attach directory %s has mode %04o; it must have no "
                "group/other permissions (chmod 700)"
                % (path, stat.S_IMODE(st.st_mode)))
    return None


def prepare_dir(path):
    """Create path with mode 0700 if missing, then check it. Returns None
    when it may be used, else the reason it may not."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except FileNotFoundError:
        try:
            os.makedirs(path, 0o700)
        except OSError as e:
            return "cannot create the attach directory %s: %s" % (
                path, e.strerror)
    except OSError as e:
        return "cannot create the attach directory %s: %s" % (path, e.strerror)
    return check_dir(path)


def socket_path(directory, pid=None):
    return os.path.join(directory, "%d.sock" % (os.getpid() if pid is None
                                                 else pid))


# ------------------------------------------------------------------ peers

# struct ucred { pid_t pid; uid_t uid; gid_t gid; }: three 4-byte ints
_UCRED = struct.Struct("iII")


def peer_credentials(sock):
    """(pid, uid, gid) of the process at the other end of a Unix socket."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    return _UCRED.unpack(raw)


def peer_refusal(peer_uid, own_uid):
    """None when a viewer of uid peer_uid may watch a publisher of uid
    own_uid (same uid only, root included: docs/attach.md), else the text
    of the error frame."""
    if peer_uid == own_uid:
        return None
    return ("refused: the viewer runs as uid %d and this program as uid %d; "
            "only the same user may watch it" % (peer_uid, own_uid))
