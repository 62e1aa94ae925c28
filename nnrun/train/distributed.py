"""The processes of a training job, as torch.distributed sees them.

`torchrun` (or `nnrun train --nproc N`, which runs torch's own launcher) starts one process per
rank with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT in its environment;
`open_world` joins them into a process group: gloo on the CPU, nccl on CUDA with one GPU per
process (LOCAL_RANK picks it). Without those variables the job is one process and every
collective below is the identity, so single-process training runs the same code at no cost.

Every decision that changes control flow (stop now, the loss was not finite, a setup check
failed) is agreed by all ranks through a collective, so no rank leaves a loop that another is
still in: a rank that left alone would leave the others waiting in their next collective.
"""
import datetime
import hashlib
import os
import sys

import torch

from nnrun.errors import UserError

# A rank waits this long for the others in a collective before giving up (a peer that died is
# noticed sooner: its sockets close).
TIMEOUT = datetime.timedelta(minutes=30)


class RankError(UserError):
    """A mistake this rank finds before the ranks can talk (so it says it itself)."""


class World:
    """One process's view of the job: rank, size, and the collectives the trainer needs."""

    def __init__(self, rank=0, size=1, local_rank=0, device=None, group=False):
        self.rank, self.size, self.local_rank = rank, size, local_rank
        self.device = device          # the device this rank must train on (None: the config's)
        self.group = group            # whether a process group was made (and must be ended)

    @property
    def main(self):
        return self.rank == 0

    @property
    def parallel(self):
        return self.size > 1

    def _reduce_device(self):
        # nccl reduces tensors on the GPU only; gloo on the CPU
        return self.device if self.device is not None and self.device.type == "cuda" else torch.device("cpu")

    def sum(self, tensor):
        """The element-wise sum over ranks of `tensor` (a new tensor where it was moved)."""
        if not self.parallel:
            return tensor
        moved = tensor.to(self._reduce_device())
        if moved is tensor:
            moved = tensor.clone()
        torch.distributed.all_reduce(moved, op=torch.distributed.ReduceOp.SUM)
        return moved.to(tensor.device)

    def any(self, flag):
        """Whether `flag` holds on any rank."""
        if not self.parallel:
            return bool(flag)
        return bool(self.sum(torch.tensor([1.0 if flag else 0.0])).item() > 0)

    def gather(self, value):
        """Every rank's `value` (any picklable object), in rank order, on every rank."""
        if not self.parallel:
            return [value]
        values = [None] * self.size
        torch.distributed.all_gather_object(values, value)
        return values

    def broadcast(self, value):
        """Rank 0's `value` on every rank."""
        if not self.parallel:
            return value
        box = [value if self.main else None]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def agree(self, problem):
        """After a setup step that can fail on some ranks: raise on every rank if it failed on
        any. `problem` is this rank's UserError or None; rank 0 raises the first failing rank's
        message (its own first), the others raise it too but print nothing (nnrun.commands.train)."""
        if not self.parallel:
            if problem is not None:
                raise problem
            return
        messages = self.gather(str(problem) if problem is not None else None)
        failed = [(rank, text) for rank, text in enumerate(messages) if text is not None]
        if not failed:
            return
        rank, text = failed[0]
        if rank != 0 and self.main:
            text = f"rank {rank}: {text}"
        raise UserError(text)

    def share_buffers(self, network):
        """Rank 0's buffers (batch-norm running statistics) on every rank, in place. DDP sends
        them at the start of each forward, so after the epoch's last step each rank holds its own
        update; evaluation and checkpoints must all see rank 0's, as one network."""
        if not self.parallel:
            return
        for buffer in network.buffers():
            if buffer.device.type == self._reduce_device().type:
                torch.distributed.broadcast(buffer, src=0)
            else:
                moved = buffer.to(self._reduce_device())
                torch.distributed.broadcast(moved, src=0)
                buffer.copy_(moved)

    def close(self):
        if self.group and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
            self.group = False


def leave_job(code):
    """End a rank's process once its part of the job is done and written, without the
    interpreter's teardown. DistributedDataParallel keeps the process group, and with it gloo's
    worker threads, alive past destroy_process_group (torch holds it from C++), so they cannot
    be joined first; and a worker that releases the last collective's tensors while the
    interpreter is finalizing takes the GIL, which aborts the process (SIGABRT, "terminate called
    without an active exception") and makes the launcher report a finished job as failed (torch
    pull request 179291 describes it). Deleting this call leaves a correct program with that
    rare abort at exit."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def launched():
    """Whether this process was started by torchrun (or a launcher setting the same variables)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def _integer(name):
    value = os.environ.get(name, "")
    try:
        return int(value)
    except ValueError:
        raise RankError(f"environment variable {name}={value!r}: not a whole number "
                        f"(is this process started by torchrun?)") from None


def open_world(device_option):
    """Join the job's process group when started by a launcher; else the one-process world.
    `device_option` is train.device: auto or cuda* train on GPU LOCAL_RANK with nccl, cpu on gloo."""
    if not launched():
        return World()
    rank, size, local_rank = _integer("RANK"), _integer("WORLD_SIZE"), _integer("LOCAL_RANK")
    if size == 1:
        return World()
    wanted = device_option or "auto"
    cuda = wanted.startswith("cuda") or (wanted == "auto" and torch.cuda.is_available())
    if cuda:
        if not torch.cuda.is_available():
            raise RankError(f"rank {rank}: train.device {wanted}: CUDA is not available on this machine")
        if local_rank >= torch.cuda.device_count():
            raise RankError(f"rank {rank}: LOCAL_RANK {local_rank} but this machine has "
                            f"{torch.cuda.device_count()} GPU(s): start at most one process per GPU")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    kwargs = {"device_id": device} if cuda else {}
    torch.distributed.init_process_group(backend, store=_attempt_store(rank, size), rank=rank, world_size=size,
                                         timeout=TIMEOUT, **kwargs)
    return World(rank, size, local_rank, device, group=True)


def _attempt_store(rank, size):
    """The launcher's key-value store, with keys of this attempt only. torchrun shares one store
    across the restarts of --max-restarts, so without the prefix a restarted rank can read the
    address a rank of the attempt before published, and never connect (pytorch issue 135712)."""
    from torch.distributed import PrefixStore
    from torch.distributed.rendezvous import rendezvous

    store, _, _ = next(rendezvous("env://", rank, size, timeout=TIMEOUT))
    return PrefixStore(f"nnrun-attempt-{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}", store)


def stream_seed(seed, world, epoch, purpose):
    """The seed of this rank's random stream (augmentation, dropout) for `epoch` of a parallel
    run: different per rank, and a function of (seed, world size, rank, epoch) only, so a run is
    reproducible from its seed and world size and a resume at an epoch boundary, with any number
    of processes, draws what that number of processes would have drawn."""
    text = f"nnrun-{purpose}/{int(seed)}/{world.size}/{world.rank}/{int(epoch)}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def seed_rank_streams(session, epoch):
    """Before each epoch of a parallel run: this rank's augmentation and torch (dropout) streams
    from `stream_seed`. A one-process run keeps its continuous streams (saved for an exact resume)."""
    world, seed = session.world, session.spec.train["seed"]
    if not world.parallel:
        return
    session.augmenter.generator.manual_seed(stream_seed(seed, world, epoch, "augmentation"))
    torch.manual_seed(stream_seed(seed, world, epoch, "torch"))


def wrap_for_training(network, world):
    """The network's training forward (`network.run(x, logits=True)`) as a DistributedDataParallel
    module, whose backward averages the gradients over the ranks; None for one process. The
    network itself stays unwrapped: checkpoints, evaluation and the ONNX graph use it."""
    if not world.parallel:
        return None
    from torch.nn.parallel import DistributedDataParallel

    cuda = world.device is not None and world.device.type == "cuda"
    return DistributedDataParallel(_TrainingForward(network), device_ids=[world.device] if cuda else None)


class _TrainingForward(torch.nn.Module):
    def __init__(self, network):
        super().__init__()
        self.network = network

    def forward(self, x):
        return self.network.run(x, logits=True)
