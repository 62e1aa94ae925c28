"""Decoding every image once, in parallel, into a cache that survives an interrupted run.

Images are decoded in chunks of CHUNK files. Each chunk's pixels and per-file results (sha256 of
the file's bytes, or why it could not be read) are written to the cache folder under a key made of
the chunk's file paths, sizes and modification times, the output size and channels, and the
decoder's version; the small JSON file is renamed into place last and marks the chunk as done.
A later run of the same command finds the chunks already done and decodes only the rest.
"""
import hashlib
import json
import os
from dataclasses import dataclass, field

import numpy as np

from nnrun.atomic import save_npy
from nnrun.data.files import read_regular
from nnrun.data.decode import UnreadableImage, decode_image
from nnrun.data.prepare.pool import run_tasks
from nnrun.progress import bar

CHUNK = 64
DECODER_VERSION = 1  # bump when decode_image's output changes, so old caches are not reused


@dataclass
class Decoded:
    files: list                                    # the chunks' pixel files, in order
    sha256: list                                   # per item: hex digest of the file's bytes
    problems: dict = field(default_factory=dict)   # item index -> why it could not be decoded
    reused: int = 0                                # items found already decoded in the cache

    def blocks(self):
        """All items' pixels, uint8 [k, C, S, S] per chunk, in order."""
        for path in self.files:
            yield np.load(path)


def decode_all(paths, size, channels, cache, jobs, quiet=False, note=None):
    """Decode the image files `paths` (in this order) to uint8 [C, size, size] each.

    `note(message)` hears how much an earlier interrupted run had already done."""
    chunks = []
    for start in range(0, len(paths), CHUNK):
        part = [str(p) for p in paths[start:start + CHUNK]]
        chunks.append((_chunk_key(part, size, channels), part))
    metas = {}
    todo = []
    for key, part in chunks:
        meta = _cached(cache, key, len(part))
        if meta is None:
            todo.append((key, part, size, channels, str(cache)))
        else:
            metas[key] = meta
    reused = sum(len(metas[key]["sha256"]) for key in metas)
    if reused and note:
        note(f"resuming: {reused} of {len(paths)} images were already decoded")
    with bar(len(paths), "decoding", quiet) as progress:
        progress.update(reused)

        def done(result):
            key, meta = result
            metas[key] = meta
            progress.update(len(meta["sha256"]))

        run_tasks(_decode_chunk, todo, jobs, done)
    digests, problems = [], {}
    for number, (key, part) in enumerate(chunks):
        meta = metas[key]
        digests.extend(meta["sha256"])
        for i, problem in enumerate(meta["problems"]):
            if problem is not None:
                problems[number * CHUNK + i] = problem
    files = [cache / f"chunk-{key}.npy" for key, _ in chunks]
    return Decoded(files=files, sha256=digests, problems=problems, reused=reused)


def _chunk_key(paths, size, channels):
    stats = []
    for path in paths:
        try:
            info = os.stat(path)
            stats.append([path, info.st_size, info.st_mtime_ns])
        except OSError:
            stats.append([path, None, None])
    text = json.dumps([DECODER_VERSION, size, channels, stats])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _cached(cache, key, count):
    """The chunk's results when a previous run finished it, else None."""
    try:
        meta = json.loads((cache / f"chunk-{key}.json").read_text())
        if (cache / f"chunk-{key}.npy").is_file() and len(meta["sha256"]) == len(meta["problems"]) == count:
            return meta
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _decode_chunk(key, paths, size, channels, cache):
    """Worker: decode one chunk and write its two cache files; returns (key, results)."""
    pixels = np.zeros((len(paths), channels, size, size), np.uint8)
    digests, problems = [], []
    for i, path in enumerate(paths):
        problem = None
        try:
            data = read_regular(path)  # a FIFO or device named .jpg is skipped, never read
        except OSError as error:
            data, problem = b"", f"cannot be read ({error.strerror or error})"
        digests.append(hashlib.sha256(data).hexdigest())
        if problem is None:
            try:
                pixels[i] = decode_image(data, size, channels)
            except UnreadableImage as unreadable:
                problem = str(unreadable)
        problems.append(problem)
    meta = {"sha256": digests, "problems": problems}
    base = os.path.join(cache, f"chunk-{key}")
    with open(base + ".npy.tmp", "wb") as f:
        save_npy(f, pixels)
    os.replace(base + ".npy.tmp", base + ".npy")
    with open(base + ".json.tmp", "w") as f:
        json.dump(meta, f)
    os.replace(base + ".json.tmp", base + ".json")
    return key, meta
