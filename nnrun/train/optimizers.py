"""The optimizer a `train.optimizer` section describes, over the network's parameter groups.

Cortex's defaults (nnrun.config.sections.OPTIMIZER_DEFAULTS): adam 0.001 (β 0.9, 0.999, ε 1e-8),
adadelta (ρ 0.95, ε 1e-6), sgd 0.001 with Nesterov momentum 0.9; `momentum: 0` is plain SGD.
A layer's `learning-attenuation` scales its group's learning rate (0 freezes it: the network
leaves frozen parameters out). `weight-decay` is the optimizer's L2 penalty; adamw decays the
weights directly, apart from the gradient's moments (decoupled weight decay, 0.01 by default).

Implementation choice: torch's single-tensor ("for-loop") update, its multi-tensor (foreach)
update, or the fused kernel. `implementation="auto"` takes the fused kernel for adam and sgd on
any device, the fastest of the three on CPU and GPU alike (bench/bench_train.py shows the cost),
and the multi-tensor update for adadelta.
"""
import torch

FUSED = ("adam", "sgd", "adamw")  # torch has fused kernels for these on CPU and CUDA


def optimizer_groups(network, learning_rate):
    """torch param groups: one per learning-rate scale, each with its scaled rate."""
    return [{"params": params, "lr": learning_rate * scale, "lr-scale": float(scale)}
            for scale, params in network.parameter_groups()]


def _flags(kind, implementation, device, tensors):
    if implementation == "auto":
        if kind in FUSED:
            implementation = "fused"
        elif tensors > 4:
            implementation = "foreach"
        else:
            implementation = "for-loop"
    if implementation == "fused":
        return {"fused": True}
    if implementation == "foreach":
        return {"foreach": True}
    return {"foreach": False}


def make_optimizer(options, network, device, implementation="auto"):
    """A torch optimizer for `network`; None when nothing is trainable."""
    groups = optimizer_groups(network, options["learning-rate"])
    if not groups:
        return None
    kind = options["type"]
    tensors = sum(len(g["params"]) for g in groups)
    flags = _flags(kind, implementation, torch.device(device), tensors)
    decay = options.get("weight-decay") or 0.0
    if kind == "adam":
        return torch.optim.Adam(groups, lr=options["learning-rate"], betas=(options["beta1"], options["beta2"]),
                                eps=options["epsilon"], weight_decay=decay, **flags)
    if kind == "adamw":
        return torch.optim.AdamW(groups, lr=options["learning-rate"], betas=(options["beta1"], options["beta2"]),
                                 eps=options["epsilon"], weight_decay=decay, **flags)
    if kind == "adadelta":
        flags.pop("fused", None)
        return torch.optim.Adadelta(groups, lr=options["learning-rate"], rho=options["rho"],
                                    eps=options["epsilon"], weight_decay=decay, **flags)
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=options["learning-rate"], momentum=options["momentum"],
                               nesterov=bool(options["nesterov"]) and options["momentum"] > 0,
                               weight_decay=decay, **flags)
    raise ValueError(f"unknown optimizer {kind}")


def learning_rates(optimizer):
    return [group["lr"] for group in optimizer.param_groups] if optimizer is not None else []
