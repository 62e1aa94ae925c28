"""Handing the numpy engine to image workers that were started before it existed.

Why: a submission is timed from the moment the command starts. Reading the checkpoint and
building the network take a noticeable share of a short run, and the image workers can decode
meanwhile, but a forked worker only has what its parent had when it forked. So the parent makes
one block of shared memory before it forks them, reads the checkpoint's arrays straight into it
(`allocate`), and, once the network is built, writes a small description of it there and raises
a flag (`publish`). A worker looks at the flag after each chunk it decodes (`take`): the first
time it is up, the worker builds the same engine on views of the shared arrays (no copy)
and runs it on every chunk. Chunks decoded before that come back as pixels, and the parent has
a worker run them.

Layout of the block: a header (flag, offset and length of the description), then the arrays,
each at a 64-byte boundary, then the description (pickled; it holds the engine's steps, the
preprocessing and where each array lies; only ever read back by this program's own workers).
"""
import functools
import mmap
import pickle
import struct

import numpy as np

_HEADER = struct.Struct("<QQQ")   # published (0/1), description offset, description length
_ALIGN = 64
_DESCRIPTION_ROOM = 1 << 20        # room kept for the description beyond the arrays


def _aligned(n):
    return -(-n // _ALIGN) * _ALIGN


class Handoff:
    """Shared memory for up to `capacity` bytes of arrays; make it before forking the workers."""

    def __init__(self, capacity):
        self._memory = mmap.mmap(-1, _aligned(_HEADER.size) + _aligned(capacity) + _DESCRIPTION_ROOM)
        self._bytes = np.frombuffer(self._memory, np.uint8)
        self._used = _aligned(_HEADER.size)
        self._work = None          # in a worker: what take() built, once

    @property
    def published(self):
        return _HEADER.unpack_from(self._memory, 0)[0] == 1

    def allocate(self, nbytes):
        """A writable uint8 array of `nbytes` in the shared block, or None when it is full."""
        start = self._used
        if start + nbytes > len(self._bytes) - _DESCRIPTION_ROOM:
            return None
        self._used = _aligned(start + nbytes)
        return self._bytes[start:start + nbytes]

    def publish(self, runs):
        """Share `runs` (model.Run of numpy engines) with the workers; False when it cannot
        (another engine, or no room), and the parent then runs them itself."""
        engines, placed = [], {}
        for run in runs:
            if getattr(run.engine, "name", None) != "numpy":
                return False
            if id(run.engine) not in placed:
                layout = self._place(run.engine.state)
                if layout is None:
                    return False
                placed[id(run.engine)] = len(engines)
                engines.append((run.engine.steps, run.engine.preprocessing, layout))
        description = pickle.dumps({"engines": engines,
                                    "runs": [(placed[id(r.engine)], tuple(r.leaves), r.mirrored) for r in runs]},
                                   protocol=pickle.HIGHEST_PROTOCOL)
        start = self._used
        if start + len(description) > len(self._bytes):
            return False
        self._bytes[start:start + len(description)] = np.frombuffer(description, np.uint8)
        self._used = _aligned(start + len(description))
        # The flag goes last: a worker that sees it finds everything else already written.
        _HEADER.pack_into(self._memory, 0, 1, start, len(description))
        return True

    def _place(self, state):
        """{name: (offset, dtype, shape)} for the engine's arrays, copied in unless already here."""
        base = self._bytes.__array_interface__["data"][0]
        layout = {}
        for name, array in state.items():
            array = np.ascontiguousarray(array)
            address = array.__array_interface__["data"][0]
            if not (base <= address and address + array.nbytes <= base + len(self._bytes)):
                target = self.allocate(array.nbytes)
                if target is None:
                    return None
                target[:] = array.reshape(-1).view(np.uint8)
                address = target.__array_interface__["data"][0]
            layout[name] = (address - base, array.dtype.str, array.shape)
        return layout

    def take(self):
        """In a worker: a function of a chunk's pixels -> the runs' outputs, or None until published."""
        if self._work is None:
            published, start, length = _HEADER.unpack_from(self._memory, 0)
            if not published:
                return None
            from nnrun.infer.engine_numpy import NumpyEngine
            from nnrun.infer.model import Run, run_all

            description = pickle.loads(self._memory[start:start + length])
            engines = [NumpyEngine.from_steps(steps, {name: self._view(*where) for name, where in layout.items()},
                                              preprocessing)
                       for steps, preprocessing, layout in description["engines"]]
            runs = [Run(engines[index], leaves, mirrored) for index, leaves, mirrored in description["runs"]]
            self._work = functools.partial(run_all, runs)
        return self._work

    def _view(self, offset, dtype, shape):
        dtype = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        return self._bytes[offset:offset + count * dtype.itemsize].view(dtype).reshape(shape)
