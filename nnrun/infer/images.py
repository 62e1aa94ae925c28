"""Decoding image files for inference, in worker processes, in order.

Every image goes through `nnrun.data.prepare_decode.decode_image`, the function `nnrun prepare
images` used on the training images (JPEG draft decoding at a reduced DCT scale, EXIF
orientation, transparency on white, antialiased resize to SIZE × SIZE), so a photo straight
from a camera reaches the network as its training images did.

Workers are forked (where the platform has fork) as soon as the file list and the image size
are known, before torch is imported: they decode while the main process imports torch and
loads the checkpoint, and go on decoding while it runs the network. With the numpy engine
(no torch at all) the workers also run the network on what they decoded (`work`), so decoding
and predicting share every core with no thread fighting another. At most a few chunks wait
done, so memory stays bounded however many files there are.
"""
import os
import signal
from dataclasses import dataclass, field

import numpy as np

from nnrun.data.prepare_decode import EXTENSIONS, UnreadableImage, decode_image

CHUNK = 32


@dataclass
class Decoded:
    start: int                     # index of the chunk's first file
    pixels: np.ndarray             # uint8 [k, C, S, S]; an unreadable file's slot is zeros
    problems: dict = field(default_factory=dict)   # index within the chunk -> why unreadable
    result: object = None          # work(pixels of the readable files), when there is work


_WORK = None  # in a worker: what to run on each decoded chunk (set before the fork)


def is_image_file(path):
    return os.path.splitext(str(path))[1].lower() in EXTENSIONS


def decode_chunk(paths, size, channels):
    """Worker task: decode_files, then the work on the readable files' pixels."""
    pixels, problems = decode_files(paths, size, channels)
    result = None
    if _WORK is not None:
        keep = [i for i in range(len(paths)) if i not in problems]
        result = _WORK(pixels[keep] if problems else pixels) if keep else None
    return pixels, problems, result


def decode_files(paths, size, channels):
    """Decode `paths` (one chunk); (pixels, {i: reason}) with zeros for unreadable files."""
    pixels = np.zeros((len(paths), channels, size, size), np.uint8)
    problems = {}
    for i, path in enumerate(paths):
        try:
            with open(path, "rb") as f:
                data = f.read()
            pixels[i] = decode_image(data, size, channels)
        except UnreadableImage as unreadable:
            problems[i] = str(unreadable)
        except OSError as error:
            problems[i] = f"cannot be read ({error.strerror or error})"
    return pixels, problems


def available_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class ImageReader:
    """Decodes `paths` to uint8 [C, size, size] in order; iterate for `Decoded` chunks.

    jobs: worker processes (default: the cores this process may use); with one job, or a
    single chunk of files, everything is decoded here, without a pool. work: a function of a
    chunk's pixels (readable files only) run where the chunk was decoded; its result comes
    back in `Decoded.result`. Workers are forked, so `work` (a network and its weights) is
    never pickled. Use as a context manager (or call close) so the workers stop if the caller
    stops early."""

    def __init__(self, paths, size, channels, jobs=None, chunk=CHUNK, work=None):
        self.paths = [os.fspath(p) for p in paths]
        self.size, self.channels, self.chunk, self.work = size, channels, chunk, work
        self.jobs = available_cores() if jobs is None else max(1, int(jobs))
        self._pool = None
        self._pending = []
        self._next = 0
        self._starts = list(range(0, len(self.paths), chunk))
        if self.jobs > 1 and len(self._starts) > 1:
            self._start_pool()

    def _start_pool(self):
        from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
        import multiprocessing

        workers = min(self.jobs, len(self._starts))
        if "fork" in multiprocessing.get_all_start_methods():
            self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                             initializer=_worker_start, initargs=(self.work,))
            self._task = decode_chunk
        else:  # Pillow and BLAS let go of the GIL while they work, so threads still use the cores
            self._pool = ThreadPoolExecutor(workers)
            self._task = self._here
        self._window = 2 * workers + 2
        self._fill()

    def _fill(self):
        while self._next < len(self._starts) and len(self._pending) < self._window:
            start = self._starts[self._next]
            part = self.paths[start:start + self.chunk]
            self._pending.append((start, self._pool.submit(self._task, part, self.size, self.channels)))
            self._next += 1

    def __iter__(self):
        if self._pool is None:
            for start in self._starts:
                yield Decoded(start, *self._here(self.paths[start:start + self.chunk], self.size, self.channels))
            return
        while self._pending:
            start, future = self._pending.pop(0)
            pixels, problems, result = future.result()
            self._fill()
            yield Decoded(start, pixels, problems, result)

    def _here(self, paths, size, channels):
        """decode_chunk in this process (no pool, or a pool of threads)."""
        pixels, problems = decode_files(paths, size, channels)
        keep = [i for i in range(len(paths)) if i not in problems]
        result = None
        if self.work is not None and keep:
            result = self.work(pixels[keep] if problems else pixels)
        return pixels, problems, result

    def close(self):
        if self._pool is not None:
            for _, future in self._pending:
                future.cancel()
            self._pending = []
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _worker_start(work):
    # Ctrl-C goes to the parent, which shuts the pool down; workers just finish their chunk.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _WORK
    _WORK = work
    if work is not None:  # one BLAS thread per worker: the workers already fill the cores
        from nnrun.infer.blas import set_blas_threads
        set_blas_threads(1)
