"""From a plan to a torch module that runs the graph."""
import torch
from torch import nn

from nnrun.network.layers import REGISTRY
from nnrun.network.memory import require_fit



def module_key(node_id):
    """torch forbids '.' in module names; ids stay readable otherwise."""
    return node_id.replace(".", "_")


class Network(nn.Module):
    """Runs a planned graph. `forward(x)` gives the leaf output(s) as probabilities/values;
    `run(inputs, logits=True)` is what training calls: leaf outputs (pre-activation for a
    softmax/logistic leaf whose loss folds the activation in) and the activity penalty."""

    def __init__(self, plan):
        super().__init__()
        self.plan = plan
        self.layers = nn.ModuleDict()
        self._steps = []
        for node in plan.nodes:
            if node.layer == "input":
                continue
            build = REGISTRY[node.layer].build
            module = build(node.args, node.in_shapes, node.out_shape, node.he_init) if build else None
            if module is not None:
                self.layers[module_key(node.id)] = module
            self._steps.append((node.id, module_key(node.id) if module is not None else None, node.parents))
        self._inputs = [(n.id, n.out_shape.batch_dims()) for n in plan.inputs]
        self._leaves = [n.id for n in plan.leaves]
        self._logit_leaves = {n.id for n in plan.leaves if plan.fuses_activation(n)}
        self._penalties = [(n.id, n.options.get("l1-regularization", 0.0), n.options.get("l2-regularization", 0.0))
                           for n in plan.nodes
                           if n.options.get("l1-regularization") or n.options.get("l2-regularization")]
        self._chains = {logits: self._find_chain(logits) for logits in (False, True)}
        self._apply_trainability()

    def _find_chain(self, logits):
        """The keys of the modules to call in turn when the graph is one chain (one input, one leaf, each node
        taking the node before it, no activity penalty), else None: what `run` does, with less
        Python per call. With `logits`, a softmax/logistic leaf's activation is left off."""
        nodes = self.plan.nodes
        if len(self._inputs) != 1 or len(self._leaves) != 1 or self._penalties or nodes[0].layer != "input":
            return None
        chain = []
        for previous, (ident, key, parents) in zip(nodes, self._steps):
            if parents != [previous.id]:
                return None
            if key is None or (logits and ident in self._logit_leaves):
                continue  # a split passes its input on; the loss applies this activation
            chain.append(key)
        return tuple(chain)

    def chain(self, logits=False):
        """The chain's modules, in order (see `_find_chain`), or None when the graph is not one
        chain. Looked up now, so a module swapped into `layers` after building is the one used."""
        keys = self._chains[logits]
        return None if keys is None else tuple(self.layers[key] for key in keys)

    def _apply_trainability(self):
        for node in self.plan.nodes:
            key = module_key(node.id)
            if key in self.layers and (node.options.get("non-trainable?")
                                       or node.options.get("learning-attenuation") == 0):
                for parameter in self.layers[key].parameters():
                    parameter.requires_grad_(False)

    def parameter_groups(self):
        """[(learning-rate scale, [parameters])] for the optimizer; frozen layers left out."""
        groups = {}
        for node in self.plan.nodes:
            key = module_key(node.id)
            if key not in self.layers:
                continue
            trainable = [p for p in self.layers[key].parameters() if p.requires_grad]
            if trainable:
                groups.setdefault(node.options.get("learning-attenuation", 1.0), []).extend(trainable)
        return sorted(groups.items(), key=lambda item: -item[0])

    def _feed(self, inputs):
        if isinstance(inputs, torch.Tensor):
            if len(self._inputs) != 1:
                raise ValueError(f"this network has {len(self._inputs)} inputs: pass a dict by id")
            inputs = {self._inputs[0][0]: inputs}
        values = {}
        for ident, dims in self._inputs:
            x = inputs[ident]
            if tuple(x.shape[1:]) != dims:  # e.g. 1×28×28 images into a 784-wide input
                x = x.reshape(x.shape[0], *dims)
            values[ident] = x
        return values

    def run(self, inputs, logits=False):
        """(dict leaf id -> output, activity penalty or None)."""
        values = self._feed(inputs)
        layers = self.layers
        chain = self._chains[logits]
        if chain is not None:
            x = values[self._inputs[0][0]]
            for key in chain:
                x = layers[key](x)
            return {self._leaves[0]: x}, None
        for ident, key, parents in self._steps:
            if key is None:  # split: a fan-out point
                values[ident] = values[parents[0]]
            elif logits and ident in self._logit_leaves:
                values[ident] = values[parents[0]]
            elif len(parents) == 1:
                values[ident] = layers[key](values[parents[0]])
            else:
                values[ident] = layers[key](*(values[p] for p in parents))
        penalty = None
        for ident, l1, l2 in self._penalties:
            activity = values[ident].flatten(1)
            term = 0
            if l1:
                term = term + l1 * activity.abs().sum(1).mean()
            if l2:
                term = term + l2 * activity.pow(2).sum(1).mean()
            penalty = term if penalty is None else penalty + term
        return {leaf: values[leaf] for leaf in self._leaves}, penalty

    def forward(self, inputs):
        outputs, _ = self.run(inputs)
        return outputs[self._leaves[0]] if len(self._leaves) == 1 else outputs


def build_network(plan, device=None, dtype=None, where="network"):
    """The module for a plan, initialised as Cortex would (He/Xavier), on `device` in `dtype`.
    A network that cannot fit in this machine's memory is refused before anything is allocated."""
    count_parameters(plan, where)
    network = Network(plan)
    if dtype is not None or device is not None:
        network = network.to(device=device, dtype=dtype)
    return network


def count_parameters(plan, where="network"):
    """{node id: parameter count}, built on torch's meta device so nothing is allocated;
    UserError when the network could not fit in this machine's memory (nnrun/network/memory.py)."""
    with torch.device("meta"):
        network = Network(plan)
    counts = {}
    for node in plan.nodes:
        key = module_key(node.id)
        counts[node.id] = sum(p.numel() for p in network.layers[key].parameters()) if key in network.layers else 0
    require_fit(plan, counts, where)
    return counts
