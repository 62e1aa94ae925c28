"""A prepared split, ready to be batched on the training device.

A split that fits (`RESIDENT_BYTES`) is copied to the device once and batches are gathered from
it with index tensors. When no augmentation needs the stored values, it is kept already
preprocessed (float inputs), so a training step is one gather; otherwise it is kept as stored
(uint8 pixels stay uint8 until they are on the device) and each batch is converted there.
A split too large for that stays memory-mapped and each batch is read from the file.

Label targets: class indices for a cross-entropy-from-logits leaf; one-hot rows (made once, on
the device) for losses that compare values, such as the from-scratch network's quadratic cost.
"""
import numpy as np
import torch

RESIDENT_BYTES = 2 * 2**30


def _owned(array):
    """A writable, contiguous in-memory copy of (part of) a memory-mapped array."""
    return np.array(array, copy=True, order="C")


class Inputs:
    """Stored values -> network inputs on the device: x · scale + shift, in the network's dtype."""

    def __init__(self, preprocessing, device, dtype):
        scale, shift = preprocessing.scale_and_shift()
        self.scale = torch.from_numpy(scale).to(device=device, dtype=dtype)
        self.shift = torch.from_numpy(shift).to(device=device, dtype=dtype)
        self.dtype = dtype

    def __call__(self, stored):
        return torch.addcmul(self.shift, stored.to(self.dtype), self.scale)


class SplitData:
    """One split of a prepared dataset on `device`."""

    def __init__(self, dataset, split, inputs, device, *, keep_stored=False, one_hot=False,
                 resident_bytes=RESIDENT_BYTES, input_dims=None):
        self.split, self.device, self.inputs = split, torch.device(device), inputs
        self.input_dims = tuple(input_dims) if input_dims else None  # the network input's item shape
        self.x_file = dataset.x(split)
        self.count = len(self.x_file)
        self.labelled = dataset.labelled and "y" in dataset.manifest["splits"][split]
        self.labels_np = dataset.y(split) if self.labelled else None
        self.labels = torch.from_numpy(_owned(self.labels_np)).to(self.device) \
            if self.labelled else None
        self.one_hot = None
        if one_hot and self.labelled:
            eye = torch.eye(len(dataset.classes), dtype=inputs.dtype, device=self.device)
            self.one_hot = eye[self.labels]
        item_bytes = int(np.prod(self.x_file.shape[1:])) * inputs.dtype.itemsize
        self.keep_stored = keep_stored
        self.stored = self.ready = None
        if keep_stored:
            if self.x_file.nbytes <= resident_bytes:
                self.stored = torch.from_numpy(_owned(self.x_file)).to(self.device)
        elif self.count * item_bytes <= resident_bytes:
            self.ready = self._convert(self.x_file)

    def _convert(self, array, chunk=8192):
        """Preprocess a (memory-mapped) array to inputs on the device, a chunk at a time."""
        parts = []
        for start in range(0, len(array), chunk):
            stored = torch.from_numpy(_owned(array[start:start + chunk])).to(self.device)
            parts.append(self.inputs(stored))
        ready = torch.cat(parts) if len(parts) != 1 else parts[0]
        if self.input_dims and tuple(ready.shape[1:]) != self.input_dims:  # e.g. 1×28×28 images -> 784
            ready = ready.reshape(len(ready), *self.input_dims)
        return ready

    def stored_batch(self, index):
        """Stored values (on the device, as stored) of the examples `index` (a device tensor)."""
        if self.stored is not None:
            return self.stored.index_select(0, index)
        rows = index.cpu().numpy()
        return torch.from_numpy(np.ascontiguousarray(self.x_file[rows])).to(self.device, non_blocking=True)

    def input_batch(self, index):
        """Network inputs of the examples `index` (no augmentation)."""
        if self.ready is not None:
            return self.ready.index_select(0, index)
        return self.inputs(self.stored_batch(index))

    def input_range(self, start, stop):
        """Network inputs of examples start..stop-1, in order (evaluation)."""
        if self.ready is not None:
            return self.ready[start:stop]
        if self.stored is not None:
            return self.inputs(self.stored[start:stop])
        return self.inputs(torch.from_numpy(_owned(self.x_file[start:stop])).to(self.device))
