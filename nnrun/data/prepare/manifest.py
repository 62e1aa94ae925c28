"""The manifest (dataset.json): what was made, from what, and how to make it again."""
import datetime
import hashlib
import json
import sys
from pathlib import Path

from nnrun import __version__
from nnrun.data.dataset import FORMAT, VERSION
from nnrun.data.files import open_regular

HASH_BLOCK = 1 << 20


def file_sha256(path):
    digest = hashlib.sha256()
    with open_regular(path) as f:  # a FIFO in an image folder must not block the comparison
        while block := f.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def file_source(path):
    """A source file's manifest entry: absolute path, size and sha256 of its bytes."""
    path = Path(path).resolve()
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": file_sha256(path)}


def folder_source(folder, digests, sizes):
    """A source folder's entry. Its sha256 is that of the `sha256sum`-style listing of its files,
    one "<file sha256>  <relative path>" line each, sorted by path, so it changes when any file's
    name or content does and can be checked with ordinary tools."""
    listing = "".join(f"{digests[name]}  {name}\n" for name in sorted(digests))
    return {"path": str(Path(folder).resolve()), "files": len(digests), "bytes": int(sum(sizes.values())),
            "sha256": hashlib.sha256(listing.encode()).hexdigest()}


def manifest(kind, *, classes, splits, sources, options, seed, command, features=None, image=None,
             normalisation=None, labelled=True, synthetic=False, skipped=(), encoding=None):
    """The manifest as docs/formats.md describes it, keys in a readable order."""
    result = {
        "format": FORMAT, "version": VERSION, "kind": kind,
        "synthetic": bool(synthetic), "labelled": bool(labelled),
        "classes": list(classes),
    }
    if features is not None:
        result["features"] = list(features)
    if encoding is not None:
        result["encoding"] = encoding
    if image is not None:
        result["image"] = dict(image)
    result["normalisation"] = normalisation
    result["splits"] = splits
    result["sources"] = list(sources)
    result["skipped"] = list(skipped)
    result["options"] = options
    result["command"] = command
    result["seed"] = seed
    result["created"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    result["nnrun-version"] = __version__
    result["python"] = sys.version.split()[0]
    return result


def manifest_text(value, depth=0):
    """JSON with one key per line but lists of plain values on one line, to read at a glance."""
    pad = "  " * depth
    if isinstance(value, dict) and value:
        lines = [f"{pad}  {json.dumps(key)}: {manifest_text(item, depth + 1)}" for key, item in value.items()]
        return "{\n" + ",\n".join(lines) + f"\n{pad}}}"
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        lines = [f"{pad}  {manifest_text(item, depth + 1)}" for item in value]
        return "[\n" + ",\n".join(lines) + f"\n{pad}]"
    return json.dumps(value)
