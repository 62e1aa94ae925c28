"""Builder pieces the families share: torch on first use, weight initialisation, and the wrappers
that make a builder from a torch.nn class or one of nnrun's own modules."""
import math

from nnrun.lazy import OnFirstUse

# Planning needs no torch: building does, and imports it then (see nnrun/lazy.py).
torch = OnFirstUse("torch")
nn = OnFirstUse("torch.nn")
modules = OnFirstUse("nnrun.network.modules")


def init_weight(weight, fan_in, he):
    """He (variance 2/fan-in) before relu-like activations, Xavier (variance 1/fan-in) otherwise."""
    if weight.is_meta:  # counting parameters: nothing to draw (and meta normal_ imports torch._dynamo, slowly)
        return
    with torch.no_grad():
        weight.normal_(0.0, math.sqrt((2.0 if he else 1.0) / fan_in))


def zero_bias(module):
    if getattr(module, "bias", None) is not None:
        with torch.no_grad():
            module.bias.zero_()


def simple(make):
    """A builder from make(args, in_shapes), for modules whose weights need no initialisation here."""
    def build(p, in_shapes, out, he):
        return make(p, in_shapes)
    return build


def torch_module(name, **kwargs):
    """A builder of torch.nn.<name>(**kwargs)."""
    def make(p, in_shapes):
        return getattr(nn, name)(**kwargs)
    return simple(make)


def own_module(name, *fields):
    """A builder of nnrun.network.modules.<name>, given the values of these arguments."""
    def make(p, in_shapes):
        return getattr(modules, name)(*(p[f] for f in fields))
    return simple(make)
