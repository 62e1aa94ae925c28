"""Finding things inside msgpack bytes without unpacking them.

A checkpoint is one msgpack map whose payload (another map, holding the arrays) sits in a bin.
Unpacking it all to reach one small field would copy every array; these functions instead step
over each object by the lengths its header gives, so a reader can take the few values it wants,
or take arrays straight from the file's bytes into memory of its choosing. Offsets in, offsets
out; every length is checked against the end of the bytes, so damage raises `Malformed`.
"""
import struct

import msgpack


class Malformed(ValueError):
    """The bytes are not the msgpack expected here."""


def map_entries(data, at, limit=None, all_keys=False):
    """{key: (start, end) of its value} of the map at `at` (ending by `limit`): its str keys,
    or with all_keys every key (an int, say) but one that is itself a container."""
    limit = len(data) if limit is None else limit
    count, at = _container(data, at, maps=True)
    entries = {}
    for _ in range(count):
        key_end = object_end(data, at, limit)
        key = msgpack.unpackb(data[at:key_end], raw=False, strict_map_key=False)
        value_end = object_end(data, key_end, limit)
        if isinstance(key, str) or (all_keys and not isinstance(key, (list, dict))):
            entries[key] = (key_end, value_end)
        elif all_keys:
            raise Malformed(f"a map key of type {type(key).__name__}")
        at = value_end
    return entries


def bin_bounds(data, bounds):
    """(start, end) of the bytes of the bin at bounds[0]."""
    at, end = bounds
    kind = data[at]
    width = {0xC4: 1, 0xC5: 2, 0xC6: 4}.get(kind)
    if width is None:
        raise Malformed("payload is not a bin")
    return at + 1 + width, end


# First byte of a map (True) or array (False) -> (fix range, {16/32-bit header byte: count format}).
_CONTAINERS = {True: ((0x80, 0x8F), {0xDE: ">H", 0xDF: ">I"}), False: ((0x90, 0x9F), {0xDC: ">H", 0xDD: ">I"})}


def _container(data, at, maps):
    """(entry count, offset of the first entry) of the map (or array) at `at`."""
    b = data[at]
    (low, high), wide = _CONTAINERS[maps]
    if low <= b <= high:
        return b & 0x0F, at + 1
    if b in wide:
        return struct.unpack_from(wide[b], data, at + 1)[0], at + 1 + struct.calcsize(wide[b])
    raise Malformed("not a map" if maps else "not an array")


# Objects whose length is in the first byte alone: (first byte range) -> total size.
_FIXED = {0xC0: 1, 0xC2: 1, 0xC3: 1, 0xCA: 5, 0xCB: 9, 0xCC: 2, 0xCD: 3, 0xCE: 5, 0xCF: 9,
          0xD0: 2, 0xD1: 3, 0xD2: 5, 0xD3: 9, 0xD4: 3, 0xD5: 4, 0xD6: 6, 0xD7: 10, 0xD8: 18}
# Objects with a length field: first byte -> (length width, bytes between the field and the data).
_SIZED = {0xC4: (1, 0), 0xC5: (2, 0), 0xC6: (4, 0), 0xC7: (1, 1), 0xC8: (2, 1), 0xC9: (4, 1),
          0xD9: (1, 0), 0xDA: (2, 0), 0xDB: (4, 0)}
_WIDTH = {1: ">B", 2: ">H", 4: ">I"}


def object_end(data, at, limit, depth=0):
    """Offset just past the msgpack object that starts at `at`; never reads past `limit`."""
    if depth > 256 or at >= limit:
        raise Malformed("too deep or past the end")
    b = data[at]
    if b <= 0x7F or b >= 0xE0:                      # positive / negative fixint
        end = at + 1
    elif 0xA0 <= b <= 0xBF:                         # fixstr
        end = at + 1 + (b & 0x1F)
    elif b in _FIXED:
        end = at + _FIXED[b]
    elif b in _SIZED:
        width, extra = _SIZED[b]
        end = at + 1 + width + extra + struct.unpack_from(_WIDTH[width], data, at + 1)[0]
    elif 0x80 <= b <= 0x8F or b in (0xDE, 0xDF) or 0x90 <= b <= 0x9F or b in (0xDC, 0xDD):
        maps = 0x80 <= b <= 0x8F or b in (0xDE, 0xDF)
        count, end = _container(data, at, maps)
        for _ in range(count * (2 if maps else 1)):
            end = object_end(data, end, limit, depth + 1)
    else:                                           # 0xC1: never used
        raise Malformed(f"byte {b:#x} at {at}")
    if end > limit:
        raise Malformed("runs past the end")
    return end


def ext_bounds(data, at, limit):
    """(type code, start, end) of the data of the ext object at `at`."""
    b = data[at]
    fixed = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}.get(b)
    if fixed is not None:
        start, length = at + 2, fixed
    elif b in (0xC7, 0xC8, 0xC9):
        width = {0xC7: 1, 0xC8: 2, 0xC9: 4}[b]
        length = struct.unpack_from(_WIDTH[width], data, at + 1)[0]
        start = at + 2 + width
    else:
        raise Malformed(f"byte {b:#x} at {at} is not an ext")
    if start + length > limit:
        raise Malformed("ext runs past the end")
    return struct.unpack_from(">b", data, start - 1)[0], start, start + length
