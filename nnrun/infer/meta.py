"""What a model checkpoint says about itself, read without torch and without its tensors.

`kaggle-submit` and `infer` need the input size, channels and classes before the network is
built, so image decoding can start in worker processes while torch is still importing (about
two seconds on a small machine). This reads the checkpoint's plain data only: array payloads
(msgpack ext types) are skipped, never interpreted, so it is as safe as the full reader. It
does not verify the checksum; `model.open_model` reads the file fully (and checks it) before
any prediction is made. Any problem here returns None, and the full reader reports it.
"""
import os

import msgpack

KIND = "nnrun-model"  # as in nnrun.model_io
_FIELDS = ("kind", "network", "classes", "positive", "threshold", "preprocessing", "dataset")


class _Skipped:
    """Stands in for an array: only its presence is known."""

    def __repr__(self):
        return "<array>"


SKIPPED = _Skipped()


def peek_model(path, max_bytes=4 * 1024**3):
    """{kind, network, classes, positive, threshold, preprocessing, dataset} of a model checkpoint,
    or None when `path` is not a readable model checkpoint (the full reader says why)."""
    try:
        if not os.path.isfile(path) or os.path.getsize(path) > max_bytes:
            return None
        with open(path, "rb") as f:
            data = f.read()
        outer = msgpack.unpackb(data, raw=False, strict_map_key=True, ext_hook=_refuse,
                                max_map_len=64, max_array_len=1024, max_ext_len=0)
        if not isinstance(outer, dict) or outer.get("format") != "nnrun-checkpoint":
            return None
        body = outer.get("payload")
        if not isinstance(body, bytes):
            return None
        payload = msgpack.unpackb(body, raw=False, strict_map_key=False, ext_hook=lambda code, data: SKIPPED)
    except (ValueError, TypeError, UnicodeDecodeError, RecursionError, OverflowError, OSError):
        return None
    if not isinstance(payload, dict) or payload.get("kind") != KIND:
        return None
    return {key: payload.get(key) for key in _FIELDS}


def _refuse(code, data):
    raise ValueError("ext type outside the payload")
