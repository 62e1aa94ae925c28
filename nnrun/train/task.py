"""What a network learns from a dataset: its leaves, their losses and targets, the classes, the
positive class, the metric that selects the best epoch and the splits in play.

`make_task(spec, dataset)` checks that the config and the dataset agree (input size and image
shape against the features, output size against the classes, a positive class that is a class,
splits that exist) and raises a UserError naming the place when they do not.
"""
from dataclasses import dataclass

from nnrun.errors import UserError, did_you_mean


@dataclass(frozen=True)
class Leaf:
    id: str
    loss: str                 # nnrun.network.loss kinds
    from_logits: bool         # the network gives this leaf's pre-activation when training
    target: object            # the input id it reconstructs, or None: it predicts the labels
    activation: str           # the leaf's layer (softmax, logistic, ...), to turn logits into outputs


@dataclass(frozen=True)
class Task:
    input_id: str
    leaves: tuple             # every leaf, in plan order
    primary: Leaf             # the leaf whose outputs the metrics judge
    classes: tuple            # class names
    positive: object          # the positive class index, or None
    metric: str               # "f-beta", "accuracy" or "loss"
    beta: float
    threshold: object         # "auto", a number, or None (most probable class)
    train_split: str
    selection_split: str
    test_split: object        # str or None
    odds_ratio: float = 1.0   # sampled / natural odds of the positive class in training ("calibrated")

    @property
    def autoencoder(self):
        return self.primary.target is not None

    @property
    def labelled(self):
        return any(leaf.target is None for leaf in self.leaves)

    @property
    def binary(self):
        return len(self.classes) == 2 and not self.autoencoder


def leaf_of(plan, node):
    logits = plan.fuses_activation(node)
    return Leaf(node.id, plan.loss(node), logits, plan.target(node), node.layer)


def make_task(spec, dataset):
    plan, data, train = spec.plan, spec.data, spec.train
    if len(plan.inputs) != 1:
        ids = ", ".join(n.id for n in plan.inputs)
        raise UserError(f"network: has {len(plan.inputs)} inputs ({ids}); training reads one data stream")
    source = plan.inputs[0]
    _check_input(source, dataset)
    leaves = tuple(leaf_of(plan, node) for node in plan.leaves)
    classes = tuple(dataset.classes)
    for node, leaf in zip(plan.leaves, leaves):
        if leaf.target is None:
            if not dataset.labelled:
                raise UserError(f"{node.place}: predicts labels, but {dataset.path} is unlabelled")
            if node.out_shape.size != len(classes):
                raise UserError(f"{node.place}: gives {node.out_shape.size} outputs, but {dataset.path} has "
                                f"{len(classes)} classes ({_listed(classes)})")
    labelled = [leaf for leaf in leaves if leaf.target is None]
    primary = labelled[0] if labelled else leaves[0]

    metric = train["metric"]
    name = metric["name"]
    if name == "auto":
        name = "loss" if not labelled else ("f-beta" if len(classes) == 2 else "accuracy")
    if not labelled and name != "loss":
        raise UserError(f"train.metric: {name} needs labels, but this network only reconstructs its input; "
                        f"use loss")
    positive = None
    if labelled:
        if metric["positive"] is not None:
            if metric["positive"] not in classes:
                raise UserError(f'train.metric.positive: "{metric["positive"]}" is not a class of {dataset.path} '
                                f"(its classes: {_listed(classes)}){did_you_mean(metric['positive'], classes)}")
            positive = classes.index(metric["positive"])
        elif len(classes) == 2 or name == "f-beta":
            positive = rarer_class(dataset, data["train-split"], classes)
    threshold = train["threshold"] if positive is not None and len(classes) == 2 else None
    if name == "f-beta" and positive is None:
        raise UserError("train.metric: f-beta needs a positive class (train.metric.positive)")

    train_split = data["train-split"]
    if not dataset.has_split(train_split):
        raise UserError(f'data.train-split: {dataset.path} has no "{train_split}" split '
                        f"(it has {_listed(dataset.split_names)})")
    selection = data["selection-split"]
    if selection == "auto":
        selection = next((s for s in ("validation", "test") if dataset.has_split(s)), None)
        if selection is None:
            raise UserError(f"{dataset.path}: has no validation or test split to select the best epoch on; "
                            f"prepare it with --test-size or --validation-size, or set data.selection-split")
    elif not dataset.has_split(selection):
        raise UserError(f'data.selection-split: {dataset.path} has no "{selection}" split '
                        f"(it has {_listed(dataset.split_names)})")
    test = data["test-split"]
    if test == "auto":
        test = "test" if dataset.has_split("test") and selection != "test" else None
    elif test == "none":
        test = None
    elif not dataset.has_split(test):
        raise UserError(f'data.test-split: {dataset.path} has no "{test}" split '
                        f"(it has {_listed(dataset.split_names)})")
    for split in {train_split, selection, test} - {None}:
        if dataset.count(split) == 0:
            raise UserError(f'{dataset.path}: the "{split}" split is empty')
    return Task(source.id, leaves, primary, classes, positive, name, metric["beta"], threshold,
                train_split, selection, test)


def rarer_class(dataset, split, classes):
    """The default positive class: the one with the fewest training examples (the last of
    equally rare ones, so a balanced two-class set keeps its second class, as before)."""
    counts = dataset.class_counts(split) if dataset.has_split(split) else {}
    if not counts:
        return len(classes) - 1
    return min(range(len(classes)), key=lambda c: (counts.get(classes[c], 0), -c))


def _check_input(node, dataset):
    shape = node.out_shape
    if dataset.kind == "table":
        width = len(dataset.features or [])
        if shape.image or shape.size != width:
            raise UserError(f"{node.place}: takes {shape} values, but {dataset.path} has {width} features")
        return
    image = dataset.image
    c, s = image["channels"], image["size"]
    if shape.image:
        if (shape.channels, shape.height, shape.width) != (c, s, s):
            raise UserError(f"{node.place}: takes {shape.width}×{shape.height}×{shape.channels} images "
                            f"(width height channels), but {dataset.path} holds {s}×{s}×{c}")
    elif shape.size != c * s * s:
        raise UserError(f"{node.place}: takes {shape.size} values, but {dataset.path} holds {s}×{s}×{c} "
                        f"images ({c * s * s} values)")


def _listed(names):
    names = list(names)
    return ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")


def model_task(loaded, dataset, split):
    """The task of a trained model (a LoadedModel) measured on `split` of `dataset`; UserError when
    the dataset does not fit the model (input shape, classes)."""
    plan = loaded.plan
    if len(plan.inputs) != 1:
        raise UserError(f"the model has {len(plan.inputs)} inputs; evaluate reads one data stream")
    _check_input(plan.inputs[0], dataset)
    if not dataset.has_split(split):
        raise UserError(f'{dataset.path} has no "{split}" split (it has {_listed(dataset.split_names)})')
    leaves = tuple(leaf_of(plan, node) for node in plan.leaves)
    labelled = [leaf for leaf in leaves if leaf.target is None]
    classes = tuple(loaded.classes)
    if labelled:
        if not dataset.labelled or "y" not in dataset.manifest["splits"][split]:
            raise UserError(f'{dataset.path}: the "{split}" split has no labels to measure against')
        if tuple(dataset.classes) != classes:
            raise UserError(f"{dataset.path}: its classes ({_listed(dataset.classes)}) are not the model's "
                            f"({_listed(classes)})")
    train = loaded.payload.get("train") or {}
    metric = (train.get("metric") or {}) if isinstance(train.get("metric"), dict) else {}
    beta = float(metric.get("beta") or 1.0)
    name = metric.get("name") or "auto"
    if name == "auto":
        name = "loss" if not labelled else ("f-beta" if len(classes) == 2 else "accuracy")
    positive = classes.index(loaded.positive) if loaded.positive in classes and labelled else None
    threshold = loaded.threshold if positive is not None and len(classes) == 2 else None
    return Task(plan.inputs[0].id, leaves, labelled[0] if labelled else leaves[0], classes, positive, name,
                beta, threshold, split, split, None)
