"""What a model checkpoint says about itself, read without torch and without its tensors.

`kaggle-submit` and `infer` need the input size, channels and classes before the network is
built, so image decoding can start in worker processes while the checkpoint is still being read
(or torch imported). This reads the checkpoint's plain data only, and quickly: the file is
mapped, not read, and the walk below steps over every array (and everything else not asked
for) by its length (nnrun/msgpack_layout.py), so only a few pages of a large file are ever touched. Array payloads are
never interpreted, so it is as safe as the full reader. It does not verify the checksum;
`model.open_model` reads the file fully (and checks it) before any prediction is made. Any
problem here returns None, and the full reader reports it.
"""
import mmap
import os
import struct

import msgpack

from nnrun.msgpack_layout import Malformed, bin_bounds, map_entries

KIND = "nnrun-model"  # as in nnrun.model_io
_FIELDS = ("kind", "network", "classes", "positive", "threshold", "preprocessing", "dataset")


def peek_model(path, max_bytes=4 * 1024**3):
    """{kind, network, classes, positive, threshold, preprocessing, dataset} of a model checkpoint,
    or None when `path` is not a readable model checkpoint (the full reader says why)."""
    try:
        if not os.path.isfile(path) or not 0 < os.path.getsize(path) <= max_bytes:
            return None
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            outer = map_entries(data, 0)
            if _plain(data, outer.get("format")) != "nnrun-checkpoint" or "payload" not in outer:
                return None
            start, end = bin_bounds(data, outer["payload"])
            inner = map_entries(data, start, end)
            if _plain(data, inner.get("kind")) != KIND:
                return None
            return {key: _plain(data, inner.get(key)) for key in _FIELDS}
    except (Malformed, ValueError, TypeError, UnicodeDecodeError, RecursionError, OverflowError, OSError,
            IndexError, struct.error):
        return None


def _plain(data, bounds):
    """The value at (start, end), unpacked; None when absent. Arrays inside stay unread."""
    if bounds is None:
        return None
    start, end = bounds
    return msgpack.unpackb(data[start:end], raw=False, strict_map_key=False, ext_hook=lambda code, raw: SKIPPED)


class _Skipped:
    """Stands in for an array: only its presence is known."""

    def __repr__(self):
        return "<array>"


SKIPPED = _Skipped()
