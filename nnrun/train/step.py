"""One training epoch: the hot loop.

An epoch's indices are drawn once (one tensor) and moved to the device; each step gathers its
batch by index, augments it, runs the network, and updates. In a parallel job each rank trains
on its part of every batch (nnrun.train.sampling.shard) through DistributedDataParallel. The step reads no number back from
the device: each loss is kept on the device and looked at every `check_every` steps, to update
the progress bar and to stop at the first non-finite loss (naming its batch).
"""
import math
import time

import torch

from nnrun.network.loss import leaf_loss
from nnrun.train import recipe
from nnrun.train.evaluation import needs_one_hot
from nnrun.train.sampling import shard


class NonFiniteLoss(Exception):
    def __init__(self, epoch, batch, value):
        super().__init__(f"epoch {epoch}, batch {batch}: loss is {value}")
        self.epoch, self.batch, self.value = epoch, batch, value


class EpochResult:
    def __init__(self, loss, seconds, samples, steps, interrupted):
        self.loss, self.seconds, self.samples, self.steps, self.interrupted = \
            loss, seconds, samples, steps, interrupted

    @property
    def samples_per_second(self):
        return self.samples / self.seconds if self.seconds > 0 else 0.0


def _batch_maker(session):
    """index tensor -> (network input, clean input) for a training batch."""
    data, augmenter, inputs = session.train_data, session.augmenter, session.inputs
    if augmenter.changes_stored:
        dtype, dims = session.dtype, tuple(session.input_dims)
        labels = data.labels
        reshape = tuple(data.x_file.shape[1:]) != dims  # e.g. 1×28×28 images into a 784-wide input

        def clean(index):
            stored = data.stored_batch(index).to(dtype)
            y = labels.index_select(0, index) if labels is not None else None
            x = inputs(augmenter.stored_units(stored, y))
            return x.reshape(len(x), *dims) if reshape else x
    else:
        clean = data.input_batch
    if session.channels_last and session.input_dims[0] > 1:  # one channel is NHWC already
        gather = clean

        def clean(index):
            return gather(index).contiguous(memory_format=torch.channels_last)
    if augmenter.inputs:
        def batch(index):
            x = clean(index)
            return augmenter.input_units(x), x
    else:
        def batch(index):
            x = clean(index)
            return x, x
    return batch


def _forward_maker(session, leaf):
    """x -> the leaf's training value (logits for a softmax/logistic leaf whose loss folds them in)."""
    if session.parallel is not None:  # through DistributedDataParallel, which syncs the gradients
        run, key = session.parallel, leaf.id

        def forward(x):
            outputs, penalty = run(x)
            return outputs[key], penalty
        return forward
    modules = session.network.chain(logits=leaf.from_logits)
    if modules is None:
        run, key = session.network.run, leaf.id

        def forward(x):
            outputs, penalty = run(x, logits=True)
            return outputs[key], penalty
        return forward

    def forward(x):
        for module in modules:
            x = module(x)
        return x, None
    return forward


def _loss_maker(session):
    """index tensor -> the batch's loss (Σ over leaves + activity penalty)."""
    run = session.network.run
    if session.parallel is not None:
        parallel = session.parallel

        def run(x, logits):
            return parallel(x)
    data = session.train_data
    batch = _batch_maker(session)
    leaves = session.task.leaves
    if len(leaves) == 1:
        leaf = leaves[0]
        kind, logits = leaf.loss, leaf.from_logits
        forward = _forward_maker(session, leaf)
        if leaf.target is None:
            table = data.one_hot if needs_one_hot(leaf) else data.labels
            targets = table.index_select
            if recipe.uses_loss_options(session.spec.train):  # class weights, smoothing, mixing
                return recipe.loss_maker(session, batch, forward, targets)

            def loss_of(index):
                x, _ = batch(index)
                output, penalty = forward(x)
                loss = leaf_loss(kind, output, targets(0, index), logits)
                return loss if penalty is None else loss + penalty
        else:
            def loss_of(index):
                x, clean = batch(index)
                output, penalty = forward(x)
                loss = leaf_loss(kind, output, clean, logits)
                return loss if penalty is None else loss + penalty
        return loss_of

    def loss_of(index):
        x, clean = batch(index)
        outputs, penalty = run(x, logits=True)
        total = penalty
        for leaf in leaves:
            if leaf.target is not None:
                target = clean
            else:
                target = data.one_hot[index] if needs_one_hot(leaf) else data.labels[index]
            value = leaf_loss(leaf.loss, outputs[leaf.id], target, leaf.from_logits)
            total = value if total is None else total + value
        return total
    return loss_of


def _updater(session):
    """loss -> one optimizer step (mixed-precision scaling and gradient clipping when asked)."""
    optimizer, scaler = session.optimizer, session.scaler
    clip = session.spec.train["gradient-clipping"]
    params = [p for group in optimizer.param_groups for p in group["params"]]
    step = optimizer.step

    def zero_grad():  # what optimizer.zero_grad(set_to_none=True) does, without its profiler scope
        for p in params:
            p.grad = None
    if scaler is not None:
        def update(loss):
            zero_grad()
            scaler.scale(loss).backward()
            if clip:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, clip)
            scaler.step(optimizer)
            scaler.update()
    elif clip:
        def update(loss):
            zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, clip)
            step()
    else:
        def update(loss):
            zero_grad()
            loss.backward()
            step()
    if session.ema is not None:
        plain, average = update, session.ema.update

        def update(loss):
            plain(loss)
            average()
    return update


class EpochRunner:
    """Runs training epochs for a session. `stop()` says whether to stop now (Ctrl-C)."""

    def __init__(self, session, stop):
        self.session = session
        self.stop = stop
        self.loss_of = _loss_maker(session)
        self.update = _updater(session)

    def run(self, epoch, indices, progress=None, on_progress=None):
        """Train one epoch on the global epoch `indices`, this rank's part of each batch (one
        process: all of it). `on_progress(samples done, total, seconds)` is called at each loss
        check (every ~1% of the epoch), where the step already reads from the device."""
        s = self.session
        world, batch_size, device = s.world, s.batch_size, s.device
        total = len(indices)
        steps = math.ceil(total / batch_size)
        local, counts = shard(indices, world.rank, world.size, batch_size)
        local = local.to(device)
        bounds = [0] + torch.cumsum(counts, 0).tolist()
        # A rank's loss is the mean over its part; DDP averages gradients over the ranks, so each
        # rank's loss is weighted by (its part × ranks / batch) and the average is the batch mean.
        scales = [int(c) * world.size / min(batch_size, total - i * batch_size)
                  for i, c in enumerate(counts)] if world.parallel else None
        check_every = max(1, min(steps // 100, 200))
        loss_of, update, stop = self.loss_of, self.update, self.stop
        autocast = s.autocast_factory
        s.network.train()
        kept, losses, checked, done = [], [], 0, 0
        start = time.perf_counter()
        interrupted = False
        for i in range(steps):
            if not world.parallel and stop():  # a parallel job stops where all ranks agree (_check)
                interrupted = True
                break
            index = local[bounds[i]:bounds[i + 1]]
            if autocast is None:
                loss = loss_of(index)
            else:
                with autocast():
                    loss = loss_of(index)
            if scales is not None:
                loss = loss * scales[i]
            update(loss)
            kept.append(loss.detach())
            done = i + 1
            if done - checked >= check_every:
                stopping = self._check(epoch, kept, checked, done, progress, batch_size, total, losses)
                checked = done
                if on_progress is not None:
                    on_progress(min(done * batch_size, total), total, time.perf_counter() - start)
                if stopping:
                    interrupted = True
                    break
        if done > checked:
            self._check(epoch, kept, checked, done, progress, batch_size, total, losses)
        world.share_buffers(s.network)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
        samples = min(done * batch_size, total)
        mean = float(torch.cat(losses).double().mean()) if losses else float("nan")
        return EpochResult(mean, seconds, samples, done, interrupted)

    def _check(self, epoch, kept, checked, done, progress, batch_size, total, losses):
        """Stop at a non-finite loss; update the progress bar with the running loss. In a parallel
        job the ranks' losses are summed here into the batch losses (and `losses` keeps them), and
        the ranks agree whether to stop: True when any rank was asked to."""
        chunk = torch.stack(kept[checked:done])
        world, stopping = self.session.world, False
        if world.parallel:
            flag = torch.tensor([1.0 if self.stop() else 0.0], dtype=torch.float64, device=chunk.device)
            summed = world.sum(torch.cat([chunk.double(), flag]))
            chunk, stopping = summed[:-1] / world.size, bool(summed[-1] > 0)
        losses.append(chunk)
        finite = torch.isfinite(chunk)
        if not bool(finite.all()):
            first = int((~finite).nonzero()[0, 0])
            raise NonFiniteLoss(epoch, checked + first + 1, float(chunk[first]))
        if progress is not None:
            seen = min(done * batch_size, total)
            progress.set_postfix_str(f"loss {float(chunk.mean()):.4f}", refresh=False)  # tqdm shows samples/s
            progress.update(seen - progress.n)
        return stopping
