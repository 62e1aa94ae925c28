"""The `data` and `train` sections of a config: every key, its check and its default.

`nnrun train CONFIG --print-config` shows the result of `validate_map` over these, so what a
run used is always visible. Keys are kebab-case, as in Cortex.
"""
from nnrun.config.schema import (Field, any_of, boolean, integer, list_of, number, number_range, one_of,
                                 section, text, validate_map)
from nnrun.errors import UserError, did_you_mean

# ---- data ------------------------------------------------------------------------------------

PREPROCESSING = ("auto", "standardize", "centered", "unit", "none")

DATA_FIELDS = {
    "path": Field(text(null=True), None, "the prepared dataset folder (made by `nnrun prepare`)"),
    "train-split": Field(text(), "train", "the split that trains"),
    "selection-split": Field(text(), "auto", "the split that selects the best epoch: auto = "
                             "validation when the dataset has one, else test"),
    "test-split": Field(text(), "auto", "the split the best checkpoint is tested on at the end: auto = "
                        "test when it exists and does not select; none = no final test"),
    "preprocessing": Field(one_of(*PREPROCESSING), "auto",
                           "auto: standardize tables, centered images; centered: pixel/255 − 0.5 "
                           "(Cortex); unit: pixel/256 (the from-scratch network); standardize: "
                           "training-split mean/std; none: as stored"),
}


def data_section(value, path="data"):
    """`data: PATH` is short for `data: {path: PATH}`."""
    if isinstance(value, str):
        value = {"path": value}
    return validate_map(value, DATA_FIELDS, path)


# ---- optimizer -------------------------------------------------------------------------------

# Cortex's defaults for each optimizer.
OPTIMIZER_DEFAULTS = {
    "adam": {"learning-rate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
    "adadelta": {"learning-rate": 1.0, "rho": 0.95, "epsilon": 1e-6},
    "sgd": {"learning-rate": 0.001, "momentum": 0.9, "nesterov": True},
    # Adam with decoupled weight decay (Loshchilov & Hutter), torch's defaults
    "adamw": {"learning-rate": 0.001, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
}
DEFAULT_WEIGHT_DECAY = {"adamw": 0.01}  # the others: 0
OPTIMIZER_FIELDS = {
    "type": Field(one_of(*OPTIMIZER_DEFAULTS), "adam", "adam, adadelta, sgd or adamw"),
    "learning-rate": Field(number(above=0, null=True), None, "the step size", aliases=("lr",)),
    "beta1": Field(number(0, 1, null=True)), "beta2": Field(number(0, 1, null=True)),
    "epsilon": Field(number(above=0, null=True)),
    "rho": Field(number(0, 1, null=True), None, "adadelta's decay (Cortex's decay 0.05 is rho 0.95)"),
    "momentum": Field(number(0, null=True), None, "sgd momentum; 0 gives plain SGD"),
    "nesterov": Field(any_of(boolean, one_of(None)), None),
    "weight-decay": Field(number(0, null=True), None, "adam, adadelta, sgd: L2 penalty on weights (0); "
                          "adamw: decoupled weight decay (0.01)"),
}


def optimizer_section(value, path):
    if isinstance(value, str):
        value = {"type": value}
    resolved = validate_map(value, OPTIMIZER_FIELDS, path)
    defaults = OPTIMIZER_DEFAULTS[resolved["type"]]
    if resolved["weight-decay"] is None:
        resolved["weight-decay"] = DEFAULT_WEIGHT_DECAY.get(resolved["type"], 0.0)
    for key, field_value in list(resolved.items()):
        if key in ("type", "weight-decay"):
            continue
        if key not in defaults:
            if field_value is not None:
                raise UserError(f'{path}.{key}: not an option of {resolved["type"]} '
                                f'(its options: {", ".join(defaults)}, weight-decay)')
            del resolved[key]
        elif field_value is None:
            resolved[key] = defaults[key]
    if resolved["type"] == "sgd" and resolved["momentum"] == 0:
        resolved["nesterov"] = False
    return resolved


# ---- metric, schedule, augmentation ----------------------------------------------------------

METRIC_FIELDS = {
    "name": Field(one_of("auto", "f-beta", "accuracy", "loss"), "auto",
                  "auto: f-beta for two classes, accuracy for more, loss for autoencoders"),
    "beta": Field(number(above=0), 1.0, "F-beta's beta: 1 weighs precision and recall equally"),
    "positive": Field(text(null=True), None, "the positive class name (default: the rarer class in training; the last of equally rare ones)"),
}

SCHEDULE_FIELDS = {
    "type": Field(one_of("step", "cosine", "reduce-on-plateau"), "step"),
    "step-size": Field(integer(1), 10, "step: epochs between decays"),
    "gamma": Field(number(above=0, maximum=1), 0.1, "step: the decay factor"),
    "factor": Field(number(above=0, maximum=1), 0.5, "reduce-on-plateau: the decay factor"),
    "patience": Field(integer(0), 3, "reduce-on-plateau: epochs without improvement before decaying"),
    "min-learning-rate": Field(number(0), 0.0, "cosine and reduce-on-plateau: the floor"),
    "warmup-epochs": Field(integer(0, 10**6), 0, "step and cosine: the rate rises linearly over these "
                           "epochs before the schedule starts (cosine then anneals over the rest)"),
}

# Augmentation name -> (its parameters' fields, the parameter a bare value sets).
AUGMENTATIONS = {
    "variance-noise": ({"scale": Field(number(above=0), 5000.0), "class": Field(text(null=True), None)},
                       "scale"),
    "gaussian-noise": ({"std": Field(number(above=0), 0.1)}, "std"),
    "rotation": ({"degrees": Field(integer(0, 180), 25)}, "degrees"),
    "pixel-noise": ({"fraction": Field(number(0, 1), 0.25)}, "fraction"),
    "mirror": ({"probability": Field(number(0, 1), 0.5)}, "probability"),
    # (at most the largest image side: padding is allocated around every image of a batch)
    "shift": ({"pixels": Field(integer(0, 4096), 4)}, "pixels"),
    "crop": ({"padding": Field(integer(0, 4096), 4)}, "padding"),
    "colour-shift": ({"amount": Field(number(0), 0.1)}, "amount"),
    "input-noise": ({"std": Field(number(0), 0.3), "fraction": Field(number(0, 1), 0.0)}, "std"),
    "random-resized-crop": ({"scale": Field(number_range(0, 1), [0.08, 1.0]),
                             "ratio": Field(number_range(0, 100), [0.75, 4 / 3])}, "scale"),
}


def augmentation_item(value, path):
    """`mirror`, `rotation: 25`, or `rotation: {degrees: 25}` -> {"name": ..., params}."""
    if isinstance(value, str):
        name, params = value, None
    elif isinstance(value, dict) and isinstance(value.get("name"), str) and value["name"] in AUGMENTATIONS:
        # the resolved form (what --print-config and a run's config.yaml show): {name: ..., params}
        name, params = value["name"], {k: v for k, v in value.items() if k != "name"}
    elif isinstance(value, dict) and len(value) == 1:
        name, params = next(iter(value.items()))
    elif isinstance(value, list) and value and isinstance(value[0], str):  # EDN call form
        name, params = value[0], (value[1] if len(value) == 2 else (value[1:] or None))
    else:
        raise UserError(f"{path}: an augmentation is a name or name: parameters, got {value!r}")
    if name not in AUGMENTATIONS:
        raise UserError(f'{path}: unknown augmentation "{name}"{did_you_mean(name, AUGMENTATIONS)}')
    fields, main = AUGMENTATIONS[name]
    if params is not None and not isinstance(params, dict):
        params = {main: params}
    return {"name": name, **validate_map(params, fields, f"{path}.{name}")}


# ---- train -----------------------------------------------------------------------------------

# an epoch's sample order is drawn as one array of indices: 2**31 of them is already 16 GB
EPOCH_SIZE_FIELDS = {"passes": Field(number(above=0, maximum=2**31 - 1), 1.0,
                                     "passes over the training split (a fraction is allowed)"),
                     "at-least": Field(integer(1, 2**31 - 1, null=True), None,
                                       "but never fewer samples than this (small tables)")}


def _epoch_size(value, path):
    if isinstance(value, dict):
        return validate_map(value, EPOCH_SIZE_FIELDS, path)
    return integer(1, 2**31 - 1, null=True)(value, path)


def _class_weights(value, path):
    if value is None or value == "balanced":
        return value
    if not isinstance(value, dict) or not value:
        raise UserError(f"{path}: must be balanced or a map of class name to weight, got {value!r}")
    return {str(name): number(0)(weight, f"{path}.{name}") for name, weight in value.items()}


def _threshold(value, path):
    if value in ("auto", "calibrated"):
        return value
    return number(0, 1)(value, path)


def device_value(value, path):
    if value in ("auto", "cpu", "cuda") or (isinstance(value, str) and value.startswith("cuda:")
                                             and value[5:].isdigit()):
        return value
    raise UserError(f"{path}: must be auto, cpu, cuda or cuda:N, got {value!r}")


TRAIN_FIELDS = {
    "optimizer": Field(optimizer_section, "adam", "adam (default), adadelta or sgd, with options"),
    "batch-size": Field(integer(1), 128, "samples per step"),
    "epoch-count": Field(integer(1, null=True), None, "epochs to run; null trains until stopped"),
    # an epoch's sample order is drawn as one array of indices: 2**31 of them is already 16 GB
    "epoch-size": Field(_epoch_size, None, "samples per epoch, or {passes: N, at-least: M}: N passes over "
                        "the training split, at least M samples; null: one pass"),
    "class-weights": Field(_class_weights, None, "weights of the classes in the loss: balanced (each class "
                           "weighs n/(k·n_class)) or {CLASS: weight}; null: all 1"),
    "label-smoothing": Field(number(0, 0.999), 0.0, "cross-entropy against (1−ε)·one-hot + ε/k"),
    "mixup": Field(number(0, 1000), 0.0, "mixup's Beta(α, α): batches are blends of two examples and "
                   "their labels; 0 = off"),
    "cutmix": Field(number(0, 1000), 0.0, "cutmix's Beta(α, α): a box of one image pasted into another, "
                    "labels by area; 0 = off (with mixup too: one or the other per batch)"),
    "ema": Field(number(above=0, maximum=0.99999999, null=True), None, "decay of an exponential moving "
                 "average of the weights, evaluated and saved as the model (e.g. 0.999); null: off"),
    "sampling": Field(one_of("class-balanced", "shuffle"), "class-balanced",
                      "class-balanced: one from each class in turn (Cortex); shuffle: plain epochs"),
    "augmentation": Field(list_of(augmentation_item), [], "applied to training batches only"),
    "metric": Field(section(METRIC_FIELDS, shorthand=lambda v, p: {"name": v}), "auto",
                    "what selects the best epoch"),
    "threshold": Field(_threshold, "auto", "binary decision threshold on P(positive): auto = the one "
                       "that maximises F-beta (accuracy when that is the metric) on the selection split; "
                       "calibrated = F*/(1+β²) with F* the best F-beta there, the optimum for calibrated "
                       "probabilities (corrected for class-balanced sampling); or a number"),
    "early-stopping": Field(integer(1, null=True), None, "stop after this many epochs without a new best"),
    "schedule": Field(any_of(one_of(None), section(SCHEDULE_FIELDS, shorthand=lambda v, p: {"type": v})),
                      None, "learning-rate schedule: step, cosine or reduce-on-plateau"),
    "gradient-clipping": Field(number(above=0, null=True), None, "clip the gradient norm to this"),
    "seed": Field(integer(0, 2**32 - 1), 1, "seeds initialisation, sampling and augmentation (0 to 2³²−1)"),
    "device": Field(device_value, "auto", "auto uses CUDA when there is one"),
    "precision": Field(one_of("float32", "float64", "bf16", "fp16"), "float32",
                       "bf16/fp16: mixed precision on CUDA"),
    "init-from": Field(text(null=True), None, "a checkpoint whose matching layers (same id and shape) "
                       "start this network"),
    "eval-batch-size": Field(integer(1), 1024, "batch size for evaluation"),
    "tensorboard": Field(boolean, False, "also write TensorBoard event files in RUN/tensorboard/ "
                         "(tensorboardX)"),
    # torch starts the threads it is told to: a billion would tie the machine up for minutes
    "threads": Field(any_of(one_of("auto"), integer(1, 1024)), "auto",
                     "CPU threads: auto = one for small networks (thread hand-offs cost more than "
                     "they save), torch's default for large ones"),
}


def train_section(value, path="train"):
    return validate_map(value, TRAIN_FIELDS, path)
