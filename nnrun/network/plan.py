"""From a network description (plain data) to a plan: one node per layer, in evaluation order,
each with its resolved arguments, parents, and input and output shapes.

A layer entry may be written in any of the forms a user would write:
    "relu"                                  a bare name
    {"linear->relu": 20}                    name: one positional argument
    {"input": {"width": 29, "id": "data"}}  name: keyword arguments
    {"convolutional": [5, 0, 1, 20]}        name: positional arguments
    ["convolutional", 5, 0, 1, 20, {"id": "c1"}]   a call (also what EDN's (convolutional ...) becomes)
    {"convolutional": [5, 0, 1, 20], "id": "c1"}   name plus keywords beside it
Every mistake is reported with its place: `network[3] (convolutional, id "c1"): ...`.
"""
import copy
import heapq
from dataclasses import dataclass, field

from nnrun.errors import UserError, did_you_mean
from nnrun.network import args as a
from nnrun.network.layers import HE_ACTIVATIONS, REGISTRY, ShapeError, lookup

# More layers than any real network has; the limit keeps a hostile description from tying up
# the planner and torch for minutes.
MAX_LAYERS = 10_000
# The most values one layer may give per example (torch indexes a tensor's rows with int32
# kernels in places; and 2**31 floats per example is 8 GB, beyond any batch).
MAX_VALUES_PER_EXAMPLE = 2**31 - 1

LOSSES = ("mse", "quadratic", "cross-entropy", "binary-cross-entropy")

# Keywords every layer takes. l1/l2 act on the node's output (activity regularization).
COMMON = {
    "id": a.node_id,
    "parents": a.node_ids,
    "l1-regularization": lambda v, n: 0.001 if v is True else a.non_negative_number(v, n),
    "l2-regularization": lambda v, n: 0.001 if v is True else a.non_negative_number(v, n),
    "learning-attenuation": a.non_negative_number,
    "non-trainable?": a.boolean,
    "loss": a.choice(*LOSSES),
    "target": a.node_id,
}
KEYWORD_ALIASES = {"non-trainable": "non-trainable?"}
# Options that belong to the weights of a combined layer (linear->relu puts them on the linear).
WEIGHT_OPTIONS = ("learning-attenuation", "non-trainable?")


@dataclass
class Call:
    index: int
    name: str
    positional: list
    keywords: dict

    def place(self, layer_id=None):
        ident = layer_id or self.keywords.get("id")
        return f"network[{self.index}] ({self.name}" + (f', id "{ident}")' if ident is not None else ")")


@dataclass
class Node:
    index: int                     # the layer's position in the description
    id: str
    layer: str                     # registry name
    args: dict                     # the layer's own arguments, checked, defaults filled in
    options: dict                  # COMMON options given for this node
    parents: list
    in_shapes: list = field(default_factory=list)
    out_shape: object = None
    he_init: bool = False
    children: list = field(default_factory=list)

    @property
    def place(self):
        return f'network[{self.index}] ({self.layer}, id "{self.id}")'


@dataclass
class Plan:
    nodes: list                    # in evaluation order
    description: list              # the description it came from (plain data, for checkpoints)

    def __post_init__(self):
        self.by_id = {node.id: node for node in self.nodes}

    @property
    def inputs(self):
        return [n for n in self.nodes if n.layer == "input"]

    @property
    def leaves(self):
        return [n for n in self.nodes if not n.children]

    def loss(self, leaf):
        return leaf.options.get("loss") or ("cross-entropy" if leaf.layer == "softmax" else "mse")

    def target(self, leaf):
        """The input id a leaf reconstructs (autoencoders), or None when it predicts labels."""
        return leaf.options.get("target")

    def fuses_activation(self, leaf):
        """Whether training hands this leaf's pre-activation to its loss, which applies the
        activation itself (log-softmax in cross-entropy, say): the layer's `fused_loss`."""
        return REGISTRY[leaf.layer].fused_loss is not None and REGISTRY[leaf.layer].fused_loss == self.loss(leaf)

    def macs_per_example(self):
        """Multiply-adds of one example's forward pass, from each layer's cost."""
        return sum(REGISTRY[n.layer].macs(n.args, n.in_shapes, n.out_shape) for n in self.nodes if n.in_shapes)

    @property
    def classifying_leaf(self):
        """The first leaf that predicts labels, or None (an autoencoder)."""
        return next((leaf for leaf in self.leaves if not self.target(leaf)), None)

    @property
    def reconstructing_leaf(self):
        """The first leaf that reconstructs an input, or None."""
        return next((leaf for leaf in self.leaves if self.target(leaf)), None)

    @property
    def inference_outputs(self):
        """The names of what inference gives for this network (nnrun.network.predictor), in order."""
        names = ["probabilities"] if self.classifying_leaf is not None else []
        if self.reconstructing_leaf is not None:
            names += ["reconstruction", "reconstruction_error"]
        return names


def plan_network(description):
    """Check a network description and infer every node's shapes; raise UserError on a mistake."""
    if not isinstance(description, list) or not description:
        raise UserError("network: must be a non-empty list of layers")
    if len(description) > MAX_LAYERS:
        raise UserError(f"network: {len(description):,} layers; nnrun takes at most {MAX_LAYERS:,}")
    calls = [parse_layer(entry, index) for index, entry in enumerate(description)]
    nodes = _expand(calls)
    _connect(nodes)
    ordered = _order(nodes)
    _infer_shapes(ordered)
    _choose_init(ordered)
    _check_leaves(ordered)
    return Plan(ordered, copy.deepcopy(description))


# ---- parsing one entry ---------------------------------------------------------------------

def parse_layer(entry, index):
    where = f"network[{index}]"
    if isinstance(entry, str):
        name, positional, keywords = entry, [], {}
    elif isinstance(entry, list):
        if not entry or not isinstance(entry[0], str):
            raise UserError(f"{where}: a layer written as a list starts with its name, got {entry!r}")
        name, positional = entry[0], list(entry[1:])
        keywords = positional.pop() if positional and isinstance(positional[-1], dict) else {}
    elif isinstance(entry, dict):
        name, positional, keywords = _parse_map(entry, where)
    else:
        raise UserError(f"{where}: a layer is a name, a map or a list, got {entry!r}")
    if lookup(name) is None:
        raise UserError(f'{where}: unknown layer "{name}"{did_you_mean(name, REGISTRY)}')
    for value in positional:
        if isinstance(value, (dict, list)) and lookup(name).name not in ("join", "concatenate"):
            raise UserError(f"{where} ({name}): unexpected argument {value!r}")
    return Call(index, lookup(name).name, positional, dict(keywords))


def check_layer(entry, index):
    """One layer entry on its own: its name and its arguments, with no shapes or connections.
    What a single layer's value can be wrong about by itself (a keep probability of 2, a width of
    0), which `nnrun sweep` checks before any trial, while a shape that no longer fits may be
    fixed by another swept value. UserError with the layer's place."""
    call = parse_layer(entry, index)
    _bind(call, REGISTRY[call.name])


def _parse_map(entry, where):
    names = [k for k in entry if isinstance(k, str) and lookup(k) is not None]
    if len(names) != 1:
        others = [k for k in entry if k not in COMMON]
        if len(names) > 1:
            raise UserError(f"{where}: one layer per entry, got {', '.join(names)}")
        unknown = others[0] if others else next(iter(entry), "?")
        raise UserError(f'{where}: unknown layer "{unknown}"{did_you_mean(unknown, REGISTRY)}')
    name = names[0]
    value = entry[name]
    keywords = {k: v for k, v in entry.items() if k != name}
    if value is None:
        positional = []
    elif isinstance(value, dict):
        positional, keywords = [], {**keywords, **value}
    elif isinstance(value, list):
        positional = list(value)
        if positional and isinstance(positional[-1], dict):
            keywords.update(positional.pop())
    else:
        positional = [value]
    return name, positional, keywords


def _bind(call, layer_type):
    """The layer's own arguments and the common options, checked, with defaults filled in."""
    where = call.place()
    params = layer_type.args
    if len(call.positional) > len(params):
        listed = " ".join(p.name for p in params) or "none"
        raise UserError(f"{where}: takes at most {len(params)} positional arguments ({listed}), "
                        f"got {len(call.positional)}")
    raw = {p.name: v for p, v in zip(params, call.positional)}
    options = {}
    known = [p.name for p in params] + list(COMMON)
    for key, value in call.keywords.items():
        key = KEYWORD_ALIASES.get(key, key)
        if key in COMMON:
            try:
                options[key] = COMMON[key](value, key)
            except ValueError as problem:
                raise UserError(f"{where}: {problem}") from None
        elif key in raw:
            raise UserError(f"{where}: {key} is given twice (positionally and by name)")
        elif key in known:
            raw[key] = value
        elif key == "same":  # EDN's :same starts keyword arguments; the pad is a string there
            raise UserError(f'{where}: unknown argument "same"; in EDN write the pad as a string, '
                            f'e.g. ({call.name} 3 "same" 1 ...)')
        else:
            raise UserError(f'{where}: unknown argument "{key}"{did_you_mean(key, known)}')
    checked = {}
    for p in params:
        if p.name not in raw:
            if p.default is a.REQUIRED:
                raise UserError(f"{where}: missing required argument {p.name}")
            checked[p.name] = p.default
            continue
        try:
            checked[p.name] = p.check(raw[p.name], p.name)
        except ValueError as problem:
            raise UserError(f"{where}: {problem}") from None
    return checked, options


# ---- nodes and edges -----------------------------------------------------------------------

def _expand(calls):
    """One node per layer; combined layers (linear->relu) become two nodes."""
    taken = {}
    for call in calls:
        ident = call.keywords.get("id")
        if ident is not None:
            ident = str(ident)
            if ident in taken:
                raise UserError(f'{call.place()}: id "{ident}" is already used by network[{taken[ident]}]')
            taken[ident] = call.index
    counters = {}

    def fresh(layer):
        while True:
            counters[layer] = counters.get(layer, 0) + 1
            candidate = f"{layer}-{counters[layer]}"
            if candidate not in taken:
                taken[candidate] = None
                return candidate

    nodes = []
    for call in calls:
        layer_type = REGISTRY[call.name]
        checked, options = _bind(call, layer_type)
        parts = layer_type.expands_to or (call.name,)
        for position, part in enumerate(parts):
            first, last = position == 0, position == len(parts) - 1
            # The weights' options go on the first part, the output's (id, l1/l2, loss) on the last.
            mine = {k: v for k, v in options.items() if k not in ("id", "parents")
                    and (len(parts) == 1 or (k in WEIGHT_OPTIONS) == first)}
            ident = str(options["id"]) if last and "id" in options else fresh(part)
            nodes.append(Node(call.index, ident, part, checked if first else {}, mine,
                              options.get("parents") if first else None))
    return nodes


def _connect(nodes):
    known = {n.id for n in nodes}
    previous = None
    for node in nodes:
        kind = REGISTRY[node.layer].parents
        if node.parents is None:
            if kind == "none":
                node.parents = []
            elif previous is None:
                raise UserError(f"{node.place}: has no layer before it to take input from; "
                                f"the first layer must be an input")
            else:
                node.parents = [previous.id]
        if kind == "none" and node.parents:
            raise UserError(f"{node.place}: an input takes no parents")
        if kind != "none" and not node.parents:
            raise UserError(f"{node.place}: parents is empty; only an input can start a graph")
        if kind == "one" and len(node.parents) > 1:
            raise UserError(f"{node.place}: takes one parent, got {len(node.parents)} "
                            f"({', '.join(node.parents)}); use join or concatenate to combine")
        for parent in node.parents:
            if parent not in known:
                raise UserError(f'{node.place}: unknown parent "{parent}"{did_you_mean(parent, known)}')
            if parent == node.id:
                raise UserError(f"{node.place}: a layer cannot be its own parent")
        previous = node
    by_id = {n.id: n for n in nodes}
    for node in nodes:
        for parent in node.parents:
            by_id[parent].children.append(node.id)


def _order(nodes):
    """Kahn's topological order, stable in description order; a cycle is an error."""
    waiting = {n.id: len(set(n.parents)) for n in nodes}
    by_id = {n.id: n for n in nodes}
    position = {n.id: i for i, n in enumerate(nodes)}
    # a heap of description positions: linear in the layers, where sorting a list per step was not
    ready = [position[n.id] for n in nodes if waiting[n.id] == 0]
    ordered, done = [], set()
    while ready:
        node = nodes[heapq.heappop(ready)]
        ordered.append(node)
        done.add(node.id)
        for child in dict.fromkeys(node.children):
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, position[child])
    if len(ordered) < len(nodes):
        stuck = [n for n in nodes if n.id not in done]
        cycle = [n for n in stuck if _reaches(n.id, n.id, by_id, done)] or stuck  # not what merely follows it
        raise UserError(f"network: the parents form a cycle through {', '.join(n.place for n in cycle)}")
    return ordered


def _reaches(start, goal, by_id, done):
    """Whether following parents from `start` (outside `done`) comes back to `goal`."""
    seen, todo = set(), list(by_id[start].parents)
    while todo:
        ident = todo.pop()
        if ident == goal:
            return True
        if ident not in seen and ident not in done:
            seen.add(ident)
            todo.extend(by_id[ident].parents)
    return False


def _infer_shapes(nodes):
    by_id = {n.id: n for n in nodes}
    for node in nodes:
        node.in_shapes = [by_id[p].out_shape for p in node.parents]
        try:
            node.out_shape = REGISTRY[node.layer].shape(node.args, node.in_shapes)
        except ShapeError as problem:
            inputs = ", ".join(f"{p} gives {by_id[p].out_shape}" for p in node.parents)
            raise UserError(f"{node.place}: {problem} ({inputs})") from None
        if node.out_shape.size > MAX_VALUES_PER_EXAMPLE:
            raise UserError(f"{node.place}: gives {node.out_shape.size:,} values per example "
                            f"({node.out_shape}); at most {MAX_VALUES_PER_EXAMPLE:,}")


def _choose_init(nodes):
    """He initialisation when the next activation after a weight layer is relu-like."""
    by_id = {n.id: n for n in nodes}
    for node in nodes:
        follower = node
        while len(follower.children) == 1:
            follower = by_id[follower.children[0]]
            if not REGISTRY[follower.layer].transparent:
                break
        node.he_init = REGISTRY[follower.layer].activation in HE_ACTIVATIONS


def _check_leaves(nodes):
    inputs = {n.id: n for n in nodes if n.layer == "input"}
    for node in nodes:
        if node.children:
            for key in ("loss", "target"):
                if key in node.options:
                    raise UserError(f"{node.place}: {key} belongs on a leaf (a layer nothing takes input "
                                    f"from), but {', '.join(node.children)} "
                                    f"{'takes' if len(node.children) == 1 else 'take'} input from this one")
            continue
        if node.layer == "input":
            raise UserError(f"{node.place}: nothing takes input from this input")
        target = node.options.get("target")
        if target is not None:
            if target not in inputs:
                raise UserError(f'{node.place}: target "{target}" is not an input'
                                f'{did_you_mean(target, inputs)} (the inputs: {", ".join(inputs)})')
            if inputs[target].out_shape.size != node.out_shape.size:
                raise UserError(f"{node.place}: output {node.out_shape} cannot reconstruct input "
                                f'"{target}" of shape {inputs[target].out_shape}')
