"""Checkpoint files: a safe msgpack codec for nested plain data and tensors. Never pickle.

Loading a checkpoint from a stranger must never run code, so the reader only ever builds plain
data (dict, list, str, int, float, bool, None, bytes) and tensors from dtype names, shapes and raw
bytes. Anything else in a file, and any damage to it, is a `UserError` naming the file.

File layout (version 1): one msgpack map, keys in this order

    {"format": "nnrun-checkpoint", "version": 1,
     "payload": <bin: the msgpack encoding of the payload>,
     "sha256": <str: hex sha256 of exactly those payload bytes>}

The payload is encoded separately and stored as a bin, so the checksum covers the bytes as written.
Inside the payload, arrays are msgpack ext types whose data is a small msgpack header
`[dtype name, [dims...]]` followed by the raw element bytes, C order, little-endian:

    ext 1  torch.Tensor   dtype names as in torch ("float32", "bfloat16", "bool", ...)
    ext 2  numpy.ndarray  dtype names as in numpy ("float32", "int64", "bool", ...)

What comes back from `read_checkpoint`:
- tensors come back as contiguous CPU `torch.Tensor`s (same dtype, shape and bits; `nn.Parameter`
  and `requires_grad` are not kept); numpy arrays come back as writable numpy arrays;
- tuples come back as lists (msgpack has one array type); bytearray comes back as bytes;
- numpy scalars (`np.float32(1.5)`, `np.int64(3)`, `np.bool_`) are stored as Python scalars;
- dict keys are str or int (torch optimizer state dicts use int keys) and keep their type.

Memory: writing streams each tensor's bytes straight to the file (a copy only for non-contiguous
or non-CPU tensors, one at a time); reading holds the file while it builds the tensors, each
copied once from the file's bytes (nnrun/msgpack_layout.py finds them without unpacking the rest),
so it peaks at about twice the file size. Reads refuse files over `max_bytes`
(checked on the file size before reading) and every declared length is bounded by the bytes
actually present, so a lying header fails at once instead of allocating.
"""
import functools
import hashlib
import os
import stat
import struct
import sys

import msgpack
import numpy as np

from nnrun.atomic import atomic_file
from nnrun.errors import UserError
from nnrun.lazy import OnFirstUse
from nnrun.msgpack_layout import Malformed, bin_bounds, ext_bounds, map_entries, object_end

FORMAT = "nnrun-checkpoint"
VERSION = 1
DEFAULT_MAX_BYTES = 4 * 1024**3 + 1024  # a 4 GiB payload (the most msgpack bin holds) + header

EXT_TORCH = 1
EXT_NUMPY = 2

# What the first bytes of every nnrun checkpoint look like after the map header byte.
_MAGIC = msgpack.packb("format") + msgpack.packb(FORMAT)

torch = OnFirstUse("torch")  # reading with arrays="numpy" never imports it
_TORCH_DTYPE_NAMES = ("float64", "float32", "float16", "bfloat16", "complex64", "complex128",
                      "int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64", "bool",
                      "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz")


@functools.cache
def _torch_dtypes():
    return {name: getattr(torch, name) for name in _TORCH_DTYPE_NAMES
            if isinstance(getattr(torch, name, None), torch.dtype)}


def _is_tensor(obj):
    """Whether obj is a torch.Tensor, without importing torch (nothing is one before it is)."""
    loaded = sys.modules.get("torch")
    return loaded is not None and isinstance(obj, loaded.Tensor)
_NUMPY_DTYPES = {
    name: np.dtype(name)
    for name in ("float64", "float32", "float16", "complex64", "complex128",
                 "int64", "int32", "int16", "int8", "uint64", "uint32", "uint16", "uint8", "bool")
}
_MAX_DIMS = 64
_MAX_HEADER = 4096  # an ext header (dtype name + up to 64 dims) is far smaller than this
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what msgpack can hold


# ----------------------------------------------------------------------------------------- writing

def write_checkpoint(path, payload):
    """Write `payload` (a dict of nested plain data and tensors) to `path`, atomically.

    Unsupported objects raise TypeError (a bug in the caller) before anything touches the disk.
    A file that cannot be written (missing folder, no permission, disk full) raises UserError.
    Either way an existing file at `path` is left as it was and no temporary file remains.
    Tensor bytes are streamed to the file one tensor at a time, never gathered into one buffer.
    """
    if not isinstance(payload, dict):
        raise TypeError(f"checkpoint payload must be a dict, not {type(payload).__name__}")
    parts = _Encoder().run(payload)
    size = sum(_part_size(part) for part in parts)
    if size > 2**32 - 1:
        raise ValueError(f"checkpoint payload is {size} bytes; the format holds at most 4 GiB")
    head = (b"\x84" + _MAGIC + msgpack.packb("version") + msgpack.packb(VERSION)
            + msgpack.packb("payload") + _bin_header(size))

    path = os.fspath(path)
    try:
        with atomic_file(path, "wb") as f:
            f.write(head)
            digest, written = hashlib.sha256(), 0
            for part in parts:
                raw = part if isinstance(part, bytes) else _array_bytes(part)
                digest.update(raw)
                f.write(raw)
                written += len(raw)
            if written != size:  # a tensor changed shape under us: a bug, not a file to keep
                raise RuntimeError(f"checkpoint payload changed while being written to {path}")
            f.write(msgpack.packb("sha256") + msgpack.packb(digest.hexdigest()))
    except OSError as e:
        raise UserError(f"cannot write checkpoint {path}: {e.strerror or e}") from e


def _bin_header(n):
    if n < 2**8:
        return b"\xc4" + n.to_bytes(1, "big")
    if n < 2**16:
        return b"\xc5" + n.to_bytes(2, "big")
    return b"\xc6" + n.to_bytes(4, "big")


def _ext_header(code, n):
    fixed = {1: b"\xd4", 2: b"\xd5", 4: b"\xd6", 8: b"\xd7", 16: b"\xd8"}
    if n in fixed:
        return fixed[n] + bytes((code,))
    if n < 2**8:
        return b"\xc7" + n.to_bytes(1, "big") + bytes((code,))
    if n < 2**16:
        return b"\xc8" + n.to_bytes(2, "big") + bytes((code,))
    return b"\xc9" + n.to_bytes(4, "big") + bytes((code,))


class _Encoder:
    """Turns a payload into msgpack: a list of bytes and, in between, the arrays to stream.

    Checks everything on the way, naming the key path of anything it refuses.
    """

    def __init__(self):
        self.packer = msgpack.Packer(use_bin_type=True)
        self.parts, self.buf = [], bytearray()

    def run(self, payload):
        self.encode(payload, "payload")
        self.parts.append(bytes(self.buf))
        return self.parts

    def encode(self, obj, where):
        if obj is None or isinstance(obj, (bool, float, str, bytes, bytearray)):
            self.buf += self.packer.pack(obj)
        elif isinstance(obj, int):
            if not _INT_MIN <= obj <= _INT_MAX:
                raise ValueError(f"cannot store {where}: integer {obj} does not fit in 64 bits")
            self.buf += self.packer.pack(obj)
        elif isinstance(obj, dict):
            self.buf += self.packer.pack_map_header(len(obj))
            for key, value in obj.items():
                if isinstance(key, bool) or not isinstance(key, (str, int)):
                    raise TypeError(f"cannot store {where}: key {key!r} is a "
                                    f"{type(key).__name__}; keys must be str or int")
                self.encode(key, f"{where}[{key!r}]")
                self.encode(value, f"{where}[{key!r}]")
        elif isinstance(obj, (list, tuple)):
            self.buf += self.packer.pack_array_header(len(obj))
            for i, value in enumerate(obj):
                self.encode(value, f"{where}[{i}]")
        elif _is_tensor(obj):
            if obj.layout != torch.strided or obj.is_quantized:
                raise TypeError(f"cannot store {where}: {obj.layout} tensors are not supported")
            if _dtype_name(obj.dtype) not in _torch_dtypes():
                raise TypeError(f"cannot store {where}: tensor dtype {obj.dtype} is not supported")
            if obj.device.type == "meta":
                raise TypeError(f"cannot store {where}: a meta tensor has no data")
            self.array(EXT_TORCH, _dtype_name(obj.dtype), obj.detach(), where)
        elif isinstance(obj, np.ndarray):
            if obj.dtype.name not in _NUMPY_DTYPES or obj.dtype.fields is not None:
                raise TypeError(f"cannot store {where}: numpy dtype {obj.dtype} is not supported")
            self.array(EXT_NUMPY, obj.dtype.name, obj, where)
        elif isinstance(obj, (np.bool_, np.integer, np.floating)):
            self.encode(obj.item(), where)
        else:
            raise TypeError(f"cannot store {where}: {type(obj).__name__} is not checkpoint data")

    def array(self, code, name, array, where):
        descriptor = msgpack.packb([name, list(array.shape)])
        n = len(descriptor) + _part_size(array)
        if n > 2**32 - 1:
            raise ValueError(f"cannot store {where}: {n} bytes is over the 4 GiB limit per array")
        self.buf += _ext_header(code, n) + descriptor
        self.parts.append(bytes(self.buf))
        self.buf.clear()
        self.parts.append(array)


def _part_size(part):
    if _is_tensor(part):
        return part.numel() * part.element_size()
    return part.nbytes if isinstance(part, np.ndarray) else len(part)


def _array_bytes(array):
    """The elements of a tensor or numpy array, C order, little-endian; no copy when it can."""
    if _is_tensor(array):
        t = array.to("cpu").resolve_conj().resolve_neg().contiguous()
        raw = memoryview(t.reshape(-1).view(torch.uint8).numpy())
        return _little_endian(raw, _unit(t.dtype.itemsize, t.dtype.is_complex))
    a = array.astype(array.dtype.newbyteorder("="), copy=False)  # native byte order
    flat = np.ascontiguousarray(a).reshape(-1).view(np.uint8)  # C order
    return _little_endian(memoryview(flat), _unit(a.dtype.itemsize, a.dtype.kind == "c"))


def _dtype_name(dtype):
    return str(dtype).removeprefix("torch.")


def _unit(itemsize, is_complex):
    return itemsize // 2 if is_complex else itemsize


def _little_endian(raw, unit):
    """Swap bytes between native and little-endian order (the same operation both ways)."""
    if sys.byteorder == "little" or unit == 1 or not raw:
        return raw
    return np.frombuffer(raw, dtype=f"u{unit}").byteswap().tobytes()


# ----------------------------------------------------------------------------------------- reading

def read_checkpoint(path, *, max_bytes=DEFAULT_MAX_BYTES, arrays="torch"):
    """The payload of the checkpoint at `path`, tensors as CPU tensors; any problem: UserError.

    arrays="numpy": tensors come back as numpy arrays instead, and torch is not imported (but
    for dtypes numpy lacks, bfloat16 and float8, which come back as torch tensors)."""
    if arrays not in ("torch", "numpy"):
        raise ValueError(f'arrays must be "torch" or "numpy", not {arrays!r}')
    data = _read_file(path, max_bytes)
    where = os.fspath(path)
    located = _locate_payload(data)
    if located is None:  # not the plain layout: the full parse says what is wrong with it
        header = _parse_outer(data, where)
        body, digest = header["payload"], header["sha256"]
        del data, header["payload"]
    else:
        body, digest = located
    if hashlib.sha256(body).hexdigest() != digest:
        raise UserError(f"{where}: checkpoint is corrupted (checksum mismatch)")
    hook = functools.partial(_decode_ext, arrays=arrays)
    try:
        payload = _unpack_by_parts(body, hook)
        if payload is None:
            payload = msgpack.unpackb(body, ext_hook=hook, **_limits(body))
    except _BadArray as e:
        raise UserError(f"{where}: invalid checkpoint: {e}") from None
    except (ValueError, TypeError, UnicodeDecodeError, RecursionError, OverflowError) as e:
        raise UserError(f"{where}: invalid checkpoint payload ({_why(e)})") from None
    if not isinstance(payload, dict):
        raise UserError(f"{where}: invalid checkpoint: the payload is a {type(payload).__name__}, "
                        "not a map")
    return payload


def _limits(body):
    n = len(body)
    return dict(raw=False, use_list=True, strict_map_key=False, max_bin_len=n, max_str_len=n, max_array_len=n,
                max_map_len=n, max_ext_len=n)


def _locate_payload(data):
    """(memoryview of the payload bytes, sha256 hex) when the outer map is exactly what
    write_checkpoint writes and this version reads, else None. Reading the payload in place
    spares a copy of the whole file."""
    try:
        entries = map_entries(data, 0)
        if object_end(data, 0, len(data)) != len(data) or set(entries) != {"format", "version", "payload", "sha256"}:
            return None
        small = {key: msgpack.unpackb(data[start:end], raw=False)
                 for key, (start, end) in entries.items() if key != "payload"}
        version = small["version"]
        if small["format"] != FORMAT or isinstance(version, bool) or not isinstance(version, int) \
                or not 1 <= version <= VERSION or not isinstance(small["sha256"], str):
            return None
        start, end = bin_bounds(data, entries["payload"])
    except (Malformed, ValueError, TypeError, UnicodeDecodeError, IndexError, struct.error):
        return None
    return memoryview(data)[start:end], small["sha256"]


def _unpack_by_parts(body, hook):
    """The payload map, its "tensors" map read array by array straight from `body` (one copy
    each, into memory of the hook's choosing, instead of two); None when the payload is not a
    map with such a "tensors" map, and the caller unpacks it whole."""
    try:
        if object_end(body, 0, len(body)) != len(body):
            return None
        entries = map_entries(body, 0, all_keys=True)
        tensors = entries.get("tensors")
        if tensors is None:
            return None
        arrays = map_entries(body, tensors[0], tensors[1], all_keys=True)
        if not all(isinstance(name, str) and body[at] in _EXT_BYTES for name, (at, _) in arrays.items()):
            return None
    except (Malformed, ValueError, TypeError, UnicodeDecodeError, IndexError, struct.error):
        return None
    payload = {}
    for key, (start, end) in entries.items():
        if key == "tensors":
            payload[key] = {name: hook(*_ext(body, at, end)) for name, (at, end) in arrays.items()}
        else:
            payload[key] = msgpack.unpackb(body[start:end], ext_hook=hook, **_limits(body))
    return payload


_EXT_BYTES = frozenset((0xC7, 0xC8, 0xC9, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8))


def _ext(body, at, end):
    code, start, stop = ext_bounds(body, at, end)
    return code, body[start:stop]


def is_checkpoint(path):
    """Whether `path` is a regular file that starts like an nnrun checkpoint (reads a few bytes)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as f:
            start = f.read(1 + len(_MAGIC))
    except OSError:
        return False
    return _looks_like_ours(start)


def _looks_like_ours(data):
    return len(data) > len(_MAGIC) and 0x80 <= data[0] <= 0x8F and data[1:1 + len(_MAGIC)] == _MAGIC


def _read_file(path, max_bytes):
    where = os.fspath(path)
    if not isinstance(max_bytes, int) or max_bytes <= 0:
        raise ValueError(f"max_bytes must be a positive int, not {max_bytes!r}")
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise UserError(f"{where}: is a directory, not a checkpoint file")
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device could block or never end
            raise UserError(f"{where}: is not a regular file, so not a checkpoint")
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        with os.fdopen(os.open(path, flags), "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise UserError(f"{where}: is not a regular file, so not a checkpoint")
            if st.st_size > max_bytes:
                raise UserError(f"{where}: file is {st.st_size} bytes, over the {max_bytes}-byte "
                                "limit for checkpoints")
            data = f.read(st.st_size + 1)  # not read(max_bytes): that would allocate max_bytes
    except FileNotFoundError:
        raise UserError(f"{where}: no such checkpoint file") from None
    except OSError as e:
        raise UserError(f"{where}: cannot read checkpoint: {e.strerror or e}") from None
    if len(data) != st.st_size:
        raise UserError(f"{where}: file changed while it was being read")
    if not data:
        raise UserError(f"{where}: file is empty, not a checkpoint")
    return data


def _parse_outer(data, where):
    """The outer map, checked: format, version, payload bin and checksum string."""
    ours = _looks_like_ours(data)
    try:
        outer = msgpack.unpackb(
            data, raw=False, use_list=True, strict_map_key=True, ext_hook=_refuse_ext,
            max_bin_len=len(data), max_str_len=min(len(data), 1 << 16), max_array_len=1024,
            max_map_len=64, max_ext_len=0)
    except (ValueError, TypeError, UnicodeDecodeError, RecursionError, OverflowError) as e:
        if ours:
            raise UserError(f"{where}: checkpoint is truncated or corrupted ({_why(e)})") from None
        raise UserError(f"{where}: not an nnrun checkpoint{_sniff(data)}") from None
    if not isinstance(outer, dict) or outer.get("format") != FORMAT:
        raise UserError(f"{where}: not an nnrun checkpoint{_sniff(data)}")
    version = outer.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise UserError(f"{where}: invalid checkpoint: bad version {version!r}")
    if version > VERSION:
        raise UserError(f"{where}: checkpoint version {version} was written by a newer nnrun "
                        f"(this one reads version {VERSION}); upgrade nnrun to read it")
    if not isinstance(outer.get("payload"), bytes) or not isinstance(outer.get("sha256"), str):
        raise UserError(f"{where}: invalid checkpoint: missing or malformed payload or checksum")
    return outer


def _refuse_ext(code, data):
    raise ValueError(f"unexpected ext type {code} outside the payload")


def _why(e):
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _sniff(data):
    """A hint about what a foreign file is, for the error message."""
    if data.startswith(b"\x89PNG"):
        return " (it is a PNG image)"
    if data.startswith(b"PK\x03\x04"):
        return " (it is a zip archive, e.g. a torch.save file; nnrun never loads pickles)"
    if data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return " (it looks like a pickle; nnrun never loads pickles)"
    if data.lstrip()[:1] in (b"{", b"["):
        return " (it looks like JSON or text)"
    return ""


class _BadArray(ValueError):
    """An array descriptor inside the payload that does not describe a valid array."""


def _decode_ext(code, data, arrays="torch"):
    if code == EXT_TORCH and arrays == "numpy":
        kind, dtypes = "tensor", {n: _NUMPY_DTYPES.get(n) for n in _TORCH_DTYPE_NAMES}
    elif code == EXT_TORCH:
        kind, dtypes = "tensor", _torch_dtypes()
    elif code == EXT_NUMPY:
        kind, dtypes = "numpy array", _NUMPY_DTYPES
    else:
        raise _BadArray(f"unknown ext type {code}")
    unpacker = msgpack.Unpacker(raw=False, max_buffer_size=_MAX_HEADER, max_str_len=64,
                                max_array_len=_MAX_DIMS, max_bin_len=0, max_map_len=0,
                                max_ext_len=0)
    try:
        unpacker.feed(data[:_MAX_HEADER])
        header = unpacker.unpack()
        offset = unpacker.tell()
    except (ValueError, TypeError, UnicodeDecodeError, msgpack.OutOfData) as e:
        raise _BadArray(f"{kind} descriptor is unreadable ({_why(e)})") from None
    if not (isinstance(header, list) and len(header) == 2 and isinstance(header[0], str)
            and isinstance(header[1], list)):
        raise _BadArray(f"{kind} descriptor is not [dtype, shape]")
    name, shape = header
    if name not in dtypes:
        raise _BadArray(f"unknown {kind} dtype {name!r}")
    if not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**63 for d in shape):
        raise _BadArray(f"{kind} shape {shape!r} is invalid")
    shape = tuple(shape)
    dtype = dtypes[name]
    if dtype is None:  # arrays="numpy", a dtype numpy lacks: a torch tensor after all
        return _decode_ext(code, data, arrays="torch")
    count = 1
    for d in shape:
        count *= d
    nbytes = len(data) - offset
    if count * dtype.itemsize != nbytes:
        raise _BadArray(f"{kind} of dtype {name} and shape {list(shape)} needs "
                        f"{count * dtype.itemsize} bytes but holds {nbytes}")
    raw = memoryview(data)[offset:]
    try:
        if code == EXT_TORCH and arrays == "torch":
            if count == 0:
                return torch.empty(shape, dtype=dtype)
            raw = _little_endian(raw, _unit(dtype.itemsize, dtype.is_complex))
            return torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(dtype).reshape(shape)
        if count == 0:
            return np.empty(shape, dtype=dtype)
        raw = _little_endian(raw, _unit(dtype.itemsize, dtype.kind == "c"))
        return np.frombuffer(bytearray(raw), dtype=dtype).reshape(shape)
    except (RuntimeError, ValueError, OverflowError) as e:
        raise _BadArray(f"{kind} of dtype {name} and shape {list(shape)} cannot be built "
                        f"({_why(e)})") from None
