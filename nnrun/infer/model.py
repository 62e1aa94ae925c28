"""A checkpoint opened for inference: its classes, threshold, preprocessing, and an engine.

Two engines run the network (see engine_numpy.py for why there are two):
  torch  the checkpoint's own modules, any layer, on the CPU or the GPU;
  numpy  the common layers on the CPU, without importing torch (about 2 s on a small machine).
`--engine auto` takes numpy on the CPU when the network only uses layers it has, torch otherwise
(so results do not depend on whether torch had to be imported). The numpy engine keeps BLAS to
one thread: parallelism comes from worker processes (images.py), and OpenBLAS threads
competing with them, or with torch's, made runs several times slower on a two-core machine.
The numpy engine reads the checkpoint without torch only when nnrun.checkpoint and the network
planner import without it and `read_checkpoint` can return numpy arrays (`arrays="numpy"`);
otherwise the checkpoint is loaded through torch and its weights handed to the numpy engine.
"""
import importlib
import inspect
import os
import sys
from dataclasses import dataclass, field

import numpy as np

from nnrun.data.preprocess import Preprocessing
from nnrun.errors import UserError
from nnrun.infer.blas import set_blas_threads
from nnrun.infer.engine_numpy import NumpyEngine, supports
from nnrun.infer.memory import keep_freed_memory

ENGINES = ("auto", "torch", "numpy")


class Inputs:
    """What a checkpoint takes as input (from its preprocessing): enough to check inputs and
    start decoding images before the network is loaded."""

    path: str
    preprocessing: Preprocessing

    @property
    def kind(self):
        """"images" or "table": what the network was trained on."""
        return self.preprocessing.kind

    @property
    def image_spec(self):
        """(size, channels) of the images this network takes."""
        return self.preprocessing.image_size, self.preprocessing.channels

    def describe_input(self):
        p = self.preprocessing
        if p.kind == "images":
            return f"{p.channels}×{p.image_size}×{p.image_size} images"
        return f"table rows of {len(p.features)} features"


@dataclass
class InputSpec(Inputs):
    path: str
    preprocessing: Preprocessing


def peek_inputs(path):
    """The InputSpec of checkpoint `path` read without torch, or None (the full load will say why)."""
    from nnrun.infer.meta import peek_model

    meta = peek_model(path)
    if meta is None or not isinstance(meta.get("preprocessing"), dict):
        return None
    try:
        return InputSpec(os.fspath(path), Preprocessing.from_dict(meta["preprocessing"]))
    except (KeyError, TypeError, ValueError):
        return None


@dataclass
class Model(Inputs):
    path: str
    classes: list
    positive: object              # class name or None
    threshold: object             # float or None
    preprocessing: Preprocessing
    plan: object
    engine: object                # .name, .run(stored, leaves) -> {leaf id: numpy}
    payload: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if len(self.plan.inputs) != 1:
            raise UserError(f"{self.path}: the network has {len(self.plan.inputs)} inputs; "
                            f"infer and kaggle-submit take networks with one input")
        self.class_leaf = next((leaf for leaf in self.plan.leaves if not self.plan.target(leaf)), None)
        self.recon_leaf = next((leaf for leaf in self.plan.leaves if self.plan.target(leaf)), None)
        self._leaves = [leaf.id for leaf in (self.class_leaf, self.recon_leaf) if leaf is not None]

    @property
    def is_autoencoder(self):
        return self.class_leaf is None

    @property
    def leaves(self):
        return tuple(self._leaves)

    @property
    def runs(self):
        """What the network computes for a batch (see run_all): its leaves, on the batch as it is."""
        return [Run(self.engine, self.leaves)]

    def run(self, stored):
        """A batch of stored values -> {"class": raw class-leaf output or None,
        "reconstruction": the reconstruction leaf's output or None}."""
        return self.from_outputs(run_all(self.runs, stored))

    def from_outputs(self, outputs):
        """run(), from what run_all(self.runs, ...) gave (maybe in an image worker)."""
        (leaves,) = outputs
        return {"class": leaves.get(self.class_leaf.id) if self.class_leaf else None,
                "reconstruction": leaves.get(self.recon_leaf.id) if self.recon_leaf else None}


@dataclass(frozen=True)
class Run:
    """One pass of an engine over a batch: the leaves wanted, on the batch or its mirror image."""
    engine: object
    leaves: tuple
    mirrored: bool = False


def run_all(runs, stored):
    """[{leaf id: output}] of every run on a batch of stored values, in the order of `runs`."""
    mirror = None
    outputs = []
    for run in runs:
        x = stored
        if run.mirrored:
            if mirror is None:  # left-right: the last axis of [N, C, H, W]
                mirror = np.ascontiguousarray(stored[..., ::-1])
            x = mirror
        outputs.append(run.engine.run(x, run.leaves))
    return outputs


def open_model(path, *, device="auto", engine="auto"):
    """The model in checkpoint `path`, ready to run; UserError for a bad file or option."""
    return open_lean_model(path, device=device, engine=engine) or _open_with_torch(os.fspath(path), device, engine)


def open_lean_model(path, *, device="auto", engine="auto", allocate=None):
    """The model with the numpy engine, opened without importing torch; None when the options
    or the network want torch, or when nnrun's checkpoint reader or planner need torch.
    allocate(nbytes): where to put the weights (see handoff.py), when not in private memory."""
    if wants_numpy(device, engine):
        return _open_without_torch(os.fspath(path), required=engine == "numpy", allocate=allocate)
    return None


def wants_numpy(device, engine):
    """Whether --device/--engine ask for (or allow) the numpy engine; UserError for a bad pair."""
    if engine not in ENGINES:
        raise UserError(f"--engine {engine}: choose one of {', '.join(ENGINES)}")
    auto = device in (None, "auto")
    if engine == "numpy" and not (auto or device == "cpu"):
        raise UserError(f"--engine numpy runs on the CPU only (--device {device})")
    cpu = device == "cpu" or (auto and (engine == "numpy" or not gpu_present()))
    return cpu and engine in ("auto", "numpy")


def tune_for_numpy_engine():
    """This process will run the numpy engine: one BLAS thread (see the module's docstring) and
    freed blocks kept for the next batch (memory.py)."""
    set_blas_threads(1)
    keep_freed_memory()


def gpu_present():
    """Whether a GPU may be there, without importing torch to ask (a driver device file)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return any(os.path.exists(p) for p in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd"))


def _open_with_torch(path, device, engine):
    from nnrun.model_io import load_model, select_device
    from nnrun.infer.engine_torch import TorchEngine, state_as_numpy

    target = select_device("cpu" if engine == "numpy" else device)
    loaded = load_model(path, target)
    if engine == "numpy" or (engine == "auto" and target.type == "cpu" and supports(loaded.plan) is None):
        reason = supports(loaded.plan)
        if reason:
            raise UserError(f"{path}: --engine numpy cannot run this network: {reason}")
        runner = NumpyEngine(loaded.plan, state_as_numpy(loaded.network), loaded.preprocessing)
        tune_for_numpy_engine()
    else:
        runner = TorchEngine(loaded.network, loaded.preprocessing, target)
    return Model(path, list(loaded.classes), loaded.positive, loaded.threshold, loaded.preprocessing,
                 loaded.plan, runner, loaded.payload)


# ---- without torch --------------------------------------------------------------------------

class _NoTorch:
    """A meta-path finder that makes `import torch` fail, to learn whether modules need it."""

    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is not imported on the lean path", name=name)
        return None


def torch_free(*names):
    """The modules `names` if they import without importing torch, else None.

    A module that needs torch fails to import here and is forgotten (Python removes a module
    whose import failed), so a later ordinary import of it works as usual."""
    if "torch" in sys.modules:
        return [importlib.import_module(n) for n in names]
    blocker = _NoTorch()
    sys.meta_path.insert(0, blocker)
    try:
        return [importlib.import_module(n) for n in names]
    except ImportError:
        return None
    finally:
        sys.meta_path.remove(blocker)


def _open_without_torch(path, required, allocate=None):
    modules = torch_free("nnrun.checkpoint", "nnrun.network.plan")
    if modules is None:
        return None
    checkpoint, planner = modules
    if "arrays" not in inspect.signature(checkpoint.read_checkpoint).parameters:
        return None
    payload = checkpoint.read_checkpoint(path, arrays="numpy", allocate=allocate)
    if payload.get("kind") != "nnrun-model":
        raise UserError(f"{path}: not a model checkpoint (kind {payload.get('kind')!r})")
    try:
        plan = planner.plan_network(payload["network"])
    except UserError as problem:
        raise UserError(f"{path}: its network description does not plan: {problem}") from None
    reason = supports(plan)
    if reason:
        if required:
            raise UserError(f"{path}: --engine numpy cannot run this network: {reason}")
        return None
    preprocessing = Preprocessing.from_dict(payload["preprocessing"])
    try:
        runner = NumpyEngine(plan, payload["tensors"], preprocessing)
    except (KeyError, ValueError) as problem:
        raise UserError(f"{path}: weights do not fit the network ({problem})") from None
    tune_for_numpy_engine()
    return Model(path, list(payload["classes"]), payload.get("positive"), payload.get("threshold"),
                 preprocessing, plan, runner, payload)
