"""Decoding image files for inference, in worker processes, in order.

Every image goes through `nnrun.data.prepare_decode.decode_image`, the function `nnrun prepare
images` used on the training images (JPEG draft decoding at a reduced DCT scale, EXIF
orientation, transparency on white, antialiased resize to SIZE × SIZE), so a photo straight
from a camera reaches the network as its training images did.

Workers are forked (where the platform has fork) as soon as the file list and the image size
are known, before the checkpoint is read or torch is imported: they decode while the main
process loads the network, and go on decoding while it runs the network. With the numpy engine
(no torch at all) the workers also run the network on what they decoded, once the main process
has handed it over (handoff.py), so decoding and predicting share every core with no thread
fighting another. At most a few chunks wait done, so memory stays bounded however many files
there are.
"""
import os
import signal
from dataclasses import dataclass, field

import numpy as np

from nnrun.data.prepare_decode import EXTENSIONS, UnreadableImage, decode_image

CHUNK = 64       # the most files in a chunk: big enough to keep BLAS busy, small enough to share out
SMALLEST = 8     # the least, at the very end


@dataclass
class Decoded:
    start: int                     # index of the chunk's first file
    count: int                     # files in the chunk
    pixels: np.ndarray             # uint8 [count, C, S, S], an unreadable file's slot zeros; None when
                                   # the reader was told not to keep them and `result` is there
    problems: dict = field(default_factory=dict)   # index within the chunk -> why unreadable
    result: object = None          # job(pixels of the readable files), once the reader has a job


_HANDOFF = None  # in a worker: where the job comes from (handoff.Handoff, set before the fork)


def is_image_file(path):
    return os.path.splitext(str(path))[1].lower() in EXTENSIONS


def chunk_bounds(count, workers, largest=CHUNK, smallest=SMALLEST):
    """(start, end) of each chunk of `count` files: `largest` while there is plenty left, then
    smaller and smaller, so the workers run out of work together rather than one of them
    finishing a big last chunk alone."""
    bounds, start = [], 0
    while start < count:
        size = max(smallest, min(largest, -(-(count - start) // (2 * workers))))
        bounds.append((start, min(count, start + size)))
        start += size
    return bounds


def decode_chunk(paths, size, channels, keep_pixels=True):
    """Worker task: decode_files, then the handed-off job (when there is one yet) on the
    readable files' pixels; (pixels or None, problems, result or None)."""
    pixels, problems = decode_files(paths, size, channels)
    job = _HANDOFF.take() if _HANDOFF is not None else None
    if job is None:
        return pixels, problems, None
    keep = [i for i in range(len(paths)) if i not in problems]
    result = job(pixels[keep] if problems else pixels) if keep else None
    return (pixels if keep_pixels or result is None else None), problems, result


def run_chunk(pixels):
    """Worker task: the handed-off job on pixels decoded before it was there."""
    return _HANDOFF.take()(pixels)


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


class _Pending:
    """A chunk on its way: its decoding, then perhaps the job on what was decoded."""

    def __init__(self, start, count, future):
        self.start, self.count, self.future = start, count, future
        self.decoded = None        # (pixels, problems) once a decoding came back without a result


class ImageReader:
    """Decodes `paths` to uint8 [C, size, size] in order; iterate for `Decoded` chunks.

    jobs: worker processes (default: the cores this process may use); with one job, or a
    single chunk of files, everything is decoded here, without a pool. Once `use(job)` is
    called, every chunk comes with job(pixels of its readable files) as `result`: run by the
    worker that decoded it when the job was handed off to the workers (handoff: a
    handoff.Handoff made before the workers fork), else here. keep_pixels=False: chunks whose
    result came from a worker come without their pixels (less to send back). Use as a context
    manager (or call close) so the workers stop if the caller stops early."""

    def __init__(self, paths, size, channels, jobs=None, chunk=CHUNK, handoff=None, keep_pixels=True):
        self.paths = [os.fspath(p) for p in paths]
        self.size, self.channels = size, channels
        self.jobs = available_cores() if jobs is None else max(1, int(jobs))
        self.handoff, self.keep_pixels = handoff, keep_pixels
        self.job = None
        self._handed_off = False
        self._forked = False       # workers are processes (they can take a hand-off), not threads
        self._pool = None
        self._pending = []
        self._bounds = chunk_bounds(len(self.paths), self.jobs, largest=chunk, smallest=min(chunk, SMALLEST))
        self._next = 0
        if self.jobs > 1 and len(self._bounds) > 1:
            self._start_pool()

    def use(self, job, handed_off=False):
        """From now on, give every chunk job(its readable pixels) as its result; handed_off:
        the handoff has it, so the workers run it (else it runs here)."""
        self.job = job
        self._handed_off = bool(handed_off and self._forked)

    def _start_pool(self):
        from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
        import multiprocessing

        workers = min(self.jobs, len(self._bounds))
        self._forked = "fork" in multiprocessing.get_all_start_methods()
        if self._forked:
            self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                             initializer=_worker_start, initargs=(self.handoff,))
            self._task = decode_chunk
        else:  # Pillow and BLAS let go of the GIL while they work, so threads still use the cores
            self._pool = ThreadPoolExecutor(workers)
            self._task = self._here
        self._window = 2 * workers + 2
        self._fill()

    def _fill(self):
        while self._next < len(self._bounds) and len(self._pending) < self._window:
            start, end = self._bounds[self._next]
            future = self._pool.submit(self._task, self.paths[start:end], self.size, self.channels, self.keep_pixels)
            self._pending.append(_Pending(start, end - start, future))
            self._next += 1

    def __iter__(self):
        if self._pool is None:
            for start, end in self._bounds:
                yield Decoded(start, end - start, *self._here(self.paths[start:end], self.size, self.channels))
            return
        while self._pending:
            head = self._pending[0]
            if head.decoded is None:
                pixels, problems, result = head.future.result()
            else:
                (pixels, problems), result = head.decoded, head.future.result()
            keep = [i for i in range(head.count) if i not in problems]
            if result is None and self.job is not None and keep:
                readable = pixels[keep] if problems else pixels
                if self._handed_off and head.decoded is None:  # decoded before the hand-off
                    head.decoded = (pixels, problems)
                    head.future = self._pool.submit(run_chunk, readable)
                    continue
                result = self.job(readable)
            self._pending.pop(0)
            self._fill()
            yield Decoded(head.start, head.count, pixels, problems, result)

    def _here(self, paths, size, channels, keep_pixels=True):
        """decode_chunk in this process (no pool, or a pool of threads), with the job if there is one."""
        pixels, problems = decode_files(paths, size, channels)
        keep = [i for i in range(len(paths)) if i not in problems]
        job = self.job
        result = job(pixels[keep] if problems else pixels) if job is not None and keep else None
        return pixels, problems, result

    def close(self):
        if self._pool is not None:
            for pending in self._pending:
                pending.future.cancel()
            self._pending = []
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _worker_start(handoff):
    # Ctrl-C goes to the parent, which shuts the pool down; workers just finish their chunk.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _HANDOFF
    _HANDOFF = handoff
    if handoff is not None:  # the worker may run the numpy engine (one BLAS thread: the workers fill the cores)
        from nnrun.infer.model import tune_for_numpy_engine

        tune_for_numpy_engine()
