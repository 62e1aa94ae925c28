#!/usr/bin/env python3
"""ONNX Runtime's graph optimisation levels on every shipped image network: milliseconds per
image of the graph a model file carries (untrained weights: the speed is the same), one
thread, as the image workers of `infer` and `kaggle-submit` run it. The engine uses ONNX
Runtime's default, ORT_ENABLE_ALL; this shows whether another level would be faster.

    python bench/bench_ort_levels.py [--batch 64] [CONFIG-NAME ...]

An input left to the dataset (`width: auto`) is taken as 3×64×64.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

IMAGE_CONFIGS = ("catsdogs", "resnet-catsdogs", "mnist-conv", "resnet", "inception", "xception")
LEVELS = ("ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_ALL")


def network_of(name):
    """(network, preprocessing, classes) of configs/NAME.yaml, built with fresh weights."""
    from nnrun.data.preprocess import Preprocessing
    from nnrun.network.build import build_network
    from nnrun.network.plan import plan_network

    description = yaml.safe_load((ROOT / "configs" / f"{name}.yaml").read_text())["network"]
    first = description[0]
    if isinstance(first, dict) and isinstance(first.get("input"), dict):
        for key, value in (("width", 64), ("height", 64), ("channels", 3)):
            if first["input"].get(key) in (None, "auto"):
                first["input"][key] = value
    plan = plan_network(description)
    shape = plan.inputs[0].out_shape
    leaf = plan.classifying_leaf
    classes = [str(k) for k in range(max(2, leaf.out_shape.size if leaf is not None else 2))]
    preprocessing = Preprocessing("images", "centered", image_size=shape.height, channels=shape.channels)
    return build_network(plan).eval(), preprocessing, classes


def ms_per_image(record, tensors, level, x, repeats=5):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.graph_optimization_level = getattr(onnxruntime.GraphOptimizationLevel, level)
    names = list(record["weights"])
    values = [onnxruntime.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(tensors[record["weights"][n]]))
              for n in names]
    options.add_external_initializers(names, values)
    session = onnxruntime.InferenceSession(record["graph"], options, providers=["CPUExecutionProvider"])
    session.run(None, {"input": x})
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, {"input": x})
        best = min(best, time.perf_counter() - start)
    return best / len(x) * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configs", nargs="*", default=IMAGE_CONFIGS)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    from nnrun.export.onnx_graph import graph_record

    print(f"{'config':18} {'input':9} " + " ".join(f"{level[11:]:>9}" for level in LEVELS) + "  (ms per image)")
    for name in args.configs:
        network, preprocessing, classes = network_of(name)
        record = graph_record(network, preprocessing, classes)
        tensors = {key: value.detach().numpy() for key, value in network.state_dict().items()}
        c, s = preprocessing.channels, preprocessing.image_size
        x = np.random.default_rng(0).integers(0, 256, (args.batch, c, s, s), dtype=np.uint8)
        times = [ms_per_image(record, tensors, level, x) for level in LEVELS]
        print(f"{name:18} {f'{c}x{s}x{s}':9} " + " ".join(f"{t:9.3f}" for t in times), flush=True)


if __name__ == "__main__":
    main()
