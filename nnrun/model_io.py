"""What a model checkpoint holds, and turning one back into a ready network.

A checkpoint is self-contained: the network description (rebuilt through the same planner as a
config), the weights, class names, positive class, decision threshold and input preprocessing,
so `infer`, `evaluate` and `kaggle-submit` need no config file. Training adds the resolved
training spec, epoch and metrics, and to `last.nnrun` the state needed for an exact resume.
"""
from dataclasses import dataclass

import torch

from nnrun import __version__
from nnrun.checkpoint import read_checkpoint, write_checkpoint
from nnrun.data.preprocess import Preprocessing
from nnrun.errors import UserError
from nnrun.network.build import build_network
from nnrun.network.plan import plan_network

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
                  epoch=None, metrics=None, dataset=None, resume=None, config=None):
    """The plain-data value a model checkpoint stores. `config`: the resolved config that trained it
    (name, network, data, train), which `nnrun train --resume` compares an edited config against."""
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
    if config is not None:
        payload["config"] = config
    if resume is not None:
        payload["resume"] = resume
    return payload


def save_model(path, network, **meta):
    write_checkpoint(path, model_payload(network, **meta))


def load_model(path, device="cpu", dtype=None):
    """Rebuild the network a checkpoint describes, load its weights, put it in eval mode."""
    payload = read_checkpoint(path)
    if payload.get("kind") != KIND:
        raise UserError(f"{path}: not a model checkpoint (kind {payload.get('kind')!r})")
    try:
        plan = plan_network(payload["network"])
    except UserError as problem:
        raise UserError(f"{path}: its network description does not plan: {problem}") from None
    network = build_network(plan)
    state = payload["tensors"]
    try:
        network.load_state_dict(state, strict=True)
    except RuntimeError as problem:
        first = str(problem).strip().splitlines()[0]
        raise UserError(f"{path}: weights do not fit the network: {first}") from None
    network = network.to(device=device, dtype=dtype) if dtype else network.to(device)
    network.eval()
    return LoadedModel(network, plan, payload["classes"], payload.get("positive"), payload.get("threshold"),
                       Preprocessing.from_dict(payload["preprocessing"]), payload)


def select_device(name="auto"):
    """'auto' -> cuda when available, else cpu; a named device must exist."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {name}: CUDA is not available on this machine (use --device cpu)")
    return torch.device(name)
