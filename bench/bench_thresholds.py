#!/usr/bin/env python3
"""How far each way of choosing the decision threshold on the validation split falls from the
best F1 the test split allows, over split seeds and tables.

For each table and seed: train CONFIG once (its best checkpoint), take P(positive) on the
validation and test splits, choose a threshold on validation by each rule, and report
    gap = best test F1 over all thresholds (the oracle) − test F1 at the chosen threshold
Rules:
  auto        the cut with the best validation F1 (train.threshold: auto)
  calibrated  F*/2 on validation, mapped by the training's odds ratio (train.threshold: calibrated)
  smoothed    the best cut of the validation F1 curve averaged over a window of ±WINDOW ranks
              (one lucky positive cannot pull the cut to itself)
  blend       the geometric mean of auto's and calibrated's odds
  half        0.5, mapped by the odds ratio (the model's own decision)

Usage: python bench/bench_thresholds.py [--tables creditcard,demo] [--seeds 1,2,3,4,5]
       [--config configs/tabular.yaml] [--work /tmp/nnrun-thresholds]
Prints one line per table, seed and rule, then the mean gap per rule and a final JSON line.
Runtime: one training per table and seed (about a minute each for configs/tabular.yaml on
creditcard-10k, on 2 cores).
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tables_common import ROOT, f1_at, prepare, probabilities, train  # noqa: E402

WINDOW = 5


def odds(p):
    return p / (1 - p)


def from_odds(o):
    return o / (1 + o)


def smoothed_threshold(scores, is_positive, window=WINDOW):
    """The cut at the peak of the validation F1 curve averaged over ±window ranks."""
    from nnrun.train.metrics import _ranked, f_beta

    tp, fp, cuts = _ranked(is_positive, scores)
    values = f_beta(tp / (tp + fp), tp / is_positive.sum(), 1.0)
    kernel = np.ones(2 * window + 1) / (2 * window + 1)
    smooth = np.convolve(np.pad(values, window, mode="edge"), kernel, mode="valid")
    return float(cuts[int(np.argmax(smooth))])


def thresholds(valid_scores, valid_positive, odds_ratio):
    from nnrun.train.metrics import best_threshold, calibrated_threshold

    auto, _ = best_threshold(valid_positive, valid_scores)
    calibrated = calibrated_threshold(valid_positive, valid_scores, 1.0, odds_ratio)
    blend = from_odds(np.sqrt(odds(min(max(auto, 1e-12), 1 - 1e-12)) * odds(calibrated)))
    return {"auto": auto, "calibrated": calibrated, "smoothed": smoothed_threshold(valid_scores, valid_positive),
            "blend": float(blend), "half": float(from_odds(odds_ratio))}


def training_odds_ratio(config, data):
    """The odds ratio the run's calibrated threshold uses (sampling and class weights)."""
    from nnrun.config.spec import load_spec
    from nnrun.train.recipe import class_weights
    from nnrun.train.session import _odds_ratio

    spec = load_spec(config, [f"data={data}"])
    labels = np.load(Path(data) / "train.y.npy")
    classes = [str(c) for c in json.loads((Path(data) / "dataset.json").read_text())["classes"]]
    weights = class_weights(spec.train["class-weights"], classes, labels)
    return _odds_ratio(labels, len(classes) - 1, spec.train["sampling"], weights)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="creditcard,demo")
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--config", default=str(ROOT / "configs" / "tabular.yaml"))
    parser.add_argument("--work", default="/tmp/nnrun-thresholds")
    args = parser.parse_args()
    work = Path(args.work)
    gaps = {}
    for table in args.tables.split(","):
        for seed in [int(s) for s in args.seeds.split(",")]:
            data = prepare(table, seed, work / f"{table}-{seed}")
            run = work / f"{table}-{seed}-{Path(args.config).stem}"
            train(args.config, data, run, [f"train.seed={seed}"])
            valid, valid_positive = probabilities(run / "best.nnrun", data, "validation")
            test, test_positive = probabilities(run / "best.nnrun", data, "test")
            from nnrun.train.metrics import best_threshold
            _, oracle = best_threshold(test_positive, test)
            for rule, t in thresholds(valid, valid_positive, training_odds_ratio(args.config, data)).items():
                f1 = f1_at(test, test_positive, t)
                gaps.setdefault(rule, []).append(oracle - f1)
                print(f"{table} seed {seed} {rule:<10} threshold {t:.4g}  test F1 {f1:.4f}  "
                      f"best possible {oracle:.4f}  gap {oracle - f1:.4f}", flush=True)
    summary = {rule: {"mean-gap": float(np.mean(v)), "max-gap": float(np.max(v)), "n": len(v)}
               for rule, v in gaps.items()}
    for rule, s in sorted(summary.items(), key=lambda kv: kv[1]["mean-gap"]):
        print(f"{rule:<10} mean gap {s['mean-gap']:.4f}  worst {s['max-gap']:.4f}  over {s['n']}")
    print(json.dumps({"config": args.config, "tables": args.tables, "seeds": args.seeds, "gaps": summary}))


if __name__ == "__main__":
    main()
