"""Benchmark: `nnrun kaggle-submit` end to end against the hand-written `submit` loop, same run.

    nnrun kaggle-submit CKPT TEST -o sub.csv --output probability   (a fresh process, timed
        whole: Python start-up, imports, reading the checkpoint, decoding, the network, the CSV)
    python ../shared/bench/reference_loops.py submit TEST            (Pillow open + resize +
        batched torch forward + CSV, in-process; it reports the median images/s of 3 warm runs)

TEST is a folder of the dogs-vs-cats photos named 1.jpg ... N.jpg (links to the files, the
way the acceptance check copies them). CKPT is the Cortex cats-vs-dogs network of
configs/catsdogs.yaml (untrained weights unless --checkpoint: the speed is the same). Runs
alternate so that the machine's load affects both alike; prints each side's median images/s
and the ratio nnrun / reference (wanted: >= 3 on 2 cores, 2,000 photos).

Then, in this process, the cost per image of each stage on one core: decoding (the training
decoder, JPEG draft mode), the network (ONNX Runtime, one thread, chunks of 64) and writing the
CSV rows.

    python bench/bench_submit.py [--images 2000] [--rounds 3] [--engine auto|onnx|torch] [--device cpu]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NNRUN_SHARED", ROOT.parent / "shared"))
PHOTOS = SHARED / "data" / "dogs-vs-cats" / "train"
REFERENCE = SHARED / "bench" / "reference_loops.py"


def nnrun_command():
    script = shutil.which("nnrun")
    return [script] if script else [sys.executable, "-m", "nnrun"]


def test_folder(photos, count, folder):
    """1.jpg ... N.jpg linked to the first N photos (in the acceptance check's order)."""
    names = sorted(os.listdir(photos), key=lambda n: (int(n.split(".")[1]), n))[:count]
    folder.mkdir()
    for i, name in enumerate(names, start=1):
        os.symlink(photos / name, folder / f"{i}.jpg")
    return len(names)


def make_checkpoint(path):
    import yaml

    from nnrun.data.preprocess import Preprocessing
    from nnrun.model_io import save_model
    from nnrun.network.build import build_network
    from nnrun.network.plan import plan_network

    description = yaml.safe_load((ROOT / "configs" / "catsdogs.yaml").read_text())["network"]
    save_model(path, build_network(plan_network(description)), classes=["cat", "dog"], positive="dog",
               threshold=0.5, preprocessing=Preprocessing("images", "centered", image_size=52, channels=3))
    return path


def ours(command, checkpoint, folder, out, engine, device, count):
    start = time.perf_counter()
    subprocess.run(command + ["kaggle-submit", str(checkpoint), str(folder), "-o", str(out), "--output",
                              "probability", "--engine", engine, "--device", device, "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    return count / (time.perf_counter() - start)


def reference(folder):
    done = subprocess.run([sys.executable, str(REFERENCE), "submit", str(folder)], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout)["images-per-second"]


def stage_costs(checkpoint, folder, count):
    """Milliseconds per image of decoding, the network and writing, each on one core."""
    import csv
    import io

    from nnrun.infer.images import decode_files
    from nnrun.infer.model import open_model

    paths = [str(folder / f"{i}.jpg") for i in range(1, count + 1)]
    started = time.perf_counter()
    pixels, _ = decode_files(paths, 52, 3)
    decode = time.perf_counter() - started
    model = open_model(checkpoint, device="cpu", engine="onnx")
    model.threads = 1
    model.run(pixels[:64])
    started = time.perf_counter()
    p = [model.run(pixels[i:i + 64])["probabilities"] for i in range(0, count, 64)]
    network = time.perf_counter() - started
    started = time.perf_counter()
    csv.writer(io.StringIO()).writerows((i, f"{v:.6g}") for i, v in enumerate(
        float(x) for chunk in p for x in chunk[:, 1]))
    writing = time.perf_counter() - started
    return {name: round(seconds / count * 1000, 3) for name, seconds in
            (("decode-ms", decode), ("network-ms", network), ("write-ms", writing))}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=PHOTOS)
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engine", default="auto", choices=["auto", "onnx", "torch"])
    parser.add_argument("--device", default="cpu", help="auto takes a GPU when there is one (the reference "
                        "runs on the CPU)")
    parser.add_argument("--checkpoint", type=Path, default=None)
    args = parser.parse_args()
    for needed in (args.photos, REFERENCE):
        if not needed.exists():
            sys.exit(f"bench_submit: {needed} is not there")
    command = nnrun_command()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        count = test_folder(args.photos, args.images, work / "test")
        checkpoint = args.checkpoint or make_checkpoint(work / "catsdogs.nnrun")
        ours(command, checkpoint, work / "test", work / "warm.csv", args.engine, args.device, count)  # page cache
        mine, theirs = [], []
        for _ in range(args.rounds):
            mine.append(ours(command, checkpoint, work / "test", work / "sub.csv", args.engine, args.device, count))
            theirs.append(reference(work / "test"))
        rows = sum(1 for _ in open(work / "sub.csv")) - 1
        costs = stage_costs(checkpoint, work / "test", count)
    result = {"benchmark": "kaggle-submit", "images": count, "rows": rows, "engine": args.engine, "device": args.device,
              "command": " ".join(command), "nnrun-images-per-second": round(statistics.median(mine), 1),
              "reference-images-per-second": round(statistics.median(theirs), 1),
              "ratio": round(statistics.median(mine) / statistics.median(theirs), 2),
              "runs": {"nnrun": [round(v, 1) for v in mine], "reference": [round(v, 1) for v in theirs]},
              "per-image-one-core": costs}
    print(json.dumps(result))
    print(f"kaggle-submit on {count} photos, end to end: {result['nnrun-images-per-second']} images/s; "
          f"hand-written loop in-process: {result['reference-images-per-second']} images/s; "
          f"ratio {result['ratio']}x (want >= 3); per image on one core: decode {costs['decode-ms']} ms, "
          f"network {costs['network-ms']} ms, writing {costs['write-ms']} ms", file=sys.stderr)


if __name__ == "__main__":
    main()
