"""A model file opened for inference: its classes, decision, preprocessing, and an engine.

The file is read once (nnrun.model_io.read_model: numpy arrays, no torch). Which engine runs it:

    --engine auto   ONNX Runtime on the CPU when the file carries its ONNX graph; torch on a GPU
                    (--device cuda, or auto on a machine with one), or for a file without a graph
    --engine onnx   ONNX Runtime (CPU); a file without a graph is an error naming the fix
    --engine torch  the network's torch modules, on --device

The engine is made on first use, so image workers (images.py) can each make their own.
"""
import os
from dataclasses import dataclass, field

from nnrun.data.preprocess import Preprocessing
from nnrun.errors import UserError
from nnrun.model_io import check_device, gpu_present, read_model

ENGINES = ("auto", "onnx", "torch")


@dataclass
class Model:
    path: str
    payload: dict = field(repr=False)
    engine_name: str              # "onnx" or "torch"
    device: str = "cpu"
    threads: int = None           # ONNX Runtime's threads (None: its default)

    def __post_init__(self):
        p = self.payload
        self.classes = list(p["classes"])
        self.positive, self.threshold = p.get("positive"), p.get("threshold")
        self.preprocessing = Preprocessing.from_dict(p["preprocessing"])
        plan = p["plan"]
        if len(plan.inputs) != 1:
            raise UserError(f"{self.path}: the network has {len(plan.inputs)} inputs; "
                            f"infer and kaggle-submit take networks with one input")
        classifying, reconstructing = plan.classifying_leaf, plan.reconstructing_leaf
        self.is_autoencoder = classifying is None
        self.reconstructs = reconstructing is not None
        self._engine = None
        if self.engine_name == "onnx":
            import onnxruntime  # noqa: F401  (here, once: image workers forked later inherit it)

    # ---- what it takes
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

    # ---- running it
    @property
    def engine(self):
        if self._engine is None:
            if self.engine_name == "onnx":
                from nnrun.infer.engines import OnnxEngine
                self._engine = OnnxEngine(self.payload["onnx"], self.payload["tensors"], self.threads, self.path)
            else:
                from nnrun.infer.engines import TorchEngine
                from nnrun.model_io import select_device
                self._engine = TorchEngine(self.payload, self.preprocessing, select_device(self.device))
        return self._engine

    def for_worker(self):
        """This model as an image worker process should run it: its own one-thread engine."""
        self._engine, self.threads = None, 1

    def run(self, stored):
        """{output name: array} for a batch of stored values (see nnrun.network.predictor)."""
        return self.engine.run(stored)


def open_model(path, *, device="auto", engine="auto", warn=None):
    """The model in file `path`, ready to run; UserError for a bad file or option."""
    if engine not in ENGINES:
        raise UserError(f"--engine {engine}: choose one of {', '.join(ENGINES)}")
    check_device(device)
    payload = read_model(path)
    has_graph = isinstance(payload.get("onnx"), dict)
    on_gpu = device not in ("auto", "cpu") or (device == "auto" and engine != "onnx" and gpu_present())
    if engine == "onnx":
        if device not in ("auto", "cpu"):
            raise UserError(f"--engine onnx runs on the CPU (--device {device}); use --engine torch for a GPU")
        if not has_graph:
            raise UserError(f"{path}: holds no ONNX graph (written by an older nnrun); run it with --engine torch, "
                            f"or give it one: nnrun export {path} -o NEW.nnrun --format nnrun")
        return Model(os.fspath(path), payload, "onnx")
    if engine == "torch" or on_gpu:
        return Model(os.fspath(path), payload, "torch", device)
    if not has_graph:
        if warn is not None:
            warn(f"{path} holds no ONNX graph (written by an older nnrun), so it runs on torch, which is "
                 f"slower to start; `nnrun export {path} -o NEW.nnrun --format nnrun` adds one")
        return Model(os.fspath(path), payload, "torch", "cpu")
    return Model(os.fspath(path), payload, "onnx")


@dataclass
class PredictOptions:
    """What `infer` and `kaggle-submit` both take (each command's options add their own)."""
    threshold: float = None
    positive: str = None
    split: str = None
    id_column: str = None
    batch_size: int = None        # None: each source's own (inputs.IMAGE_BATCH, inputs.TABLE_BATCH)
    device: str = "auto"
    engine: str = "auto"
    jobs: int = None
    skip_bad: bool = False
    quiet: bool = False


def open_models(paths, sources, options, warn=None):
    """The models in files `paths`, with every source checked against each of them."""
    if options.batch_size is not None and options.batch_size < 1:
        raise UserError("--batch-size must be at least 1")
    models = [open_model(path, device=options.device, engine=options.engine, warn=warn) for path in paths]
    for source in sources:
        source.jobs = options.jobs
        for model in models:
            source.check(model)
    return models
