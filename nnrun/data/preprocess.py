"""How stored arrays become network inputs, the same way in training and in inference.

A checkpoint carries this as plain data (`to_dict`), so `infer` turns a raw photo or CSV row
into exactly what the network saw in training, with no config file.

Modes:
  standardize  (x − mean) / std with the training split's statistics (tables: per feature,
               images: per channel, in 0..255 pixel units); a table's category codes have
               mean 0 and std 1, so they pass unchanged to the network's embedding layer
  centered     pixel / 255 − 0.5, Cortex's image scaling
  unit         pixel / 256, the from-scratch MNIST network's scaling
  none         as stored
"""
from dataclasses import dataclass, field

import numpy as np

MODES = ("standardize", "centered", "unit", "none")


@dataclass
class Preprocessing:
    kind: str                          # "table" or "images"
    mode: str
    mean: list = field(default_factory=list)
    std: list = field(default_factory=list)
    features: list = field(default_factory=list)   # tables: column names, in order
    image_size: int = 0                # images: side in pixels
    channels: int = 0
    encoding: dict = None              # tables: how raw rows become features (nnrun.data.table)

    @classmethod
    def from_manifest(cls, manifest, mode="auto"):
        kind = manifest["kind"]
        if mode == "auto":
            mode = "standardize" if kind == "table" else "centered"
        norm = manifest.get("normalisation") or {}
        image = manifest.get("image") or {}
        return cls(kind, mode, list(norm.get("mean") or []), list(norm.get("std") or []),
                   list(manifest.get("features") or []), int(image.get("size") or 0),
                   int(image.get("channels") or 0), manifest.get("encoding"))

    @classmethod
    def from_dict(cls, value):
        return cls(value["kind"], value["mode"], list(value.get("mean") or []), list(value.get("std") or []),
                   list(value.get("features") or []), int(value.get("image-size") or 0),
                   int(value.get("channels") or 0), value.get("encoding"))

    def to_dict(self):
        value = {"kind": self.kind, "mode": self.mode, "mean": self.mean, "std": self.std,
                 "features": self.features, "image-size": self.image_size, "channels": self.channels}
        if self.encoding is not None:
            value["encoding"] = self.encoding
        return value

    def table_encoding(self):
        """The TableEncoding of raw rows: the stored one, or for a table of numbers only
        (prepared before encodings were stored) its features as number columns."""
        from nnrun.data.table.encoding import TableEncoding

        if self.encoding is not None:
            return TableEncoding.from_dict(self.encoding)
        return TableEncoding.of_numbers(self.features)

    def scale_and_shift(self):
        """(scale, shift) arrays such that input = stored · scale + shift, shaped to broadcast
        over a batch ([F] for tables, [C, 1, 1] for images)."""
        if self.mode == "standardize":
            std = np.asarray(self.std, dtype=np.float64)
            std = np.where(std > 0, std, 1.0)  # a constant feature stays as it is, centred
            scale = 1.0 / std
            shift = -np.asarray(self.mean, dtype=np.float64) * scale
        elif self.mode == "centered":
            scale, shift = np.array([1 / 255.0]), np.array([-0.5])
        elif self.mode == "unit":
            scale, shift = np.array([1 / 256.0]), np.array([0.0])
        else:
            scale, shift = np.array([1.0]), np.array([0.0])
        if self.kind == "images":
            scale, shift = scale.reshape(-1, 1, 1), shift.reshape(-1, 1, 1)
        return scale.astype(np.float32), shift.astype(np.float32)

    def apply(self, x):
        """Stored values (uint8 images or float tables) -> float32 network inputs."""
        scale, shift = self.scale_and_shift()
        return np.asarray(x).astype(np.float32) * scale + shift

    def stored(self, values):
        """The inverse of `apply`: network-space values [N, ...] -> the stored form (uint8 pixels
        for images, float32 rows for tables), e.g. an autoencoder's reconstructions."""
        scale, shift = self.scale_and_shift()
        dims = (self.channels, self.image_size, self.image_size) if self.kind == "images" else (len(self.features),)
        out = (np.asarray(values, dtype=np.float32).reshape(len(values), *dims) - shift) / scale
        if self.kind == "images":
            return np.clip(np.rint(out), 0, 255).astype(np.uint8)
        return out
