"""Hostile configs, YAML and EDN: numbers that are not finite, out of range or absurd, nesting and
alias bombs, networks too large for any machine. Each must end in exit 2 with one line naming
the place, no traceback, within seconds."""
import time

import pytest

from conftest import run_cli

HEAD = "network:\n  - input: {width: 4, id: data}\n"
NET = HEAD + "  - linear->softmax: {output-size: 2, id: label}\n"


def _alias_bomb():
    lines, previous = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'], "a0"
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*{previous}"] * 10) + "]")
        previous = f"a{i}"
    # the anchors sit inside the network's first layer's description, where YAML allows them
    return "description: {" + ", ".join(lines) + "}\n" + NET


DEEP = 5000
# name: (file name, text, extra arguments, what the one line must contain)
CASES = {
    "NaN learning rate": ("c.yaml", NET + "train: {optimizer: {type: adam, learning-rate: .nan}}\n", [],
                          ["train.optimizer.learning-rate", "finite", "nan"]),
    "infinite learning rate": ("c.yaml", NET + "train: {optimizer: {learning-rate: .inf}}\n", [],
                               ["train.optimizer.learning-rate", "finite", "inf"]),
    "-inf weight decay": ("c.yaml", NET + "train: {optimizer: {weight-decay: -.inf}}\n", [],
                          ["train.optimizer.weight-decay", "finite"]),
    "NaN threshold": ("c.yaml", NET + "train: {threshold: .nan}\n", [], ["train.threshold", "finite"]),
    "NaN beta of the metric": ("c.yaml", NET + "train: {metric: {name: f-beta, beta: .nan}}\n", [],
                               ["train.metric.beta", "finite"]),
    "NaN momentum": ("c.yaml", NET + "train: {optimizer: {type: sgd, momentum: .nan}}\n", [],
                     ["train.optimizer.momentum", "finite"]),
    "inf gradient clipping": ("c.yaml", NET + "train: {gradient-clipping: .inf}\n", [],
                              ["train.gradient-clipping", "finite"]),
    "NaN augmentation": ("c.yaml", NET + "train: {augmentation: [{gaussian-noise: .nan}]}\n", [],
                         ["train.augmentation[0].gaussian-noise.std", "finite"]),
    "NaN leaky-relu slope": ("c.yaml", HEAD + "  - leaky-relu: .nan\n  - linear->softmax: 2\n", [],
                             ["network[1] (leaky-relu)", "nan"]),
    "inf dropout": ("c.yaml", HEAD + "  - dropout: .inf\n  - linear->softmax: 2\n", [],
                    ["network[1] (dropout)", "inf"]),
    "NaN l2 regularization": ("c.yaml", HEAD + "  - linear->softmax: {output-size: 2, l2-regularization: .nan}\n",
                              [], ["network[1] (linear->softmax)", "l2-regularization", "nan"]),
    "NaN from --set": ("c.yaml", NET, ["--set", "train.optimizer.learning-rate=.nan"],
                       ["train.optimizer.learning-rate", "finite", "from --set"]),
    "EDN NaN": ("c.edn", "{:network [(input 4) (linear->softmax 2)] :train {:threshold ##NaN}}", [],
                ["train.threshold", "finite"]),
    "EDN infinity": ("c.edn", "{:network [(input 4) (leaky-relu ##Inf) (linear->softmax 2)]}", [],
                     ["network[1] (leaky-relu)", "inf"]),
    "EDN 1e400": ("c.edn", "{:network [(input 4) (linear->softmax 2)] :train {:optimizer {:learning-rate 1e400}}}",
                  [], ["train.optimizer.learning-rate", "finite"]),
    "seed 2**70": ("c.yaml", NET + f"train: {{seed: {2**70}}}\n", [], ["train.seed", "4,294,967,295"]),
    "negative seed": ("c.yaml", NET + "train: {seed: -1}\n", [], ["train.seed", "≥ 0"]),
    "batch size 10**30": ("c.yaml", NET + f"train: {{batch-size: {10**30}}}\n", [], ["train.batch-size", "≤"]),
    "epoch size 10**30": ("c.yaml", NET + f"train: {{epoch-size: {10**30}}}\n", [], ["train.epoch-size", "≤"]),
    "a billion threads": ("c.yaml", NET + "train: {threads: 1000000000}\n", [], ["train.threads", "≤ 1,024"]),
    "crop padding 10**12": ("c.yaml", NET + f"train: {{augmentation: [{{crop: {10**12}}}]}}\n", [],
                            ["train.augmentation[0].crop.padding", "≤ 4,096"]),
    "layer width 10**12": ("c.yaml", HEAD + f"  - linear: {10**12}\n  - softmax\n", [],
                           ["network[1] (linear)", "at most 2,147,483,647"]),
    "layer width 10**26, EDN": ("c.edn", f"[(input 4) (linear {10**26}) (softmax)]", [],
                                ["network[1] (linear)", "at most 2,147,483,647"]),
    "input 10**12 wide": ("c.yaml", f"network:\n  - input: {10**12}\n  - linear->softmax: 2\n", [],
                          ["network[0] (input)", "at most"]),
    "negative kernel count 2**40": ("c.yaml", "network:\n  - input: [8, 8, 1]\n"
                                    f"  - convolutional: [3, 0, 1, {2**40}]\n  - linear->softmax: 2\n", [],
                                    ["network[1] (convolutional)", "num-kernels", "at most"]),
    "weights beyond memory": ("c.yaml", "network:\n  - input: 100000\n  - linear: 2000000000\n  - softmax\n", [],
                              ["c.yaml: network", "parameters need", "TB", "this machine has"]),
    "one layer's values beyond 2**31": ("c.yaml", "network:\n  - input: [40000, 40000, 1]\n"
                                        "  - convolutional: [1, 0, 1, 2]\n  - linear->softmax: 2\n", [],
                                        ["network[1] (convolutional", "values per example", "at most"]),
    # (100,000 layers are more values than a config may write: below; 20,000 are under that limit)
    "20,000 layers": ("c.yaml", HEAD + "  - relu\n" * 20_000 + "  - linear->softmax: 2\n", [],
                      ["c.yaml: network", "20,002 layers", "at most 10,000"]),
    "20,000 layers, EDN": ("c.edn", "[(input 4)" + " (relu)" * 20_000 + " (linear->softmax 2)]", [],
                           ["c.edn: network", "20,002 layers"]),
    "YAML alias bomb": ("c.yaml", _alias_bomb(), [], ["c.yaml", "1,000,000 values", "aliases"]),
    "YAML lists nested 5000 deep": ("c.yaml", "network: " + "[" * DEEP + "]" * DEEP + "\n", [],
                                    ["c.yaml", "nested more than 64"]),
    "YAML maps nested 5000 deep": ("c.yaml", "network: " + "{a: " * DEEP + "1" + "}" * DEEP + "\n", [],
                                   ["c.yaml", "nested more than 64", "line 1"]),
    "YAML block nesting": ("c.yaml", "network:\n" + "".join("  " * i + "- \n" for i in range(1, 200)), [],
                           ["c.yaml", "nested more than 64"]),
    "EDN vectors nested 5000 deep": ("c.edn", "[" * DEEP + "]" * DEEP, [], ["c.edn", "nested more than 64"]),
    "EDN maps nested 5000 deep": ("c.edn", "{:a " * DEEP + "1" + "}" * DEEP, [], ["c.edn", "nested more than 64"]),
    "EDN lists nested 5000 deep": ("c.edn", "(" * DEEP + ")" * DEEP, [], ["c.edn", "nested more than 64"]),
    "--set nested 5000 deep": ("c.yaml", NET, ["--set", "description=" + "[" * DEEP + "]" * DEEP],
                               ["--set description=", "nested more than 64"]),
    "a string of 10 MB as a layer": ("c.yaml", HEAD + "  - " + "x" * 10_000_000 + "\n", [],
                                     ["network[1]", "unknown layer"]),
    # (a million values took the YAML reader a minute before they were counted)
    "YAML of 150,000 values": ("c.yaml", HEAD + "  - relu\n" * 150_000, [],
                               ["c.yaml", "more than 100,000 values written", "(line 99"]),
    "EDN of 150,000 values": ("c.edn", "[(input 4)" + " 1" * 150_000 + "]", [],
                              ["c.edn", "more than 100,000 values written", "line 1"]),
    # the name is a folder of runs/ (runs/NAME/TIME): never a path out of it
    "a name that climbs out of runs/": ("c.yaml", NET + "name: ../../../tmp/elsewhere\n", [],
                                        ["c.yaml: name", "cannot hold /", "../../../tmp/elsewhere"]),
    "an absolute name": ("c.yaml", NET + "name: /etc/x\n", [], ["c.yaml: name", "cannot hold /"]),
    "a name of two dots": ("c.yaml", NET + "name: '..'\n", [], ["c.yaml: name", "be . or .."]),
    "a name with a NUL": ("c.yaml", NET + 'name: "run\\0"\n', [], ["c.yaml: name", "control characters"]),
    "a name of 5,000 characters": ("c.yaml", NET + "name: " + "n" * 5000 + "\n", [],
                                   ["c.yaml: name", "at most 200 bytes"]),
    "a blank name": ("c.yaml", NET + "name: ' '\n", [], ["c.yaml: name", "must not be empty"]),
}


@pytest.mark.parametrize("name", CASES)
def test_a_hostile_config_is_one_clean_line(name, tmp_path, monkeypatch):
    file_name, text, extra, phrases = CASES[name]
    monkeypatch.chdir(tmp_path)
    (tmp_path / file_name).write_text(text)
    started = time.monotonic()
    result = run_cli("check", file_name, *extra)
    assert time.monotonic() - started < 20, f"{name}: took {time.monotonic() - started:.0f} s"
    assert result.code == 2, result
    assert "Traceback" not in result.output and result.stdout == "", result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[:500]
    assert len(lines[0]) < 1100, lines[0][:500]
    for phrase in phrases:
        assert phrase in lines[0], (phrase, lines[0])


def test_10000_layers_plan_in_seconds(tmp_path):
    """The most layers nnrun takes: planned in time linear in their number."""
    from nnrun.network.plan import MAX_LAYERS, plan_network

    started = time.monotonic()
    plan = plan_network([{"input": 4}] + ["relu"] * (MAX_LAYERS - 2) + [{"linear->softmax": 2}])
    assert len(plan.nodes) == MAX_LAYERS + 1  # linear->softmax is two nodes
    assert time.monotonic() - started < 5


def test_limits_leave_real_configs_alone():
    """Every config in configs/ still plans (the limits are far from any real network)."""
    from pathlib import Path

    from conftest import shipped_overrides
    from nnrun.config.spec import load_spec

    for path in sorted((Path(__file__).parents[1] / "configs").iterdir()):
        assert load_spec(path, shipped_overrides(path)).plan.nodes, path


def test_memory_message_has_the_numbers():
    from nnrun.network.memory import size_text

    assert size_text(999) == "999 bytes"
    assert size_text(46e12) == "46.0 TB"
    assert size_text(25_300_000_000) == "25.3 GB"
