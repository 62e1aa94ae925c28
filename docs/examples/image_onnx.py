"""Answer image files with an ONNX file exported by `nnrun export`, without nnrun.

    python image_onnx.py model.onnx photo.jpg [more images...]

Needs only onnxruntime, numpy and Pillow. It decodes each image as the file's metadata property
"image-decoding" says (nnrun's own decoder: JPEG draft mode, EXIF orientation, transparency on
white, a bicubic resize with reducing_gap), hands the graph the uint8 pixels unscaled (the graph
scales them itself: the metadata's "preprocessing" is "in-graph"), applies the stored positive
class and threshold, and prints one JSON line per image as `nnrun infer` does, with the
probabilities unrounded: the same numbers to 1e-6.
"""
import json
import sys

import numpy as np
import onnxruntime
from PIL import Image, ImageOps

RESAMPLING = {"bicubic": Image.Resampling.BICUBIC}


def decode(path, how):
    """An image file -> uint8 [channels, size, size], step by step as `how` ("image-decoding") says."""
    width, height = how["size"]
    image = Image.open(path)
    if image.format == "JPEG" and how["jpeg-draft"]:
        image.draft(how["mode"], (width, height))  # decode at a reduced DCT scale: other pixels without it
    image.load()
    if how["exif-orientation"] and image.getexif().get(0x0112, 1) not in (None, 1):
        image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image.convert("RGBA"))
    if image.mode in ("I;16", "I;16B", "I;16L", "I") and image.mode != how["mode"]:
        image = Image.fromarray((np.asarray(image, dtype=np.uint32) >> 8).astype(np.uint8), "L")
    if image.mode != how["mode"]:
        image = image.convert(how["mode"])
    if image.size != (width, height):
        image = image.resize((width, height), RESAMPLING[how["resample"]], reducing_gap=how["reducing-gap"])
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def main(model_path, *image_paths):
    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    how, classes = json.loads(meta["image-decoding"]), json.loads(meta["classes"])
    positive, threshold = json.loads(meta["positive"]), json.loads(meta["threshold"])
    x = np.stack([decode(path, how) for path in image_paths])
    (p,) = session.run(["probabilities"], {"input": x})
    for path, probabilities in zip(image_paths, p.tolist()):
        if positive is not None and threshold is not None:
            # P(positive) >= threshold decides; otherwise the most probable other class
            k = classes.index(positive)
            others = [j for j in range(len(classes)) if j != k]
            chosen = k if probabilities[k] >= threshold else max(others, key=lambda j: probabilities[j])
        else:
            chosen = int(np.argmax(probabilities))
        print(json.dumps({"input": path, "probability-map": dict(zip(classes, probabilities)),
                          "classification": classes[chosen]}))


if __name__ == "__main__":
    main(*sys.argv[1:])
