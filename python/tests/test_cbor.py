"""CBOR codec: RFC 8949 appendix A vectors, round trips, malformed input."""

import math
import unittest

from poolscope_probe import cbor
from poolscope_probe.cbor import Tag, Simple, UNDEFINED, CBORDecodeError

# (value, hex) pairs from RFC 8949 appendix A that our encoder produces
# exactly (floats: only those whose preferred encoding is 64-bit, since the
# encoder always writes doubles).
ENCODE_VECTORS = [
    (0, "00"), (1, "01"), (10, "0a"), (23, "17"), (24, "1818"), (25, "1819"),
    (100, "1864"), (1000, "1903e8"), (1000000, "1a000f4240"),
    (1000000000000, "1b000000e8d4a51000"),
    (18446744073709551615, "1bffffffffffffffff"),
    (-18446744073709551616, "3bffffffffffffffff"),
    (-1, "20"), (-10, "29"), (-100, "3863"), (-1000, "3903e7"),
    (1.1, "fb3ff199999999999a"), (1.0e300, "fb7e37e43c8800759c"),
    (-4.1, "fbc010666666666666"),
    (False, "f4"), (True, "f5"), (None, "f6"),
    (b"", "40"), (b"\x01\x02\x03\x04", "4401020304"),
    ("", "60"), ("a", "6161"), ("IETF", "6449455446"), ("\"\\", "62225c"),
    ("\u00fc", "62c3bc"), ("\u6c34", "63e6b0b4"),
    ("\U00010151", "64f0908591"),
    ([], "80"), ([1, 2, 3], "83010203"),
    ([1, [2, 3], [4, 5]], "8301820203820405"),
    (list(range(1, 26)),
     "98190102030405060708090a0b0c0d0e0f101112131415161718181819"),
    ({}, "a0"), ({1: 2, 3: 4}, "a201020304"),
    ({"a": 1, "b": [2, 3]}, "a26161016162820203"),
    (["a", {"b": "c"}], "826161a161626163"),
    ({"a": "A", "b": "B", "c": "C", "d": "D", "e": "E"},
     "a56161614161626142616361436164614461656145"),
    (Tag(1, 1363896240), "c11a514b67b0"),
    (Tag(0, "2013-03-21T20:04:00Z"),
     "c074323031332d30332d32315432303a30343a30305a"),
    (Tag(23, b"\x01\x02\x03\x04"), "d74401020304"),
    (Tag(32, "http://www.example.com"),
     "d82076687474703a2f2f7777772e6578616d706c652e636f6d"),
    (UNDEFINED, "f7"), (Simple(16), "f0"), (Simple(255), "f8ff"),
]

# decode-only vectors: shorter floats, indefinite lengths, bignum tag
DECODE_VECTORS = [
    ("f90000", 0.0), ("f98000", -0.0), ("f93c00", 1.0), ("f93e00", 1.5),
    ("f97bff", 65504.0), ("fa47c35000", 100000.0),
    ("fa7f7fffff", 3.4028234663852886e+38), ("f90001", 5.960464477539063e-8),
    ("f90400", 0.00006103515625), ("f9c400", -4.0),
    ("f97c00", float("inf")), ("f9fc00", float("-inf")),
    ("fa7f800000", float("inf")), ("fb7ff0000000000000", float("inf")),
    ("c249010000000000000000", Tag(2, b"\x01" + b"\x00" * 8)),
    ("c1fb41d452d9ec200000", Tag(1, 1363896240.5)),
    ("d818456449455446", Tag(24, b"dIETF")),
    ("5f42010243030405ff", b"\x01\x02\x03\x04\x05"),
    ("7f657374726561646d696e67ff", "streaming"),
    ("9fff", []), ("9f018202039f0405ffff", [1, [2, 3], [4, 5]]),
    ("9f01820203820405ff", [1, [2, 3], [4, 5]]),
    ("83018202039f0405ff", [1, [2, 3], [4, 5]]),
    ("83019f0203ff820405", [1, [2, 3], [4, 5]]),
    ("9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff",
     list(range(1, 26))),
    ("bf61610161629f0203ffff", {"a": 1, "b": [2, 3]}),
    ("826161bf61626163ff", ["a", {"b": "c"}]),
    ("bf6346756ef563416d7421ff", {"Fun": True, "Amt": -2}),
]

MALFORMED = [
    "", "18", "1a0000", "1b00000000", "62c3", "62c328",   # truncated / bad utf-8
    "83010203ff", "8301", "a1", "a20102",                 # trailing / short
    "1c", "3e", "5c", "ff", "f818", "1f", "3f", "df",     # reserved / break
    "5f01ff", "7f4161ff", "9f01", "bf01",                 # bad indefinite
    "a18001", "a1a00102",                                  # unhashable keys
    "9bffffffffffffffff", "5bffffffffffffffff00",          # absurd lengths
]


class CborVectors(unittest.TestCase):
    def test_encode_rfc_vectors(self):
        for value, hexa in ENCODE_VECTORS:
            with self.subTest(value=value):
                self.assertEqual(cbor.encode(value).hex(), hexa)

    def test_decode_rfc_vectors(self):
        for value, hexa in ENCODE_VECTORS:
            with self.subTest(hex=hexa):
                self.assertEqual(cbor.decode(bytes.fromhex(hexa)), value)
        for hexa, value in DECODE_VECTORS:
            with self.subTest(hex=hexa):
                got = cbor.decode(bytes.fromhex(hexa))
                self.assertEqual(got, value)
                if isinstance(value, float) and value == 0:
                    self.assertEqual(math.copysign(1, got),
                                     math.copysign(1, value))

    def test_nan(self):
        for hexa in ("f97e00", "fa7fc00000", "fb7ff8000000000000"):
            self.assertTrue(math.isnan(cbor.decode(bytes.fromhex(hexa))))
        self.assertTrue(math.isnan(cbor.decode(cbor.encode(float("nan")))))

    def test_round_trips(self):
        values = [
            0, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**63,
            2**64 - 1, -1, -24, -25, -256, -257, -2**63, -2**64,
            0.0, -0.0, 1e-300, 1.5, -2.25, float("inf"), True, False, None,
            "", "h\u00e9llo \u6c34 \U0001f600", b"", bytes(range(256)),
            [], [[[]]], {"v": 1, "t": "snap", "rows": [[1, 2, 3.5, True]]},
            {1: "one", "two": 2, -3: [None, {"x": b"y"}]},
            "x" * 70000, list(range(1000)),
        ]
        for v in values:
            with self.subTest(v=repr(v)[:40]):
                self.assertEqual(cbor.decode(cbor.encode(v)), v)
        self.assertEqual(cbor.decode(cbor.encode((1, 2))), [1, 2])

    def test_raw_is_copied(self):
        inner = cbor.encode([1, 2])
        self.assertEqual(cbor.encode({"a": cbor.Raw(inner)}),
                         cbor.encode({"a": [1, 2]}))

    def test_encode_refuses(self):
        with self.assertRaises(ValueError):
            cbor.encode(2**64)
        with self.assertRaises(ValueError):
            cbor.encode(-2**64 - 1)
        with self.assertRaises(TypeError):
            cbor.encode(object())

    def test_malformed(self):
        for hexa in MALFORMED:
            with self.subTest(hex=hexa):
                with self.assertRaises(CBORDecodeError):
                    cbor.decode(bytes.fromhex(hexa))

    def test_depth_limit(self):
        deep = b"\x81" * 100 + b"\x00"
        with self.assertRaises(CBORDecodeError):
            cbor.decode(deep, max_depth=16)
        self.assertEqual(cbor.decode(b"\x81" * 10 + b"\x00", max_depth=16),
                         [[[[[[[[[[0]]]]]]]]]])


if __name__ == "__main__":
    unittest.main()
