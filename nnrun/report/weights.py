"""The first layer's weights as a grid of tiles, and an animated GIF of that grid over epochs.

Convolution filters [out, channels, h, w] become one tile each: colour for 3 channels, grey
otherwise (the channels' mean). A linear layer on an image input (a 784-wide input on 28×28
MNIST) becomes one image per unit, each unit's weights laid out as the image they look at. A
linear layer on a table is drawn as one heat map, units by features. Grey tiles are centred on
zero (mid-grey) and scaled by the tile's largest |weight|, so sign and pattern read at a glance.
"""
import io

import numpy as np
from PIL import Image

MAX_TILES = 256
TILE_PIXELS = 48      # each tile is enlarged (nearest neighbour) to at least this many pixels
GAP = 2
MAX_FRAMES = 60


def tiles_of(weight, image_shape=None):
    """[n, h, w] or [n, h, w, 3] floats for the tiles of a weight tensor, or None when it is drawn
    as a heat map (a linear layer on a table). image_shape: (channels, h, w) of an image input."""
    weight = np.asarray(weight, dtype=np.float32)
    if weight.ndim == 4:
        filters = weight[:MAX_TILES]
        if filters.shape[1] == 3:
            return filters.transpose(0, 2, 3, 1)
        return filters.mean(1)
    if weight.ndim == 2 and image_shape is not None and int(np.prod(image_shape)) == weight.shape[1]:
        channels, h, w = image_shape
        units = weight[:MAX_TILES].reshape(-1, channels, h, w)
        return units.transpose(0, 2, 3, 1) if channels == 3 else units.mean(1)
    return None


def _scaled(tile, scale):
    """Floats -> uint8: symmetric about zero, so zero is mid-grey."""
    scale = scale if scale > 0 else 1.0
    return np.clip(127.5 + 127.5 * tile / scale, 0, 255).astype(np.uint8)


def grid_image(tiles, scales):
    """One PIL image of the tiles in a near-square grid; scales[i] is tile i's |weight| bound."""
    n = len(tiles)
    columns = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    h, w = tiles.shape[1:3]
    zoom = max(1, int(np.ceil(TILE_PIXELS / max(h, w))))
    th, tw = h * zoom, w * zoom
    colour = tiles.ndim == 4
    canvas = np.full((rows * (th + GAP) + GAP, columns * (tw + GAP) + GAP) + ((3,) if colour else ()), 255, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        big = np.kron(_scaled(tile, scales[i]), np.ones((zoom, zoom) + ((1,) if colour else ()), np.uint8))
        canvas[GAP + r * (th + GAP):GAP + r * (th + GAP) + th, GAP + c * (tw + GAP):GAP + c * (tw + GAP) + tw] = big
    return Image.fromarray(canvas)


def heat_map_image(weight, scale):
    """A linear layer on a table: units (rows) by inputs (columns), blue negative, red positive.
    A weight of more dimensions (a layer with several values per input) has them side by side."""
    from matplotlib import colormaps
    weight = np.asarray(weight, dtype=np.float32)[:MAX_TILES]
    weight = weight.reshape(len(weight), -1)
    values = np.clip(0.5 + 0.5 * weight / (scale if scale > 0 else 1.0), 0, 1)
    rgb = (colormaps["RdBu_r"](values)[..., :3] * 255).astype(np.uint8)
    zoom = max(1, int(np.ceil(320 / max(weight.shape))))
    return Image.fromarray(np.kron(rgb, np.ones((zoom, zoom, 1), np.uint8)))


def weight_picture(weight, image_shape=None, scales=None):
    """A PIL image of one epoch's first-layer weights. `scales`: per-tile bounds (None: the tile's own)."""
    tiles = tiles_of(weight, image_shape)
    if tiles is None:
        return heat_map_image(weight, float(np.abs(weight).max()) if scales is None else scales)
    if scales is None:
        scales = np.abs(tiles.reshape(len(tiles), -1)).max(1)
    return grid_image(tiles, scales)


def animation(weights, image_shape=None, milliseconds=250):
    """GIF bytes of the grid over epochs (at most MAX_FRAMES, evenly chosen, the last included),
    with one scale per tile over all epochs so growth shows."""
    if len(weights) > MAX_FRAMES:
        chosen = np.unique(np.linspace(0, len(weights) - 1, MAX_FRAMES).round().astype(int))
        weights = [weights[i] for i in chosen]
    tiles = [tiles_of(w, image_shape) for w in weights]
    if tiles[0] is None:
        scale = max(float(np.abs(w).max()) for w in weights)
        frames = [heat_map_image(w, scale) for w in weights]
    else:
        scales = np.max([np.abs(t.reshape(len(t), -1)).max(1) for t in tiles], axis=0)
        frames = [grid_image(t, scales) for t in tiles]
    frames = [f.convert("RGB").convert("P", palette=Image.ADAPTIVE) for f in frames]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=milliseconds, loop=0)
    return out.getvalue()
