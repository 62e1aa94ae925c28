"""`nnrun check`: the layer table, the JSON report, and exit codes."""
import json

import pytest

from conftest import ROOT, run_cli

FRAUD = ROOT / "configs" / "fraud.yaml"


def test_table_has_a_header_a_row_per_node_and_a_total_line():
    result = run_cli("check", FRAUD)
    assert result.code == 0, result
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["#", "id", "layer", "output", "params"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    rows = [line.split() for line in lines[2:-1]]
    assert rows == [
        ["0", "data", "input", "29", "0"],
        ["1", "linear-1", "linear", "20", "600"],  # 29·20 + 20
        ["1", "relu-1", "relu", "20", "0"],
        ["2", "dropout-1", "dropout", "20", "0"],
        ["3", "linear-2", "linear", "10", "210"],  # 20·10 + 10
        ["3", "relu-2", "relu", "10", "0"],
        ["4", "linear-3", "linear", "2", "22"],  # 10·2 + 2
        ["5", "label", "softmax", "2", "0"],
    ]
    assert lines[-1] == "total parameters: 832 (832 trainable); loss: label: cross-entropy against labels"
    # columns line up: every row as wide as the rule under the header
    widths = {len(line) for line in lines[:-1]}
    assert max(widths) == len(lines[1])


def test_table_shows_image_shapes_and_thousands():
    result = run_cli("check", ROOT / "configs" / "mnist-conv.yaml")
    assert result.code == 0, result
    assert "20×24×24" in result.stdout and "801,000" in result.stdout  # 4·4·50·1000 + 1000
    assert "total parameters: 839,130" in result.stdout


def test_json_report():
    result = run_cli("check", FRAUD, "--format", "json")
    assert result.code == 0, result
    report = json.loads(result.stdout)
    assert report["config"] == str(FRAUD)
    assert report["name"] == "fraud"
    assert report["total-parameters"] == report["trainable-parameters"] == 832
    first, second, last = report["layers"][0], report["layers"][1], report["layers"][-1]
    assert first == {"index": 0, "id": "data", "layer": "input", "parents": [], "output-shape": [29],
                     "parameters": 0}
    assert second == {"index": 1, "id": "linear-1", "layer": "linear", "parents": ["data"],
                      "output-shape": [20], "parameters": 600}
    assert last["id"] == "label" and last["parents"] == ["linear-3"] and last["output-shape"] == [2]


def test_json_report_of_an_image_graph():
    report = json.loads(run_cli("check", ROOT / "configs" / "inception.yaml", "--format", "json").stdout)
    by_id = {layer["id"]: layer for layer in report["layers"]}
    assert by_id["m1"]["parents"] == ["m1-1x1", "m1-3x3", "m1-5x5", "m1-pool"]
    assert by_id["m1"]["output-shape"] == [56, 14, 14]
    assert by_id["data"]["output-shape"] == [1, 28, 28]


def test_frozen_layers_are_not_counted_as_trainable(tmp_path):
    path = tmp_path / "frozen.yaml"
    path.write_text("network:\n  - input: {width: 4}\n"
                    "  - linear->relu: {output-size: 3, non-trainable: true}\n"
                    "  - linear: {output-size: 2, learning-attenuation: 0}\n"
                    "  - linear: {output-size: 2, learning-attenuation: 0.1}\n")
    result = run_cli("check", path)
    assert result.code == 0, result
    total = (4 * 3 + 3) + (3 * 2 + 2) + (2 * 2 + 2)
    assert f"total parameters: {total} ({2 * 2 + 2} trainable)" in result.stdout
    report = json.loads(run_cli("check", path, "--format", "json").stdout)
    assert report["trainable-parameters"] == 2 * 2 + 2


def test_set_changes_what_check_shows():
    result = run_cli("check", FRAUD, "--set", "network.3.linear->relu=5", "--format", "json")
    assert result.code == 0, result
    report = json.loads(result.stdout)
    assert report["total-parameters"] == (29 * 20 + 20) + (20 * 5 + 5) + (5 * 2 + 2)


def test_exit_2_on_a_bad_config_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("network:\n  - input: {width: 29, id: data}\n  - linaer: 2\n  - softmax: {id: label}\n")
    for args in ([], ["--format", "json"]):
        result = run_cli("check", bad, *args)
        assert result.code == 2, result
        assert result.stdout == ""
        assert "Traceback" not in result.output
        assert result.stderr == f'error: {bad}: network[1]: unknown layer "linaer" (did you mean "linear"?)\n'


def test_exit_2_on_command_line_mistakes(tmp_path):
    assert run_cli("check").code == 2                                   # no config
    assert run_cli("check", FRAUD, "--format", "xml").code == 2         # not a format
    assert run_cli("check", tmp_path / "missing.yaml").code == 2        # no such file
    result = run_cli("check", FRAUD, "--set", "=3")
    assert result.code == 2 and "KEY.PATH=VALUE" in result.stderr


def test_help():
    result = run_cli("check", "--help")
    assert result.code == 0
    assert "--set" in result.stdout and "--format" in result.stdout


BAD_CONFIGS = {
    "layer": ("network:\n  - input: {width: 29, id: data}\n  - linear->relu: -3\n  - softmax: {id: label}\n",
              "network[1] (linear->relu): output-size must be a whole number ≥ 1, got -3"),
    "train": ("network:\n  - input: {width: 29, id: data}\n  - linear: 2\n  - softmax: {id: label}\n"
              "train: {batch-size: 0}\n", "train.batch-size: must be ≥ 1, got 0"),
    "top-level key": ("netwrk: []\n", 'unknown top-level key "netwrk"'),
    "shape": ("network:\n  - input: [8, 8, 1, {id: data}]\n  - convolutional: [9, 0, 1, 4]\n  - linear: 2\n"
              "  - softmax: {id: label}\n", "network[1]"),
}


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_a_bad_config_is_refused_before_torch_is_imported(tmp_path, name):
    """torch takes seconds to import: a config with a mistake is refused without it, in one line."""
    import subprocess
    import sys

    text, message = BAD_CONFIGS[name]
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    probe = ("import sys\nfrom nnrun.cli import main\ntry:\n    main(['check', sys.argv[1]])\n"
             "except SystemExit as done:\n    print(done.code, 'torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", probe, config], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["2", "False"], done
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: {config}: ") and message in line
