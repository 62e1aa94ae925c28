"""From network outputs to what a user reads: probability maps, classes, reconstruction errors.

Probabilities: a softmax leaf gives them directly. Any other classifying leaf (a sigmoid layer
trained with a quadratic cost, say) is made into a distribution by dividing its non-negative
outputs by their sum; a single output unit with two classes is P(second class). Every map
sums to 1.

The decision: with a positive class and a threshold (binary problems; from the checkpoint, or
--positive/--threshold), P(positive) >= threshold gives the positive class and otherwise the
most probable of the others. Without them, the most probable class.
"""
from dataclasses import dataclass

import numpy as np

from nnrun.errors import UserError
from nnrun.infer.model import Run, run_all


@dataclass
class Decision:
    classes: list
    positive: object = None      # index into classes, or None
    threshold: object = None     # float, or None

    @classmethod
    def for_model(cls, model, positive=None, threshold=None):
        """The checkpoint's positive class and threshold, with command-line overrides."""
        classes = list(model.classes)
        positive = positive if positive is not None else model.positive
        if threshold is not None and positive is None:
            if len(classes) != 2:
                raise UserError(f"--threshold needs a positive class, and {model.path} has {len(classes)} "
                                f"classes and none marked positive: add --positive CLASS")
            positive = classes[1]
        if positive is not None and str(positive) not in classes:
            raise UserError(f'positive class "{positive}" is not one of {model.path}\'s classes '
                            f"({', '.join(classes)})")
        if threshold is None:
            threshold = model.threshold
        if threshold is not None and not 0.0 <= float(threshold) <= 1.0:
            raise UserError(f"--threshold {threshold}: a probability threshold is between 0 and 1")
        index = classes.index(str(positive)) if positive is not None else None
        return cls(classes, index, None if threshold is None or index is None else float(threshold))

    @property
    def positive_name(self):
        return None if self.positive is None else self.classes[self.positive]

    def decide(self, p):
        """Class indices [N] for probabilities [N, K]."""
        if self.positive is None or self.threshold is None:
            return p.argmax(axis=1)
        others = p.copy()
        others[:, self.positive] = -1.0
        chosen = others.argmax(axis=1)
        chosen[p[:, self.positive] >= self.threshold] = self.positive
        return chosen


def probabilities(raw, leaf, classes, where):
    """Class probabilities float64 [N, K] from the classifying leaf's output [N, ...]."""
    out = np.asarray(raw, dtype=np.float64).reshape(len(raw), -1)
    k = len(classes)
    if out.shape[1] == 1 and k == 2:
        q = np.clip(out[:, 0], 0.0, 1.0)
        return np.stack([1.0 - q, q], axis=1)
    if out.shape[1] != k:
        raise UserError(f"{where}: the network gives {out.shape[1]} outputs per input, but the checkpoint "
                        f"names {k} classes ({', '.join(classes[:10])})")
    if leaf.layer != "softmax":
        out = np.clip(out, 0.0, None)
    total = out.sum(axis=1, keepdims=True)
    flat = total[:, 0] <= 0
    if flat.any():
        out[flat] = 1.0
        total[flat] = k
    return out / total


def top_k(p, k):
    """Indices [N, k] of the k most probable classes, most probable first."""
    return np.argsort(-p, axis=1, kind="stable")[:, :k]


def network_inputs(model, stored):
    """The network's inputs for stored values (what a reconstruction is compared with)."""
    scale, shift = model.preprocessing.scale_and_shift()
    return np.asarray(stored, dtype=np.float32) * scale + shift


def reconstruction_errors(model, stored, reconstruction):
    """Mean squared error per input between the reconstruction and the network's input."""
    target = network_inputs(model, stored).reshape(len(stored), -1)
    diff = np.asarray(reconstruction, dtype=np.float64).reshape(len(stored), -1) - target
    return (diff * diff).mean(axis=1)


def stored_values(model, values):
    """Undo the preprocessing: network-space values -> stored form (uint8 pixels for images)."""
    scale, shift = model.preprocessing.scale_and_shift()
    out = (np.asarray(values, dtype=np.float32).reshape(len(values), *_stored_dims(model)) - shift) / scale
    if model.kind == "images":
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out


def _stored_dims(model):
    p = model.preprocessing
    return (p.channels, p.image_size, p.image_size) if p.kind == "images" else (len(p.features),)


class Ensemble:
    """One or more models on the same inputs, optionally with mirror test-time augmentation:
    the class probabilities of every model and view, averaged."""

    def __init__(self, models, tta=None):
        first = models[0]
        for other in models[1:]:
            if list(other.classes) != list(first.classes):
                raise UserError(f"{other.path} has classes {', '.join(other.classes)}, but {first.path} has "
                                f"{', '.join(first.classes)}: an ensemble needs the same classes in the same order")
            if other.kind != first.kind or (first.kind == "images" and other.image_spec != first.image_spec) \
                    or (first.kind == "table" and other.preprocessing.features != first.preprocessing.features):
                raise UserError(f"{other.path} takes {other.describe_input()}, but {first.path} takes "
                                f"{first.describe_input()}: an ensemble's members need the same inputs")
        for model in models:
            if model.is_autoencoder:
                raise UserError(f"{model.path} is an autoencoder: it reconstructs its input and gives no classes")
        if tta not in (None, "mirror"):
            raise UserError(f"--tta {tta}: the test-time augmentation offered is mirror")
        if tta == "mirror" and first.kind != "images":
            raise UserError("--tta mirror is for image networks; these checkpoints take table rows")
        self.models, self.tta = models, tta

    @property
    def runs(self):
        """Every model on the batch, and on its mirror image with --tta mirror (see model.run_all)."""
        views = (False, True) if self.tta == "mirror" else (False,)
        return [Run(model.engine, model.leaves, mirrored) for model in self.models for mirrored in views]

    def probabilities(self, stored):
        """Class probabilities [N, K] of a batch of stored values, averaged over models and views."""
        return self.from_outputs(run_all(self.runs, stored))

    def from_outputs(self, outputs):
        """probabilities(), from what run_all(self.runs, ...) gave (maybe in an image worker)."""
        per_model = len(outputs) // len(self.models)
        total = None
        for i, leaves in enumerate(outputs):
            model = self.models[i // per_model]
            p = probabilities(leaves[model.class_leaf.id], model.class_leaf, model.classes, model.path)
            total = p if total is None else total + p
        return total / len(outputs)
