"""The general configs on real data (slow; skipped without ../shared/data): configs/tabular.yaml
on creditcard-10k with no hand edit but the data folder, and configs/resnet-catsdogs.yaml for a
few epochs on 64-pixel cats and dogs, its weight average saved and evaluated with mirror TTA.
The full measurements are bench/bench_xgboost.py, bench/bench_thresholds.py and
bench/bench_catsdogs.py."""
import json

import pytest

from conftest import ROOT, run_cli, shared_path


@pytest.mark.slow
def test_the_general_table_config_fits_creditcard_without_edits(tmp_path):
    source = shared_path("creditcard", "creditcard-10k.csv.gz")
    data = tmp_path / "cc"
    assert run_cli("prepare", "csv", source, data, "--label-column", "Class", "--drop", "Time", "--test-size", "0.2",
                   "--validation-size", "0.2", "--seed", "1").code == 0
    run = tmp_path / "run"
    result = run_cli("train", ROOT / "configs" / "tabular.yaml", "--set", f"data={data}", "--run-dir", run, "--quiet")
    assert result.code == 0, result
    test = json.loads((run / "test.json").read_text())
    assert test["f-beta"] >= 0.85, test  # bench/bench_xgboost.py: 0.89 to 0.93 over five seeds


@pytest.mark.slow
def test_the_recipe_config_trains_on_cats_and_dogs(tmp_path):
    source = shared_path("dogs-vs-cats", "train")
    data = tmp_path / "cd"
    assert run_cli("prepare", "images", source, data, "--size", "64", "--test-size", "400", "--seed", "1").code == 0
    run = tmp_path / "run"
    result = run_cli("train", ROOT / "configs" / "resnet-catsdogs.yaml", "--set", f"data.path={data}",
                     "--set", "data.selection-split=train", "--set", "data.test-split=none",
                     "--set", "train.epoch-count=4", "--run-dir", run, "--quiet")
    assert result.code == 0, result
    evaluated = run_cli("evaluate", run / "last.nnrun", data, "--tta", "mirror", "--format", "json")
    assert evaluated.code == 0, evaluated
    assert json.loads(evaluated.stdout)["accuracy"] > 0.55  # better than chance after four epochs
