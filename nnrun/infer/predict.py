"""From network outputs to what a user reads: classes, top-k, ensembles, reconstructions.

The network itself gives probability maps and reconstruction errors (nnrun.network.predictor).
The decision: with a positive class and a threshold (binary problems; from the checkpoint, or
--positive/--threshold), P(positive) >= threshold gives the positive class and otherwise the
most probable of the others. Without them, the most probable class.
"""
from dataclasses import dataclass

import numpy as np

from nnrun.errors import UserError
from nnrun.train.metrics import predict


@dataclass
class Decision:
    classes: list
    positive: object = None      # index into classes, or None
    threshold: object = None     # float, or None
    origin: str = "the checkpoint's threshold"   # where the threshold came from, for describe()

    @classmethod
    def for_model(cls, model, positive=None, threshold=None):
        """The checkpoint's positive class and threshold, with command-line overrides."""
        classes = list(model.classes)
        threshold_given = threshold is not None
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
        origin = "--threshold" if threshold_given else "the checkpoint's threshold"
        return cls(classes, index, None if threshold is None or index is None else float(threshold), origin)

    def describe(self):
        """The rule in words, for the line `infer` prints with its records: a probability map alone does not
        say why {"dog": 0.749} is a cat. None when the most probable class wins (no threshold)."""
        if self.threshold is None:
            return None
        positive = self.classes[self.positive]
        others = [c for c in self.classes if c != positive]
        otherwise = f'"{others[0]}"' if len(others) == 1 else "the most probable other class"
        return f'"{positive}" when P({positive}) >= {self.threshold:.6g} ({self.origin}), else {otherwise}'

    def decide(self, p):
        """Class indices [N] for probabilities [N, K], by the rule training measured with."""
        return predict(p, self.positive, self.threshold)


def top_k(p, k):
    """Indices [N, k] of the k most probable classes, most probable first."""
    return np.argsort(-p, axis=1, kind="stable")[:, :k]


class Work:
    """What `infer` and `kaggle-submit` compute on a batch of stored values: one model's outputs
    ({name: array}, see nnrun.network.predictor), or, for several models (an ensemble) and/or
    mirror test-time augmentation, {"probabilities": the average over models and views}."""

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
        if len(models) > 1 or tta:
            for model in models:
                if model.is_autoencoder:
                    raise UserError(f"{model.path} is an autoencoder: it reconstructs its input and gives no classes")
        if tta not in (None, "mirror"):
            raise UserError(f"--tta {tta}: the test-time augmentation offered is mirror")
        if tta == "mirror" and first.kind != "images":
            raise UserError("--tta mirror is for image networks; these checkpoints take table rows")
        self.models, self.tta = models, tta

    @property
    def fits_workers(self):
        """Whether image workers should run this (ONNX Runtime engines, one per worker)."""
        return all(model.engine_name == "onnx" for model in self.models)

    def for_worker(self):
        for model in self.models:
            model.for_worker()

    def __call__(self, stored):
        if len(self.models) == 1 and not self.tta:
            return self.models[0].run(stored)
        views = [stored]
        if self.tta == "mirror":  # left-right: the last axis of [N, C, H, W]
            views.append(np.ascontiguousarray(stored[..., ::-1]))
        total = sum(model.run(view)["probabilities"].astype(np.float64) for model in self.models for view in views)
        return {"probabilities": total / (len(self.models) * len(views))}
