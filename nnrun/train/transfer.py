"""`train.init-from`: start a network from another model's weights (transfer learning).

Every tensor whose layer id, name and shape match is copied; the rest keep their fresh
initialisation. With `non-trainable?` or `learning-attenuation` on the network's layers this
fine-tunes only the new head.
"""
import torch

from nnrun.checkpoint import read_checkpoint
from nnrun.errors import UserError
from nnrun.model_io import KIND


def init_from(network, path):
    """Copy matching tensors from the checkpoint at `path`; (copied names, fresh names)."""
    payload = read_checkpoint(path)
    if payload.get("kind") != KIND or not isinstance(payload.get("tensors"), dict):
        raise UserError(f"train.init-from: {path} is not a model checkpoint")
    source = payload["tensors"]
    copied, fresh = [], []
    with torch.no_grad():
        for name, tensor in network.state_dict().items():
            other = source.get(name)
            if isinstance(other, torch.Tensor) and tuple(other.shape) == tuple(tensor.shape):
                tensor.copy_(other.to(dtype=tensor.dtype))
                copied.append(name)
            else:
                fresh.append(name)
    if not copied:
        raise UserError(f"train.init-from: no layer of {path} matches this network by id and shape")
    return copied, fresh


def layer_names(tensor_names):
    """'layers.conv-1.weight' -> 'conv-1', in order, without repeats."""
    seen = {}
    for name in tensor_names:
        parts = name.split(".")
        seen.setdefault(parts[1] if len(parts) > 2 and parts[0] == "layers" else parts[0], None)
    return list(seen)
