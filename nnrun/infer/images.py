"""Decoding image files for inference in a pool of worker processes, in order.

Every image goes through `nnrun.data.decode.decode_image`, the function `nnrun prepare
images` used on the training images (JPEG draft decoding at a reduced DCT scale, EXIF
orientation, transparency on white, antialiased resize to SIZE × SIZE), so a photo straight
from a camera reaches the network as its training images did.

With `work` (a callable on a batch of pixels: the models' ONNX Runtime engines, see predict.Work)
each worker also runs the network on the chunk it decoded, with a one-thread engine of its own,
so decoding and predicting share every core and only the small results come back. Without it
(torch, say on a GPU) the workers only decode and the caller runs the network. A bounded number
of chunks is in flight, so memory stays bounded however many files there are.
"""
import os
import signal
from dataclasses import dataclass, field

import numpy as np

from nnrun.cores import available_cores
from nnrun.data.files import read_regular
from nnrun.data.decode import UnreadableImage, decode_image

CHUNK = 64       # the most files in a chunk
SMALLEST = 8     # the least, at the very end


@dataclass
class DecodedChunk:
    start: int                     # index of the chunk's first file
    count: int                     # files in the chunk
    pixels: np.ndarray             # uint8 [readable, C, S, S], or None when `result` is there
    problems: dict = field(default_factory=dict)   # index within the chunk -> why unreadable
    result: object = None          # work(pixels of the readable files), when a work was given

    @property
    def readable(self):
        return [i for i in range(self.count) if i not in self.problems]


def chunk_bounds(count, workers, largest=CHUNK, smallest=SMALLEST):
    """(start, end) of each chunk of `count` files: `largest` while there is plenty left, then
    smaller, so the workers run out of work together rather than one finishing a big chunk alone."""
    bounds, start = [], 0
    while start < count:
        size = min(largest, max(smallest, -(-(count - start) // (2 * workers))))
        bounds.append((start, min(count, start + size)))
        start += size
    return bounds


def decode_files(paths, size, channels):
    """(uint8 pixels of the readable files, {index: reason} for the others)."""
    pixels = np.zeros((len(paths), channels, size, size), np.uint8)
    problems = {}
    for i, path in enumerate(paths):
        try:
            pixels[i] = decode_image(read_regular(path), size, channels)  # never blocks on a FIFO
        except UnreadableImage as unreadable:
            problems[i] = str(unreadable)
        except OSError as error:
            problems[i] = f"cannot be read ({error.strerror or error})"
    if problems:
        pixels = pixels[[i for i in range(len(paths)) if i not in problems]]
    return pixels, problems


def decode_chunk(paths, size, channels, work=None):
    """(pixels or None, problems, work(pixels) or None): one chunk's task."""
    pixels, problems = decode_files(paths, size, channels)
    if work is None or not len(pixels):
        return pixels, problems, None
    return None, problems, work(pixels)


_WORK = None  # in a worker process: the work it runs on what it decodes


def _worker_start(work):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the parent, which stops the pool
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's KeyboardInterrupt (nnrun.cli)
    global _WORK
    if work is not None:
        work.for_worker()
    _WORK = work


def _worker_task(paths, size, channels):
    return decode_chunk(paths, size, channels, _WORK)


class ImageReader:
    """Decodes `paths` to uint8 [C, size, size]; iterate for `DecodedChunk`s, in order.

    jobs: worker processes (default: the cores this process may use); with one job or a single
    chunk everything happens here. largest: the most files in a chunk (default CHUNK). work: see
    the module's docstring; it must have `for_worker()` (called in each worker before its first
    chunk). Use as a context manager (or call close)."""

    def __init__(self, paths, size, channels, jobs=None, work=None, largest=None):
        self.paths = [os.fspath(p) for p in paths]
        self.size, self.channels, self.work = size, channels, work
        self.jobs = available_cores() if jobs is None else max(1, int(jobs))
        self._bounds = chunk_bounds(len(self.paths), self.jobs, largest or CHUNK)
        self._pool = None
        if self.jobs > 1 and len(self._bounds) > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else None)
            self._pool = ProcessPoolExecutor(min(self.jobs, len(self._bounds)), mp_context=context,
                                             initializer=_worker_start, initargs=(work,))

    def __iter__(self):
        if self._pool is None:
            for start, end in self._bounds:
                yield DecodedChunk(start, end - start, *decode_chunk(self.paths[start:end], self.size,
                                                                self.channels, self.work))
            return
        window = 2 * self.jobs + 2
        pending, following = [], iter(self._bounds)
        while True:
            while len(pending) < window:
                bounds = next(following, None)
                if bounds is None:
                    break
                start, end = bounds
                pending.append((start, end - start, self._pool.submit(
                    _worker_task, self.paths[start:end], self.size, self.channels)))
            if not pending:
                return
            start, count, future = pending.pop(0)
            yield DecodedChunk(start, count, *future.result())

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
