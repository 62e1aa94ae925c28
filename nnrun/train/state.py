"""Resume state: random-number generators, and which config edits a resumed run accepts.

`last.nnrun` holds, under "resume": the optimizer's and schedule's state dicts, the sampler's and
the augmenter's, the global torch (CPU and CUDA) and numpy generator states, the epoch, the best
score so far and the early-stopping count. Restoring all of it makes a resumed CPU run's weights
equal an uninterrupted run's bit for bit.
"""
import numpy as np
import torch

from nnrun.errors import UserError

# Keys a resumed run may change: they do not alter what the finished epochs mean.
RESUMABLE_EDITS = {("train", "epoch-count"), ("train", "early-stopping"), ("train", "device"),
                   ("train", "eval-batch-size"), ("train", "threads"), ("train", "tensorboard"),
                   ("data", "path"), ("name",),
                   ("description",)}


def rng_state():
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = [s for s in torch.cuda.get_rng_state_all()]
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state["numpy"] = {"name": name, "keys": np.asarray(keys), "pos": int(pos), "has-gauss": int(has_gauss),
                      "cached": float(cached)}
    return state


def set_rng_state(state):
    torch.set_rng_state(state["torch"].to(torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        saved = state["cuda"]
        if len(saved) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.to(torch.uint8) for s in saved])
    n = state.get("numpy")
    if n:
        np.random.set_state((n["name"], np.asarray(n["keys"], dtype=np.uint32), n["pos"], n["has-gauss"],
                             n["cached"]))


def _flatten(value, prefix=()):
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out.update(_flatten(item, prefix + (key,)))
        if not value:
            out[prefix] = {}
        return out
    return {prefix: value}


def incompatible_edits(saved, new):
    """The key paths where `new` (a resolved config) differs from `saved` in a way a resume cannot take."""
    a, b = _flatten(saved), _flatten(new)
    differing = []
    for key in sorted(set(a) | set(b), key=lambda k: [str(p) for p in k]):
        if a.get(key, _MISSING) == b.get(key, _MISSING):
            continue
        if any(key[:len(allowed)] == allowed for allowed in RESUMABLE_EDITS):
            continue
        differing.append(".".join(str(p) for p in key))
    return differing


_MISSING = object()


def check_resumable(saved_config, new_config, run):
    """UserError naming the changed keys when the config was edited in a way a resume cannot take."""
    from nnrun.config.spec import spec_from_data
    try:  # the saved config as this nnrun resolves it, so both sides have the same defaults
        saved_config = {**spec_from_data(saved_config).resolved(), "name": saved_config.get("name")}
    except UserError:
        pass
    if saved_config.get("network") != new_config.get("network"):
        raise UserError(f"--resume {run}: the network differs from the one this run trained; "
                        f"start a new run (or use train.init-from to start from its weights)")
    differing = incompatible_edits({k: v for k, v in saved_config.items() if k != "network"},
                                   {k: v for k, v in new_config.items() if k != "network"})
    if differing:
        shown = ", ".join(differing[:6]) + (", ..." if len(differing) > 6 else "")
        raise UserError(f"--resume {run}: the config was edited where a resumed run cannot follow ({shown}); "
                        f"a resume may change only train.epoch-count, train.early-stopping, train.device, "
                        f"train.eval-batch-size, train.threads, train.tensorboard and data.path")
