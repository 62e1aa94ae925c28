#!/usr/bin/env python3
"""configs/tabular.yaml (and configs/fraud.yaml) against gradient-boosted trees on the same
splits: test F1 over split seeds.

For each table and seed the table is split (stratified 60/20/20, that seed), each nnrun config
trains on it (`nnrun train CONFIG --set data=SPLIT --set train.seed=SEED`, its test F1 at the
stored threshold from test.json), and XGBoost (400 trees of depth 4, learning rate 0.1, as in
the issue that asked for this) trains on the same training rows; its threshold is the cut with
the best validation F1, as nnrun's `threshold: auto` chooses it. Prints one line per table, seed
and model, the mean and standard deviation per model, and a final JSON line.

XGBoost is not a dependency of nnrun: `pip install xgboost` (or the smaller `xgboost-cpu`) first.

Usage: python bench/bench_xgboost.py [--tables creditcard] [--seeds 1,2,3,4,5]
       [--configs configs/tabular.yaml,configs/fraud.yaml] [--work /tmp/nnrun-xgboost]
Runtime on 2 cores: about a minute per nnrun training on creditcard-10k, seconds per forest.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tables_common import ROOT, arrays, f1_at, prepare, train  # noqa: E402


def xgboost_f1(data, seed):
    try:
        import xgboost
    except ImportError:
        raise SystemExit("bench_xgboost: needs XGBoost (pip install xgboost)") from None
    from nnrun.train.metrics import best_threshold

    x, y = arrays(data, "train")
    vx, vy = arrays(data, "validation")
    tx, ty = arrays(data, "test")
    params = {"objective": "binary:logistic", "max_depth": 4, "eta": 0.1, "seed": seed, "nthread": 2}
    model = xgboost.train(params, xgboost.DMatrix(x, label=y), num_boost_round=400)
    threshold, _ = best_threshold(vy == 1, model.predict(xgboost.DMatrix(vx)))
    return f1_at(model.predict(xgboost.DMatrix(tx)), ty == 1, threshold)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="creditcard")
    parser.add_argument("--seeds", default="1,2,3,4,5")
    parser.add_argument("--configs", default="configs/tabular.yaml,configs/fraud.yaml")
    parser.add_argument("--work", default="/tmp/nnrun-xgboost")
    parser.add_argument("--skip-xgboost", action="store_true", help="only the nnrun configs")
    args = parser.parse_args()
    work = Path(args.work)
    scores = {}
    for table in args.tables.split(","):
        for seed in [int(s) for s in args.seeds.split(",")]:
            data = prepare(table, seed, work / f"{table}-{seed}")
            for config in args.configs.split(","):
                config = ROOT / config if not Path(config).is_absolute() else Path(config)
                result = train(config, data, work / f"{table}-{seed}-{config.stem}", [f"train.seed={seed}"])
                f1 = result.get("f-beta") or 0.0
                scores.setdefault((table, config.stem), []).append(f1)
                print(f"{table} seed {seed} {config.stem:<12} test F1 {f1:.4f}", flush=True)
            if not args.skip_xgboost:
                f1 = xgboost_f1(data, seed)
                scores.setdefault((table, "xgboost"), []).append(f1)
                print(f"{table} seed {seed} {'xgboost':<12} test F1 {f1:.4f}", flush=True)
    summary = {}
    for (table, model), values in scores.items():
        summary.setdefault(table, {})[model] = {"mean": float(np.mean(values)), "std": float(np.std(values)),
                                                "f1": values}
        print(f"{table} {model:<12} mean F1 {np.mean(values):.4f} ± {np.std(values):.4f} over {len(values)} seeds")
    print(json.dumps({"seeds": args.seeds, "results": summary}))


if __name__ == "__main__":
    main()
