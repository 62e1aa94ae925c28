"""Decoding one image file into the array the networks see: uint8 [C, S, S].

This is the single definition of "what an image becomes", used by `prepare images`, `infer` and
`kaggle-submit`, so that a network sees test images exactly as it saw its training images;
`stored_image` is the way back, for pictures of stored pixels.

Speed without loss: a JPEG is decoded straight at the smallest DCT scale (1/2, 1/4, 1/8) that
is still at least SIZE on both sides ("draft" mode), which skips most of the decoding work for
photos much larger than SIZE; the final resize is then a proper antialiased one.
"""
import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from nnrun.data.files import read_regular

MODES = {1: "L", 3: "RGB"}
RESAMPLE = Image.Resampling.BICUBIC


class UnreadableImage(Exception):
    """An image file that cannot be decoded; the message says why (for the skip list)."""


def decode_image(data, size, channels):
    """Bytes of an image file -> uint8 [channels, size, size]; UnreadableImage if they are not one.

    The image is squashed to size x size (no cropping, as Cortex did), turned to grayscale
    ("L") or RGB, transparent parts laid on white, and turned upright by its EXIF orientation.
    """
    if not data:
        raise UnreadableImage("empty file (0 bytes)")
    mode = MODES[channels]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format == "JPEG":
                image.draft(mode, (size, size))
            image.load()
            image = _upright(image)
            image = _flatten(image, mode)
            if image.size != (size, size):
                image = image.resize((size, size), RESAMPLE, reducing_gap=3.0)
    except UnidentifiedImageError:
        raise UnreadableImage("not an image file Pillow can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UnreadableImage("too many pixels (decompression bomb guard)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as problem:
        text = str(problem) or type(problem).__name__
        if "truncated" in text.lower():
            text = "truncated image"
        raise UnreadableImage(f"corrupt image ({text})") from None
    pixels = np.asarray(image, dtype=np.uint8)
    if channels == 1:
        return pixels[None, :, :].copy()
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def load_image(path, size, channels):
    """decode_image on a file's contents."""
    return decode_image(read_regular(path), size, channels)


def _upright(image):
    """Apply the EXIF orientation (phones store photos sideways and say so in a tag)."""
    orientation = image.getexif().get(0x0112, 1)
    return ImageOps.exif_transpose(image) if orientation not in (None, 1) else image


def _flatten(image, mode):
    """Convert to `mode`; transparent pixels become white instead of whatever colour they hid."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode == mode:
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I") and mode in ("L", "RGB"):
        # 16-bit grayscale: keep the top 8 bits rather than clipping everything above 255.
        image = Image.fromarray((np.asarray(image, dtype=np.uint32) >> 8).astype(np.uint8), "L")
    return image.convert(mode)


def stored_image(pixels):
    """A PIL image of stored pixels uint8 [C, S, S]: grey for one channel, else RGB (the first three)."""
    pixels = np.asarray(pixels)
    if pixels.shape[0] == 1:
        return Image.fromarray(np.ascontiguousarray(pixels[0]), "L")
    return Image.fromarray(np.ascontiguousarray(pixels[:3].transpose(1, 2, 0)), "RGB")
