"""A small CBOR (RFC 8949) encoder and decoder, standard library only.

Encoder: unsigned and negative integers up to 64 bits, text, bytes, floats
(always as 64-bit doubles), booleans, null, arrays (list/tuple), maps (dict,
keys in insertion order) and `Raw`, bytes that are already CBOR and are
copied as they are (the publisher encodes a snap's rows once for every
viewer).

Decoder: everything the encoder writes plus what RFC 8949 appendix A shows
(half/single floats, indefinite lengths, tags, simple values), with limits:
it never reads past the end of its input, never allocates more than the
input could hold, refuses nesting deeper than `max_depth` and trailing bytes.
Every refusal is a `CBORDecodeError` (a ValueError) saying what and where.
"""

import struct

__all__ = ["encode", "decode", "Raw", "Tag", "Simple", "UNDEFINED",
           "CBORDecodeError"]

_U64 = 1 << 64


class CBORDecodeError(ValueError):
    """The bytes are not well-formed CBOR (or exceed a limit)."""


class Raw(object):
    """Bytes that are already one encoded CBOR item: copied verbatim."""
    __slots__ = ("data",)

    def __init__(self, data):
        self.data = bytes(data)


class Tag(object):
    """A tagged item as decoded: Tag(2, b'...') for a bignum, etc."""
    __slots__ = ("tag", "value")

    def __init__(self, tag, value):
        self.tag = tag
        self.value = value

    def __eq__(self, other):
        return (isinstance(other, Tag) and other.tag == self.tag
                and other.value == self.value)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash((self.tag, repr(self.value)))

    def __repr__(self):
        return "Tag(%d, %r)" % (self.tag, self.value)


class Simple(object):
    """A simple value other than false/true/null/undefined."""
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return isinstance(other, Simple) and other.value == self.value

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(("simple", self.value))

    def __repr__(self):
        return "Simple(%d)" % self.value


class _Undefined(object):
    __slots__ = ()

    def __repr__(self):
        return "UNDEFINED"


UNDEFINED = _Undefined()

# ---------------------------------------------------------------- encoding

_pack_B = struct.Struct(">B").pack
_pack_BB = struct.Struct(">BB").pack
_pack_BH = struct.Struct(">BH").pack
_pack_BI = struct.Struct(">BI").pack
_pack_BQ = struct.Struct(">BQ").pack
_pack_Bd = struct.Struct(">Bd").pack


def _head(out, major, n):
    mt = major << 5
    if n < 24:
        out.append(mt | n)
    elif n < 0x100:
        out += _pack_BB(mt | 24, n)
    elif n < 0x10000:
        out += _pack_BH(mt | 25, n)
    elif n < 0x100000000:
        out += _pack_BI(mt | 26, n)
    elif n < _U64:
        out += _pack_BQ(mt | 27, n)
    else:
        raise ValueError("CBOR: integer %d does not fit in 64 bits" % n)


def _enc(out, obj, depth):
    if depth > 200:
        raise ValueError("CBOR: nesting too deep to encode")
    t = type(obj)
    if t is str:
        b = obj.encode("utf-8")
        _head(out, 3, len(b))
        out += b
    elif t is bool:
        out.append(0xf5 if obj else 0xf4)
    elif t is int:
        if obj >= 0:
            _head(out, 0, obj)
        else:
            _head(out, 1, -1 - obj)
    elif obj is None:
        out.append(0xf6)
    elif t is float:
        out += _pack_Bd(0xfb, obj)
    elif t is list or t is tuple:
        _head(out, 4, len(obj))
        for item in obj:
            _enc(out, item, depth + 1)
    elif t is dict:
        _head(out, 5, len(obj))
        for k, v in obj.items():
            _enc(out, k, depth + 1)
            _enc(out, v, depth + 1)
    elif t is Raw:
        out += obj.data
    elif isinstance(obj, (bytes, bytearray, memoryview)):
        b = bytes(obj)
        _head(out, 2, len(b))
        out += b
    elif isinstance(obj, bool):
        out.append(0xf5 if obj else 0xf4)
    elif isinstance(obj, int):
        _enc(out, int(obj), depth)
    elif isinstance(obj, float):
        out += _pack_Bd(0xfb, float(obj))
    elif isinstance(obj, str):
        _enc(out, str(obj), depth)
    elif isinstance(obj, (list, tuple)):
        _enc(out, list(obj), depth)
    elif isinstance(obj, dict):
        _enc(out, dict(obj), depth)
    elif isinstance(obj, Tag):
        _head(out, 6, obj.tag)
        _enc(out, obj.value, depth + 1)
    elif obj is UNDEFINED:
        out.append(0xf7)
    elif isinstance(obj, Simple):
        if obj.value < 24:
            out.append(0xe0 | obj.value)
        else:
            out += _pack_BB(0xf8, obj.value)
    else:
        raise TypeError("CBOR: cannot encode %s" % type(obj).__name__)


def encode(obj):
    """Return the CBOR encoding of obj as bytes."""
    out = bytearray()
    _enc(out, obj, 0)
    return bytes(out)


def encode_into(out, obj):
    """Append the CBOR encoding of obj to the bytearray out."""
    _enc(out, obj, 0)


# ---------------------------------------------------------------- decoding

_BREAK = object()
_unpack_H = struct.Struct(">H").unpack_from
_unpack_I = struct.Struct(">I").unpack_from
_unpack_Q = struct.Struct(">Q").unpack_from
_unpack_e = struct.Struct(">e").unpack_from
_unpack_f = struct.Struct(">f").unpack_from
_unpack_d = struct.Struct(">d").unpack_from


class _Decoder(object):
    __slots__ = ("data", "pos", "max_depth")

    def __init__(self, data, max_depth):
        self.data = data
        self.pos = 0
        self.max_depth = max_depth

    def fail(self, what):
        raise CBORDecodeError("CBOR: %s at byte %d" % (what, self.pos))

    def need(self, n):
        if n > len(self.data) - self.pos:
            self.fail("truncated input (%d more bytes needed, %d left)"
                      % (n, len(self.data) - self.pos))

    def argument(self, info):
        d = self.data
        p = self.pos
        if info < 24:
            return info
        if info == 24:
            self.need(1)
            self.pos = p + 1
            return d[p]
        if info == 25:
            self.need(2)
            self.pos = p + 2
            return _unpack_H(d, p)[0]
        if info == 26:
            self.need(4)
            self.pos = p + 4
            return _unpack_I(d, p)[0]
        if info == 27:
            self.need(8)
            self.pos = p + 8
            return _unpack_Q(d, p)[0]
        self.fail("reserved additional information %d" % info)

    def chunks(self, major):
        # Indefinite-length byte or text string: definite chunks of the same
        # major type up to a break.
        parts = []
        while True:
            self.need(1)
            ib = self.data[self.pos]
            self.pos += 1
            if ib == 0xff:
                break
            if ib >> 5 != major or (ib & 0x1f) == 31:
                self.fail("bad chunk in an indefinite-length string")
            n = self.argument(ib & 0x1f)
            self.need(n)
            parts.append(self.data[self.pos:self.pos + n])
            self.pos += n
        return b"".join(parts)

    def item(self, depth):
        if depth > self.max_depth:
            self.fail("nesting deeper than %d" % self.max_depth)
        self.need(1)
        ib = self.data[self.pos]
        self.pos += 1
        major = ib >> 5
        info = ib & 0x1f
        if major == 7:
            return self.simple(info)
        if info == 31:
            if major == 2:
                return bytes(self.chunks(2))
            if major == 3:
                return self.text(self.chunks(3))
            if major == 4:
                out = []
                while True:
                    v = self.item_or_break(depth + 1)
                    if v is _BREAK:
                        return out
                    out.append(v)
            if major == 5:
                out = {}
                while True:
                    k = self.item_or_break(depth + 1)
                    if k is _BREAK:
                        return out
                    self.key_check(k)
                    out[k] = self.item(depth + 1)
            self.fail("indefinite length for major type %d" % major)
        n = self.argument(info)
        if major == 0:
            return n
        if major == 1:
            return -1 - n
        if major == 2 or major == 3:
            self.need(n)
            b = self.data[self.pos:self.pos + n]
            self.pos += n
            return bytes(b) if major == 2 else self.text(b)
        if major == 4:
            # Each element takes at least one byte: refuse impossible counts
            # before allocating anything.
            self.need(n)
            return [self.item(depth + 1) for _ in range(n)]
        if major == 5:
            self.need(2 * n)
            out = {}
            for _ in range(n):
                k = self.item(depth + 1)
                self.key_check(k)
                out[k] = self.item(depth + 1)
            return out
        # major 6: tag
        return Tag(n, self.item(depth + 1))

    def item_or_break(self, depth):
        self.need(1)
        if self.data[self.pos] == 0xff:
            self.pos += 1
            return _BREAK
        return self.item(depth)

    def key_check(self, k):
        if isinstance(k, (list, dict)):
            self.fail("map key of type %s" % type(k).__name__)

    def text(self, b):
        try:
            return bytes(b).decode("utf-8")
        except UnicodeDecodeError:
            self.fail("text string that is not UTF-8")

    def simple(self, info):
        if info < 20:
            return Simple(info)
        if info == 20:
            return False
        if info == 21:
            return True
        if info == 22:
            return None
        if info == 23:
            return UNDEFINED
        d = self.data
        p = self.pos
        if info == 24:
            self.need(1)
            self.pos += 1
            if d[p] < 32:
                self.fail("simple value %d in two bytes" % d[p])
            return Simple(d[p])
        if info == 25:
            self.need(2)
            self.pos += 2
            return _unpack_e(d, p)[0]
        if info == 26:
            self.need(4)
            self.pos += 4
            return _unpack_f(d, p)[0]
        if info == 27:
            self.need(8)
            self.pos += 8
            return _unpack_d(d, p)[0]
        if info == 31:
            self.fail("unexpected break")
        self.fail("reserved simple value %d" % info)


def decode(data, max_depth=64):
    """Decode exactly one CBOR item from data (bytes-like); refuse trailing
    bytes. Raises CBORDecodeError on anything malformed."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("CBOR: decode() wants bytes")
    dec = _Decoder(bytes(data), max_depth)
    try:
        value = dec.item(0)
    except RecursionError:
        raise CBORDecodeError("CBOR: nesting too deep")
    if dec.pos != len(dec.data):
        raise CBORDecodeError("CBOR: %d trailing bytes after the item"
                              % (len(dec.data) - dec.pos))
    return value
