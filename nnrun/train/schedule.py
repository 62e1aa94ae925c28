"""Learning-rate schedules, stepped once per epoch after evaluation.

  step               multiply every rate by `gamma` each `step-size` epochs
  cosine             anneal from the configured rate to `min-learning-rate` over `epoch-count` epochs
  reduce-on-plateau  multiply by `factor` after `patience` epochs without a better selection score
"""
import torch

from nnrun.errors import UserError


class Schedule:
    """A thin wrapper giving every schedule the same `step(score)` and state."""

    def __init__(self, options, optimizer, epoch_count):
        self.kind = options["type"]
        if self.kind == "step":
            self.torch = torch.optim.lr_scheduler.StepLR(optimizer, options["step-size"], options["gamma"])
        elif self.kind == "cosine":
            if epoch_count is None:
                raise UserError("train.schedule: cosine anneals over train.epoch-count epochs; set one "
                                "(it is null: train until stopped)")
            self.torch = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epoch_count,
                                                                    options["min-learning-rate"])
        else:
            self.torch = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode="max", factor=options["factor"], patience=options["patience"],
                min_lr=options["min-learning-rate"])

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
