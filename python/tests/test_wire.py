"""Framing, frame validation, the attach directory rules, the peer check."""

import os
import shutil
import stat
import struct
import tempfile
import unittest

from poolscope_probe import cbor, wire


class Framing(unittest.TestCase):
    def test_frame_layout(self):
        f = wire.encode_frame("watch", pool=3)
        (n,) = struct.unpack(">I", f[:4])
        self.assertEqual(n, len(f) - 4)
        self.assertEqual(cbor.decode(f[4:]), {"v": 1, "t": "watch", "pool": 3})

    def test_split_partial_and_many(self):
        a = wire.encode_frame("hello", viewer="x")
        b = wire.encode_frame("watch", pool=1)
        buf = bytearray(a + b[:3])
        got, err = wire.split_frames(buf, 65536)
        self.assertIsNone(err)
        self.assertEqual([cbor.decode(p)["t"] for p in got], ["hello"])
        self.assertEqual(bytes(buf), b[:3])
        buf += b[3:]
        got, err = wire.split_frames(buf, 65536)
        self.assertEqual([cbor.decode(p)["t"] for p in got], ["watch"])
        self.assertEqual(len(buf), 0)

    def test_oversized_refused_before_it_arrives(self):
        ok = wire.encode_frame("hello")
        buf = bytearray(ok + struct.pack(">I", 65537) + b"\0" * 10)
        got, err = wire.split_frames(buf, wire.PUBLISHER_FRAME_LIMIT)
        self.assertEqual(len(got), 1)           # the frame before still counts
        self.assertIn("65537", err)
        buf = bytearray(struct.pack(">I", 65536) + b"\0" * 10)
        self.assertIsNone(wire.split_frames(buf, 65536)[1])   # at the limit

    def test_parse_payload(self):
        self.assertEqual(wire.parse_payload(cbor.encode({"v": 1, "t": "x"}))["t"],
                         "x")
        bad = [b"\xff", cbor.encode([1]), cbor.encode({"t": "watch"}),
               cbor.encode({"v": 2, "t": "watch"}),
               cbor.encode({"v": 1.0, "t": "watch"}),
               cbor.encode({"v": 1, "t": 5}), cbor.encode({"v": 1}),
               cbor.encode({"v": 1, "t": "x"}) + b"\0"]
        for p in bad:
            with self.subTest(p=p):
                with self.assertRaises(wire.FrameError):
                    wire.parse_payload(p)


class Directories(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_choice(self):
        self.assertEqual(wire.attach_dir({"POOLSCOPE_ATTACH_DIR": "/a",
                                          "XDG_RUNTIME_DIR": "/r"}), "/a")
        self.assertEqual(wire.attach_dir({"XDG_RUNTIME_DIR": "/r"}),
                         "/r/poolscope")
        self.assertEqual(wire.attach_dir({}), "/tmp/poolscope-%d" % os.getuid())

    def test_created_0700(self):
        d = os.path.join(self.tmp, "a", "b")
        self.assertIsNone(wire.prepare_dir(d))
        self.assertEqual(stat.S_IMODE(os.stat(d).st_mode), 0o700)
        self.assertIsNone(wire.prepare_dir(d))    # exists and fine

    def test_unsafe_refused(self):
        d = os.path.join(self.tmp, "open")
        os.mkdir(d)
        os.chmod(d, 0o755)
        why = wire.prepare_dir(d)
        self.assertIn(d, why)
        self.assertIn("0755", why)
        f = os.path.join(self.tmp, "file")
        open(f, "w").close()
        self.assertIn("not a directory", wire.prepare_dir(f))
        link = os.path.join(self.tmp, "link")
        safe = os.path.join(self.tmp, "safe")
        os.mkdir(safe, 0o700)
        os.symlink(safe, link)
        self.assertIn("not a directory", wire.prepare_dir(link))

    @unittest.skipUnless(os.getuid() == 0, "needs root to chown")
    def test_other_owner_refused(self):
        d = os.path.join(self.tmp, "theirs")
        os.mkdir(d, 0o700)
        os.chown(d, 65534, 65534)
        self.assertIn("owned by uid 65534", wire.prepare_dir(d))


class Peers(unittest.TestCase):
    def test_same_uid_only(self):
        self.assertIsNone(wire.peer_refusal(1000, 1000))
        self.assertIsNone(wire.peer_refusal(0, 0))
        self.assertIn("uid 1001", wire.peer_refusal(1001, 1000))
        self.assertIsNotNone(wire.peer_refusal(0, 1000))    # root too
        self.assertIsNotNone(wire.peer_refusal(1000, 0))

    def test_credentials_of_a_socketpair(self):
        import socket
        a, b = socket.socketpair()
        try:
            pid, uid, gid = wire.peer_credentials(a)
            self.assertEqual((pid, uid, gid),
                             (os.getpid(), os.getuid(), os.getgid()))
        finally:
            a.close()
            b.close()


if __name__ == "__main__":
    unittest.main()
