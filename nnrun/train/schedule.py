"""Learning-rate schedules, stepped once per epoch after evaluation.

  step               multiply every rate by `gamma` each `step-size` epochs
  cosine             anneal from the configured rate to `min-learning-rate` over `epoch-count` epochs
  reduce-on-plateau  multiply by `factor` after `patience` epochs without a better selection score

`warmup-epochs` W (step and cosine) first raises the rate linearly, from 1/(W+1) of it in the
first epoch to all of it in epoch W+1, where the schedule starts (cosine anneals over the rest).
A large rate on freshly initialised weights can throw a network off; the warm-up avoids it.
"""
import torch

from nnrun.errors import UserError


class Schedule:
    """A thin wrapper giving every schedule the same `step(score)` and state."""

    def __init__(self, options, optimizer, epoch_count):
        self.kind = options["type"]
        warmup = options.get("warmup-epochs") or 0
        if warmup and self.kind == "reduce-on-plateau":
            raise UserError("train.schedule.warmup-epochs: for step and cosine schedules (reduce-on-plateau "
                            "follows the score)")
        if warmup and epoch_count is not None and warmup >= epoch_count:
            raise UserError(f"train.schedule.warmup-epochs: {warmup} leaves no epoch of the "
                            f"train.epoch-count {epoch_count} to the schedule")
        if self.kind == "step":
            self.torch = torch.optim.lr_scheduler.StepLR(optimizer, options["step-size"], options["gamma"])
        elif self.kind == "cosine":
            if epoch_count is None:
                raise UserError("train.schedule: cosine anneals over train.epoch-count epochs; set one "
                                "(it is null: train until stopped)")
            self.torch = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epoch_count - warmup,
                                                                    options["min-learning-rate"])
        else:
            self.torch = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode="max", factor=options["factor"], patience=options["patience"],
                min_lr=options["min-learning-rate"])
        if warmup:
            rise = torch.optim.lr_scheduler.LinearLR(optimizer, 1 / (warmup + 1), 1.0, warmup)
            self.torch = torch.optim.lr_scheduler.SequentialLR(optimizer, [rise, self.torch], [warmup])

    def step(self, score):
        if self.kind == "reduce-on-plateau":
            self.torch.step(score)
        else:
            self.torch.step()

    def state_dict(self):
        return self.torch.state_dict()

    def load_state_dict(self, state):
        self.torch.load_state_dict(state)


def make_schedule(options, optimizer, epoch_count):
    """The schedule `train.schedule` describes, or None."""
    if options is None or optimizer is None:
        return None
    return Schedule(options, optimizer, epoch_count)
