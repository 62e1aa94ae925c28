"""What a model checkpoint holds, and turning one back into a ready network.

A checkpoint is self-contained: the network description (rebuilt through the same planner as a
config), the weights, class names, positive class, decision threshold and input preprocessing,
so `infer`, `evaluate` and `kaggle-submit` need no config file. Training adds the resolved
training spec, epoch and metrics, and to `last.nnrun` the state needed for an exact resume.

A model file also carries its network as an ONNX graph whose weights are the file's own tensors
(`"onnx"`, see nnrun/export/onnx_graph.py), so inference on the CPU runs on ONNX Runtime and
never imports torch. Files written before this have no graph; inference runs them on torch.

One reader: `read_model` parses the file once, its arrays as numpy, without torch; everything
downstream (the ONNX engine, or `network_from_payload` for torch) takes that payload.
"""
import os
from dataclasses import dataclass

from nnrun import __version__
from nnrun.checkpoint import read_checkpoint, write_checkpoint
from nnrun.data.preprocess import Preprocessing
from nnrun.errors import UserError
from nnrun.model_check import check_model_payload
from nnrun.lazy import OnFirstUse
from nnrun.network.plan import plan_network

torch = OnFirstUse("torch")  # read_model never imports it

KIND = "nnrun-model"


@dataclass
class LoadedModel:
    network: object          # nnrun.network.build.Network, in eval mode
    plan: object
    classes: list            # class names, index = output unit
    positive: object         # the positive class name (binary problems) or None
    threshold: object        # decision threshold on P(positive), or None
    preprocessing: Preprocessing
    payload: dict            # everything else: train spec, epoch, metrics, resume state

    @property
    def is_autoencoder(self):
        return any(self.plan.target(leaf) for leaf in self.plan.leaves)


def model_payload(network, *, classes, preprocessing, positive=None, threshold=None, train=None,
                  epoch=None, metrics=None, dataset=None, resume=None, config=None, graph=None):
    """The plain-data value a model checkpoint stores. `config`: the resolved config that trained it
    (name, network, data, train), which `nnrun train --resume` compares an edited config against.
    `graph`: the network's ONNX graph record (nnrun.export.onnx_graph.graph_record), or None."""
    state = {name: tensor.detach().cpu() for name, tensor in network.state_dict().items()}
    payload = {
        "kind": KIND, "nnrun-version": __version__,
        "network": network.plan.description,
        "tensors": state,
        "classes": [str(c) for c in classes],
        "positive": None if positive is None else str(positive),
        "threshold": None if threshold is None else float(threshold),
        "preprocessing": preprocessing.to_dict(),
        "train": train, "epoch": epoch, "metrics": metrics, "dataset": dataset,
    }
    if graph is not None:
        payload["onnx"] = graph
    if config is not None:
        payload["config"] = config
    if resume is not None:
        payload["resume"] = resume
    return payload


def save_model(path, network, *, graph=None, **meta):
    """Write a model file. graph: the network's ONNX graph record when the caller has made it
    already (training makes it once per run); None makes it here; False leaves it out."""
    if graph is None:
        graph = _graph_or_none(network, meta["preprocessing"], meta["classes"])
    write_checkpoint(path, model_payload(network, graph=graph or None, **meta))


def _graph_or_none(network, preprocessing, classes):
    from nnrun.export.onnx_graph import graph_record

    try:
        return graph_record(network, preprocessing, classes)
    except UserError:
        return None


def read_model(path):
    """The payload of model file `path`, arrays as numpy (torch is not imported), with
    `"plan"` added: its network description planned. UserError for anything but a model file."""
    payload = read_checkpoint(path, arrays="numpy")
    if payload.get("kind") != KIND:
        raise UserError(f"{path}: not a model checkpoint (kind {payload.get('kind')!r})")
    try:
        payload["plan"] = plan_network(payload.get("network"))
    except UserError as problem:
        raise UserError(f"{path}: its network description does not plan: {problem}") from None
    check_model_payload(payload, path)  # every field, as strictly as a config
    payload["path"] = str(path)
    return payload


def network_from_payload(payload, device="cpu", dtype=None):
    """The torch network of a payload from `read_model`, its weights loaded, in eval mode."""
    from nnrun.network.build import build_network, count_parameters

    where = f"{payload['path']}: network"
    # The description is planned from the file: refuse one that asks for more weights than the
    # file holds before they are allocated (a tampered layer of a billion units, say).
    needed = sum(count_parameters(payload["plan"], where).values())
    stored = sum(int(getattr(value, "size", 0)) for value in payload["tensors"].values())
    if needed > stored:
        raise UserError(f"{where}: its description has {needed:,} parameters but the file stores "
                        f"only {stored:,} values")
    network = build_network(payload["plan"], where=where)
    state = {name: torch.as_tensor(value) for name, value in payload["tensors"].items()}
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as problem:
        first = str(problem).strip().splitlines()[0]
        raise UserError(f"{payload['path']}: weights do not fit the network: {first}") from None
    network = network.to(device=device, dtype=dtype) if dtype else network.to(device)
    return network.eval()


def load_model(path, device="cpu", dtype=None):
    """Rebuild the network a checkpoint describes, load its weights, put it in eval mode."""
    payload = read_model(path)
    network = network_from_payload(payload, device, dtype)
    return LoadedModel(network, payload["plan"], payload["classes"], payload.get("positive"),
                       payload.get("threshold"), Preprocessing.from_dict(payload["preprocessing"]), payload)


def gpu_present():
    """Whether a usable GPU is here. Asks torch only when a GPU driver is installed, so a CPU
    machine never imports it."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    if not any(os.path.exists(p) for p in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd")):
        return False
    return torch.cuda.is_available()


def check_device(name):
    """UserError unless `name` is a device nnrun runs on: auto, cpu, cuda or cuda:N (as
    train.device takes; torch would take others, "meta" or "mps", and fail later in a traceback)."""
    from nnrun.config.sections import device_value

    device_value(name, "--device")


def select_device(name="auto"):
    """'auto' -> cuda when available, else cpu; a named device must exist."""
    if name is not None:
        check_device(name)
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {name}: CUDA is not available on this machine (use --device cpu)")
    return torch.device(name)
