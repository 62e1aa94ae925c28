"""Test-time augmentation for `nnrun evaluate --tta mirror`, as `nnrun kaggle-submit --tta mirror`
does it: each image's class probabilities are the average of the image's and its mirror image's.

`MirrorAverage` wraps a network for nnrun.train.evaluation.predict_split: its `run` hands the
averaged probabilities back in the form the leaf's loss expects (log-probabilities in place of a
softmax leaf's logits, whose softmax they are), so the loss and every metric see the average.
"""
import torch

from nnrun.errors import UserError
from nnrun.train.evaluation import to_outputs


class MirrorAverage:
    def __init__(self, network, task, image_input):
        if not image_input:
            raise UserError("--tta mirror is for networks that take images; this one takes rows of values")
        if task.autoencoder:
            raise UserError("--tta mirror averages class probabilities; this network reconstructs its input")
        self.network, self.leaf = network, task.primary

    @property
    def training(self):
        return self.network.training

    def eval(self):
        self.network.eval()
        return self

    def train(self, mode=True):
        self.network.train(mode)
        return self

    def run(self, x, logits=True):
        outputs, penalty = self.network.run(x, logits=logits)
        mirrored, _ = self.network.run(x.flip(3), logits=logits)
        key, leaf = self.leaf.id, self.leaf
        mean = (to_outputs(leaf, outputs[key]) + to_outputs(leaf, mirrored[key])) / 2
        if leaf.from_logits:
            tiny = torch.finfo(mean.dtype).tiny
            mean = mean.clamp_min(tiny).log() if leaf.activation == "softmax" else \
                torch.logit(mean.clamp(tiny, 1 - 1e-16))
        return {**outputs, key: mean}, penalty
