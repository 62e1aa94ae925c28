"""The shape of the values flowing between layers.

A value is either a *vector* (a batch is [N, width]) or an *image* (a batch is [N, C, H, W]).
Cortex describes both as width × height × channels; an input is an image when it has more
than one row or channel.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    channels: int
    height: int
    width: int
    image: bool

    @classmethod
    def vector(cls, width):
        return cls(1, 1, int(width), False)

    @classmethod
    def picture(cls, channels, height, width):
        return cls(int(channels), int(height), int(width), True)

    @property
    def size(self):
        return self.channels * self.height * self.width

    def batch_dims(self):
        """The dimensions of one item in a torch batch (after N)."""
        return (self.channels, self.height, self.width) if self.image else (self.width,)

    def to_list(self):
        return list(self.batch_dims())

    def __str__(self):
        return f"{self.channels}×{self.height}×{self.width}" if self.image else str(self.width)
