"""Everything a training run needs, built from a validated spec and checked before anything is
written: the dataset and task, the device, precision and threads, the network (maybe started
from another checkpoint), the input preprocessing, the training and selection data on the
device, the sampler, the augmenter, the optimizer and the schedule.
"""
import contextlib
import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from nnrun.data.dataset import open_dataset
from nnrun.data.preprocess import Preprocessing
from nnrun.errors import UserError
from nnrun.model_io import select_device
from nnrun.network.build import build_network
from nnrun.train.augment import Augmenter
from nnrun.train.data import Inputs, SplitData
from nnrun.train.distributed import World
from nnrun.train.evaluation import needs_one_hot
from nnrun.train import recipe
from nnrun.train.optimizers import make_optimizer
from nnrun.train.run_folder import manifest_sha256
from nnrun.train.sampling import make_sampler
from nnrun.train.schedule import make_schedule
from nnrun.train.task import make_task
from nnrun.train.transfer import init_from, layer_names

# Below this many multiply-adds per training step, one CPU thread beats several (measured:
# thread hand-offs cost more than small matrix products gain from them).
SMALL_STEP_MACS = 20_000_000


@dataclass
class Session:
    spec: object
    dataset: object
    task: object
    device: torch.device
    dtype: torch.dtype
    precision: str                 # what actually runs: float32, float64, bf16, fp16
    threads: int
    network: object
    preprocessing: Preprocessing
    inputs: Inputs
    augmenter: Augmenter
    train_data: SplitData
    selection_data: SplitData
    sampler: object
    optimizer: object
    schedule: object
    scaler: object
    epoch_size: int
    batch_size: int
    manifest_sha256: str
    notes: list = field(default_factory=list)
    world: object = field(default_factory=World)   # the job's processes (nnrun.train.distributed)
    parallel: object = None                        # the DDP-wrapped training forward, or None
    class_weights: object = None                   # the loss's weight per class (a tensor), or None
    mixer: object = None                           # mixup / cutmix (nnrun.train.recipe.Mixer), or None
    ema: object = None                             # the weight average (recipe.WeightAverage), or None

    @property
    def model(self):
        """The network that is evaluated and saved: the weight average when there is one."""
        return self.ema.module if self.ema is not None else self.network

    def autocast(self):
        if self.precision in ("bf16", "fp16"):
            dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
            return torch.autocast(device_type=self.device.type, dtype=dtype)
        return contextlib.nullcontext()

    @property
    def autocast_factory(self):
        return self.autocast if self.precision in ("bf16", "fp16") else None

    @functools.cached_property
    def test_data(self):
        split = self.task.test_split
        if split is None:
            return None
        return SplitData(self.dataset, split, self.inputs, self.device, input_dims=self.input_dims,
                         one_hot=any(needs_one_hot(leaf) for leaf in self.task.leaves))

    @property
    def channels_last(self):
        return channels_last_suits(self.spec.plan)

    @property
    def input_dims(self):
        return self.spec.plan.inputs[0].out_shape.batch_dims()


def dataset_path(spec):
    path = spec.data.get("path")
    if not path:
        raise UserError(f"{spec.source}: data: no dataset; give `data: FOLDER` in the config or "
                        f"--set data=FOLDER (a folder made by `nnrun prepare`)")
    return Path(path).expanduser()


def step_macs(plan, batch_size):
    """Multiply-adds of one forward pass over a batch (each layer's registry entry says its cost)."""
    return plan.macs_per_example() * batch_size


CONVOLUTIONS = ("convolutional", "depthwise-convolutional", "separable-convolutional")


def channels_last_suits(plan):
    """Image networks with convolutions run faster with channels-last (NHWC) tensors (see
    bench/bench_train.py); the numbers are the same up to rounding."""
    return any(n.layer in CONVOLUTIONS for n in plan.nodes) and plan.inputs[0].out_shape.image


def choose_threads(option, plan, batch_size, device):
    """`train.threads`: a number, or auto: one thread for a small CPU step, torch's default otherwise."""
    if option != "auto":
        return int(option)
    default = torch.get_num_threads()
    if device.type == "cpu" and step_macs(plan, batch_size) < SMALL_STEP_MACS:
        return 1
    return default


def _odds_ratio(labels, positive, sampling, weights=None):
    """How much more often (in odds) training shows the positive class than the data holds it
    (a class weight w counts as showing that class w times as often)."""
    natural = float(np.mean(labels == positive))
    if natural in (0.0, 1.0):
        return 1.0
    counts = np.bincount(labels, minlength=max(positive + 1, len(weights) if weights is not None else 0))
    share = (counts > 0) / np.sum(counts > 0) if sampling == "class-balanced" else counts / len(labels)
    if weights is not None:
        share = share * weights
    sampled = float(share[positive] / share.sum())
    return (sampled / (1 - sampled)) / (natural / (1 - natural))


def _precision(train, device, notes):
    wanted = train["precision"]
    if wanted == "float64":
        return torch.float64, "float64"
    if wanted in ("bf16", "fp16"):
        if device.type != "cuda":
            notes.append(f"train.precision {wanted}: mixed precision runs on CUDA only; this run is on "
                         f"{device.type}, in float32")
            return torch.float32, "float32"
        if wanted == "bf16" and not torch.cuda.is_bf16_supported():
            notes.append("train.precision bf16: this GPU has no bf16; using fp16")
            wanted = "fp16"
    return torch.float32, wanted


def open_session(spec, device_option=None, world=None):
    """Build a session; UserError for any disagreement between config, dataset and machine.
    In a parallel job (`world`) the device is the rank's own and the batch is split over ranks."""
    train, data = spec.train, spec.data
    world = world or World()
    dataset = open_dataset(dataset_path(spec))
    task = make_task(spec, dataset)
    notes = []
    device = world.device if world.parallel else select_device(device_option or train["device"])
    dtype, precision = _precision(train, device, notes)
    threads = choose_threads(train["threads"], spec.plan, train["batch-size"], device)
    torch.set_num_threads(threads)

    seed = train["seed"]
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    network = _network(spec, device, dtype, notes)

    preprocessing = Preprocessing.from_manifest(dataset.manifest, data["preprocessing"])
    inputs = Inputs(preprocessing, device, dtype)
    augmenter = Augmenter(train["augmentation"], dataset, task.train_split, task.positive, device, seed + 1)
    one_hot = any(needs_one_hot(leaf) for leaf in task.leaves)
    dims = spec.plan.inputs[0].out_shape.batch_dims()
    train_data = SplitData(dataset, task.train_split, inputs, device, keep_stored=augmenter.changes_stored,
                           one_hot=one_hot, input_dims=dims)
    selection_data = SplitData(dataset, task.selection_split, inputs, device, one_hot=one_hot, input_dims=dims)

    sampler, weights, task = _sampling(train, task, train_data, notes)
    epoch_size = recipe.epoch_size(train["epoch-size"], train_data.count)
    _check_split(train["batch-size"], epoch_size, world)
    optimizer = make_optimizer(train["optimizer"], network, device)
    if optimizer is None:
        raise UserError("network: nothing is trainable (every layer is non-trainable? or has "
                        "learning-attenuation 0)")
    schedule = make_schedule(train["schedule"], optimizer, train["epoch-count"])
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None
    session = Session(spec, dataset, task, device, dtype, precision, threads, network, preprocessing, inputs,
                      augmenter, train_data, selection_data, sampler, optimizer, schedule, scaler, epoch_size,
                      train["batch-size"], manifest_sha256(dataset), notes, world)
    if weights is not None:
        session.class_weights = torch.tensor(weights, dtype=dtype, device=device)
    if train["mixup"] or train["cutmix"]:
        session.mixer = recipe.Mixer(train["mixup"], train["cutmix"], seed + 3)
    if train["ema"] is not None:
        session.ema = recipe.WeightAverage(network, train["ema"])
    return session


def _network(spec, device, dtype, notes):
    """The network to train: built (seeded by the caller), its weights from train.init-from where
    given, in the memory layout its convolutions run fastest in."""
    train = spec.train
    network = build_network(spec.plan, device=device, dtype=dtype)
    if train["init-from"]:
        copied, fresh = init_from(network, Path(train["init-from"]).expanduser())
        notes.append(f"init-from {train['init-from']}: {len(copied)} tensors loaded "
                     f"({', '.join(layer_names(copied))}); {len(fresh)} start fresh"
                     + (f" ({', '.join(layer_names(fresh))})" if fresh else ""))
    if channels_last_suits(spec.plan):
        network = network.to(memory_format=torch.channels_last)
    return network.train()


def _sampling(train, task, train_data, notes):
    """(sampler, class weights of the loss or None, task with the training odds ratio): how
    training examples are drawn and weighed."""
    labels = train_data.labels_np if train_data.labelled else np.zeros(train_data.count, dtype=np.int64)
    sampling = train["sampling"]
    if sampling == "class-balanced" and not train_data.labelled:
        sampling = "shuffle"
    sampler = make_sampler(sampling, labels, train["seed"] + 2)
    missing = [task.classes[c] for c in range(len(task.classes))
               if sampling == "class-balanced" and not np.any(labels == c)]
    if missing:
        notes.append(f"class-balanced sampling: no training example of {', '.join(missing)}")
    weights = None
    if recipe.uses_loss_options(train):
        recipe.check_leaf(task, train)
        weights = recipe.class_weights(train["class-weights"], list(task.classes), labels)
        if train["class-weights"] and sampling == "class-balanced":
            notes.append("train.class-weights with class-balanced sampling counts the classes' imbalance "
                         "twice; sampling: shuffle is the usual companion")
    if task.positive is not None and train_data.labelled:
        task = dataclasses.replace(task, odds_ratio=_odds_ratio(labels, task.positive, sampling, weights))
    return sampler, weights, task


def _check_split(batch_size, epoch_size, world):
    """Every rank needs at least one example of every batch (train.batch-size is global)."""
    last = epoch_size % batch_size
    if batch_size < world.size:
        raise UserError(f"train.batch-size {batch_size}: the batch is split over the {world.size} processes; "
                        f"give at least {world.size}")
    if 0 < last < world.size:
        raise UserError(f"train.epoch-size {epoch_size}: its last batch of {last} cannot be split over the "
                        f"{world.size} processes; make it a multiple of train.batch-size {batch_size}")
