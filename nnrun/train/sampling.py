"""Infinite training streams cut into epochs, as index tensors (no per-sample Python).

Cortex's training data is an endless stream: `ShuffleStream` walks the training split in a fresh
random order each pass; `ClassBalancedStream` keeps one endless stream per class (each reshuffled
when it runs out) and takes one example from each class in turn, so every batch is balanced.
`take(n)` returns the next n indices of the stream; an epoch is `take(epoch_size)`.

Streams are seeded, their whole state is plain data (`state_dict`/`load_state_dict`, tensors
included) for an exact resume, and they are the same in every process given the same seed, so a
data-parallel run shards them with `shard(indices, rank, world, batch_size)`: each process
draws the same global epoch and keeps its part of every batch.
"""
import torch


class _Stream:
    """One endless stream over the indices `pool`, in a fresh random order each pass."""

    def __init__(self, pool, generator):
        self.pool = pool
        self.generator = generator
        self.order = self._shuffled()
        self.cursor = 0

    def _shuffled(self):
        return self.pool[torch.randperm(len(self.pool), generator=self.generator)]

    def take(self, count):
        parts, need = [], count
        while need > 0:
            if self.cursor == len(self.order):
                self.order, self.cursor = self._shuffled(), 0
            part = self.order[self.cursor:self.cursor + need]
            self.cursor += len(part)
            need -= len(part)
            parts.append(part)
        return torch.cat(parts) if len(parts) != 1 else parts[0]

    def state_dict(self):
        return {"order": self.order.clone(), "cursor": self.cursor}

    def load_state_dict(self, state):
        # from a file: an order that is not a shuffle of this pool would feed other examples (or
        # indices past the split's end), a cursor past it would never reach the reshuffle
        if not isinstance(state, dict) or not {"order", "cursor"} <= state.keys():
            raise ValueError("the saved sampler's state is not a map of its order and position")
        order, cursor = state["order"], state["cursor"]
        if not isinstance(order, torch.Tensor) or order.dim() != 1 or order.is_floating_point() \
                or not torch.equal(torch.sort(order.to(torch.int64)).values, torch.sort(self.pool).values):
            raise ValueError(f"the saved sampler's order is not a shuffle of this split's {len(self.pool):,} examples")
        if not isinstance(cursor, int) or isinstance(cursor, bool) or not 0 <= cursor <= len(order):
            raise ValueError(f"the saved sampler's position {cursor!r} is not within its {len(order):,} examples")
        self.order = order.to(torch.int64)
        self.cursor = cursor


def _generator(seed):
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    return generator


class ShuffleStream:
    """Plain shuffled epochs: every example once per pass, a new order each pass."""

    kind = "shuffle"

    def __init__(self, labels, seed):
        count = len(labels)
        if count == 0:
            raise ValueError("cannot sample from an empty split")
        self.generator = _generator(seed)
        self.stream = _Stream(torch.arange(count, dtype=torch.int64), self.generator)

    def take(self, count):
        return self.stream.take(int(count))

    def state_dict(self):
        return {"kind": self.kind, "generator": self.generator.get_state(), "stream": self.stream.state_dict()}

    def load_state_dict(self, state):
        _check_kind(self, state)
        self.generator.set_state(state["generator"])
        self.stream.load_state_dict(state["stream"])


class ClassBalancedStream:
    """Cortex's class-balanced stream: one endless reshuffled stream per class, one example from
    each class in turn (classes with no example in the split are left out of the turn)."""

    kind = "class-balanced"

    def __init__(self, labels, seed):
        labels = torch.tensor(labels, dtype=torch.int64) if not isinstance(labels, torch.Tensor) else labels.long()
        if len(labels) == 0:
            raise ValueError("cannot sample from an empty split")
        self.generator = _generator(seed)
        self.classes = [int(c) for c in torch.unique(labels)]  # sorted, present classes only
        self.streams = [_Stream(torch.nonzero(labels == c).flatten(), self.generator) for c in self.classes]
        self.turn = 0  # which class the next index comes from

    def take(self, count):
        count, k = int(count), len(self.streams)
        out = torch.empty(count, dtype=torch.int64)
        for position, stream in enumerate(self.streams):
            first = (position - self.turn) % k  # the first place in this draw that is this class's
            places = torch.arange(first, count, k)
            out[places] = stream.take(len(places))
        self.turn = (self.turn + count) % k
        return out

    def state_dict(self):
        return {"kind": self.kind, "generator": self.generator.get_state(), "turn": self.turn,
                "classes": list(self.classes), "streams": [s.state_dict() for s in self.streams]}

    def load_state_dict(self, state):
        _check_kind(self, state)
        if list(state["classes"]) != self.classes or len(state["streams"]) != len(self.streams):
            raise ValueError("the saved sampler was made for other classes")
        turn = state["turn"]
        if not isinstance(turn, int) or isinstance(turn, bool) or not 0 <= turn < len(self.streams):
            raise ValueError(f"the saved sampler's turn {turn!r} is not one of its {len(self.streams)} classes")
        self.generator.set_state(state["generator"])
        self.turn = turn
        for stream, saved in zip(self.streams, state["streams"]):
            stream.load_state_dict(saved)


def _check_kind(sampler, state):
    if state.get("kind") != sampler.kind:
        raise ValueError(f"the saved sampler is {state.get('kind')}, not {sampler.kind}")


SAMPLERS = {"shuffle": ShuffleStream, "class-balanced": ClassBalancedStream}


def make_sampler(kind, labels, seed):
    """The stream named by `train.sampling` over a split's labels."""
    return SAMPLERS[kind](labels, seed)


def shard(indices, rank, world, batch_size):
    """This process's share of a global epoch: (its indices, the size of its part of each batch).

    The epoch is cut into global batches of `batch_size` (the last may be shorter) and each batch
    into `world` contiguous parts, part r of sizes ⌊b·(r+1)/w⌋ − ⌊b·r/w⌋; rank r keeps part r of
    every batch. Concatenating the parts of a step in rank order gives back the global batch, so
    the ranks together train on exactly what one process draws. Contiguous parts (not every
    w-th index) keep a class-balanced stream's round-robin inside each part: each rank's part
    holds every class to within one example.
    """
    indices = torch.as_tensor(indices)
    total, batch_size = len(indices), int(batch_size)
    starts = torch.arange(0, total, batch_size)
    sizes = torch.clamp(total - starts, max=batch_size)
    low = starts + sizes * rank // world
    high = starts + sizes * (rank + 1) // world
    counts = high - low
    if world == 1:
        return indices, counts
    # positions of this rank's parts, one gather: arange(low_i, high_i) for every batch i
    offsets = torch.repeat_interleave(low - torch.cumsum(counts, 0) + counts, counts)
    positions = torch.arange(int(counts.sum())) + offsets
    return indices[positions], counts
