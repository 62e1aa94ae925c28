"""The torch engine: the checkpoint's own network (any layer), on the CPU or a GPU."""
import numpy as np


class TorchEngine:
    name = "torch"

    def __init__(self, network, preprocessing, device):
        import torch

        self.torch = torch
        self.network = network
        self.preprocessing = preprocessing
        self.device = device
        scale, shift = preprocessing.scale_and_shift()
        self.scale = torch.from_numpy(scale).to(device)
        self.shift = torch.from_numpy(shift).to(device)

    def run(self, stored, leaves):
        """Stored values (uint8 images / float32 rows, a batch) -> {leaf id: float32 numpy output}.
        The raw batch goes to the device as it is (uint8 is 4× less to copy) and is scaled there."""
        torch = self.torch
        stored = np.ascontiguousarray(stored)
        if not stored.flags.writeable:  # a memory-mapped split: torch wants memory it may write
            stored = stored.copy()
        x = torch.from_numpy(stored)
        with torch.inference_mode():
            x = x.to(self.device, non_blocking=True).float() * self.scale + self.shift
            outputs, _ = self.network.run(x)
            return {leaf: outputs[leaf].float().cpu().numpy() for leaf in leaves}


def state_as_numpy(network):
    """The network's state dict as numpy arrays (for the numpy engine)."""
    return {name: value.detach().cpu().float().numpy() if value.is_floating_point() else value.cpu().numpy()
            for name, value in network.state_dict().items()}
