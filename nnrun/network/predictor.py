"""The network as inference sees it: stored values in, what `nnrun infer` reports out.

One definition serves every engine: the torch engine runs this module, and the ONNX graph that
ONNX Runtime runs (and that `nnrun export` writes) is this module exported. So preprocessing,
the probability map and the reconstruction error are computed in one place, the same way.

    input                  stored values: uint8 [N, C, S, S] images or float32 [N, F] rows
    probabilities          [N, K], each row sums to 1 (classifiers)
    reconstruction         the reconstruction leaf's output, in the network's input space
    reconstruction_error   [N], the mean squared difference between it and the network's input

(Plan.inference_outputs names those a network gives.)
A softmax leaf gives probabilities directly. Any other classifying leaf (sigmoid outputs trained
with a quadratic cost, say) has its non-negative outputs divided by their sum, a row of zeros
becoming uniform; a single output unit with two classes is P(second class).
"""
import torch
from torch import nn


class Predictor(nn.Module):
    def __init__(self, network, preprocessing, class_count):
        super().__init__()
        self.network = network
        scale, shift = preprocessing.scale_and_shift()
        self.register_buffer("scale", torch.from_numpy(scale), persistent=False)
        self.register_buffer("shift", torch.from_numpy(shift), persistent=False)
        classifying, reconstructing = network.plan.classifying_leaf, network.plan.reconstructing_leaf
        self.class_leaf = classifying.id if classifying is not None else None
        self.softmax = classifying is not None and classifying.layer == "softmax"
        self.recon_leaf = reconstructing.id if reconstructing is not None else None
        self.class_count = class_count

    def forward(self, stored):
        x = stored.float() * self.scale + self.shift
        outputs, _ = self.network.run(x)
        results = []
        if self.class_leaf is not None:
            results.append(self._probabilities(outputs[self.class_leaf].float().flatten(1)))
        if self.recon_leaf is not None:
            reconstruction = outputs[self.recon_leaf].float()
            difference = reconstruction.flatten(1) - x.flatten(1)
            results += [reconstruction, (difference * difference).mean(dim=1)]
        return tuple(results)

    def _probabilities(self, out):
        if out.shape[1] == 1 and self.class_count == 2:
            q = out.clamp(0.0, 1.0)
            return torch.cat([1.0 - q, q], dim=1)
        if self.softmax:
            return out
        out = out.clamp(min=0.0)
        total = out.sum(dim=1, keepdim=True)
        flat = total <= 0
        return torch.where(flat, torch.full_like(out, 1.0 / out.shape[1]), out / torch.where(flat, 1.0, total))
