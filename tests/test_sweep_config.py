"""The `sweep:` section: each mistake is one line naming its key, exit 2, before anything is written."""
import pytest

BASE = """\
network:
  - input: {width: 29, id: data}
  - linear->relu: 20
  - dropout: 0.9
  - linear: 2
  - softmax: {id: label}
data: somewhere
train:
  optimizer: {type: adam, learning-rate: 0.001}
  batch-size: 100
"""

GOOD_PARAMETER = "    train.batch-size: {choice: [64, 128]}\n"

# (the sweep section, what the one-line error must say)
BAD = [
    ("sweep:\n  trails: 3\n  parameters:\n" + GOOD_PARAMETER, 'sweep: unknown key "trails" (did you mean "trials"?)'),
    ("sweep:\n  trials: 0\n  parameters:\n" + GOOD_PARAMETER, "sweep.trials: must be ≥ 1"),
    ("sweep:\n  sampler: tpee\n  parameters:\n" + GOOD_PARAMETER, "sweep.sampler: must be one of"),
    ("sweep:\n  pruner: hyperband\n  parameters:\n" + GOOD_PARAMETER, "sweep.pruner.type: must be one of"),
    ("sweep:\n  metric: f1\n  parameters:\n" + GOOD_PARAMETER, "sweep.metric: must be one of"),
    ("sweep:\n  trials: 3\n", "sweep.parameters: give at least one parameter"),
    ("sweep:\n  parameters:\n    train.batch-sise: {choice: [64, 128]}\n",
     'sweep.parameters.train.batch-sise: no such key in the config (did you mean "batch-size"?)'),
    ("sweep:\n  parameters:\n    network.9.dropout: {uniform: [0.5, 1.0]}\n",
     "sweep.parameters.network.9.dropout: no such key in the config"),
    ("sweep:\n  parameters:\n    name: {choice: [a, b]}\n",
     "sweep.parameters.name: a sweep varies network, data or train"),
    ("sweep:\n  parameters:\n    network.2.dropout: {uniform: [0.5, 0.5]}\n",
     "sweep.parameters.network.2.dropout.uniform: the range [0.5, 0.5] is empty"),
    ("sweep:\n  parameters:\n    train.optimizer.learning-rate: {log-uniform: [1.0e-2, 1.0e-4]}\n",
     "sweep.parameters.train.optimizer.learning-rate.log-uniform: the range [0.01, 0.0001] is empty"),
    ("sweep:\n  parameters:\n    train.optimizer.learning-rate: {log-uniform: [0, 1]}\n",
     "sweep.parameters.train.optimizer.learning-rate.log-uniform: a log range must start above 0"),
    ("sweep:\n  parameters:\n    train.batch-size: {choice: []}\n",
     "sweep.parameters.train.batch-size.choice: must be a non-empty list"),
    ("sweep:\n  parameters:\n    train.batch-size: {choice: [64, 64]}\n",
     "sweep.parameters.train.batch-size.choice: 64 is given twice"),
    ("sweep:\n  parameters:\n    train.batch-size: [64, 128]\n", "sweep.parameters.train.batch-size: must be one of"),
    ("sweep:\n  parameters:\n    train.batch-size: {normal: [64, 128]}\n",
     'sweep.parameters.train.batch-size: unknown kind "normal"'),
    ("sweep:\n  parameters:\n    train.batch-size: {int: [1.5, 3]}\n",
     "sweep.parameters.train.batch-size.int: low and high must be whole numbers"),
    ("sweep:\n  parameters:\n    train.batch-size: {uniform: [32, 256]}\n",
     "sweep.parameters.train.batch-size: uniform value 32.0 does not fit: train.batch-size: must be a whole number"),
    ("sweep:\n  parameters:\n    train.sampling: {choice: [shuffle, sideways]}\n",
     "sweep.parameters.train.sampling: choice value 'sideways' does not fit: train.sampling: must be one of"),
    ("sweep:\n  parameters:\n    train.optimizer.learning-rate: {uniform: [-1, 1]}\n",
     "sweep.parameters.train.optimizer.learning-rate: uniform value -1.0 does not fit"),
    ("sweep:\n  parameters:\n    network.2.dropout: {choice: [high, low]}\n",
     "sweep.parameters.network.2.dropout: choice value 'high' is a text, but the config holds a number"),
    ("sweep:\n  parameters:\n    network.1.linear->relu: {uniform: [10, 30]}\n",
     "sweep.parameters.network.1.linear->relu: uniform value 10.0 is a number, but the config holds a whole number"),
    ("sweep:\n  sampler: grid\n  parameters:\n    network.2.dropout: {uniform: [0.5, 1.0]}\n",
     "sweep.parameters.network.2.dropout: the grid sampler takes choice and int parameters"),
    ("sweep:\n  sampler: grid\n  parameters:\n    train.batch-size: {int: [1, 20000]}\n",
     "sweep.parameters.train.batch-size: an int range of 20,000 values is too many points for the grid sampler"),
    ("sweep: [1, 2]\n", "sweep: must be a map"),
    ("sweep:\n  trials: ten\n  parameters:\n" + GOOD_PARAMETER, "sweep.trials: must be a whole number, got str 'ten'"),
    ("sweep:\n  seed: -1\n  parameters:\n" + GOOD_PARAMETER, "sweep.seed: must be ≥ 0"),
    ("sweep:\n  direction: up\n  parameters:\n" + GOOD_PARAMETER, "sweep.direction: must be one of"),
    ("sweep:\n  pruner: {type: median, startup: 3}\n  parameters:\n" + GOOD_PARAMETER,
     'sweep.pruner: unknown key "startup" (did you mean "startup-trials"?)'),
    ("sweep:\n  parameters: [train.batch-size]\n", "sweep.parameters: must be a map of dotted config paths"),
    # a layer's own arguments are checked for every value before any trial, as --set's are
    ("sweep:\n  parameters:\n    network.2.dropout: {uniform: [0.5, 2.0]}\n",
     "sweep.parameters.network.2.dropout: uniform value 2.0 does not fit: network[2] (dropout): probability is "
     "the KEEP probability, in (0, 1]"),
    ("sweep:\n  parameters:\n    network.1.linear->relu: {int: [0, 30]}\n",
     "sweep.parameters.network.1.linear->relu: int value 0 does not fit: network[1] (linear->relu): output-size "
     "must be a whole number ≥ 1, got 0"),
    ("sweep:\n  parameters:\n    network.2: {choice: [{dropout: 0.5}, {dropout: 3}]}\n",
     "sweep.parameters.network.2: choice value {'dropout': 3} does not fit: network[2] (dropout)"),
    ("sweep:\n  parameters:\n    network.2: {choice: [{dropout: 0.5}, {dropuot: 0.5}]}\n",
     'sweep.parameters.network.2: choice value {\'dropuot\': 0.5} does not fit: network[2]: unknown layer "dropuot"'),
    # and each dataset a value names
    ("sweep:\n  parameters:\n    data.path: {choice: [somewhere, nowhere]}\n",
     "sweep.parameters.data.path: choice value 'nowhere' does not fit: nowhere"),
]


@pytest.mark.parametrize("section, message", BAD, ids=[m.split(":")[0] + f"-{i}" for i, (_, m) in enumerate(BAD)])
def test_bad_sweep_sections(cli, tmp_path, monkeypatch, section, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text(BASE + section)
    result = cli("sweep", "c.yaml")
    assert result.code == 2, result
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert result.stderr.startswith("error: c.yaml: "), result.stderr
    assert message in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]  # no runs/, no sweep folder


def test_command_line_mistakes(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text(BASE + "sweep:\n  parameters:\n" + GOOD_PARAMETER)
    (tmp_path / "plain.yaml").write_text(BASE)
    for args, message in ((["c.yaml", "--trials", "0"], "--trials: must be ≥ 1"),
                          (["c.yaml", "--jobs", "0"], "--jobs: must be ≥ 1"),
                          (["plain.yaml"], "plain.yaml: no sweep section"),
                          ([], "give a CONFIG file"),
                          (["--resume", "nowhere"], "--resume nowhere: not a sweep folder"),
                          (["c.yaml", "--resume", "nowhere"], "--resume goes on with the sweep's own config"),
                          (["c.yaml", "--set", "train.batch-size=0"], "train.batch-size: must be ≥ 1"),
                          (["c.yaml"], "somewhere")):  # everything checks out but the dataset
        result = cli("sweep", *args)
        assert result.code == 2 and message in result.stderr and "Traceback" not in result.output, (args, result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "plain.yaml"]


def test_a_sweep_section_is_part_of_the_config_language(cli, tmp_path):
    """`nnrun check` and `nnrun train` accept a config with a sweep section (a run ignores it); EDN
    keywords spell the dotted paths as they are."""
    (tmp_path / "c.yaml").write_text(BASE + "sweep:\n  parameters:\n" + GOOD_PARAMETER)
    assert cli("check", tmp_path / "c.yaml").code == 0
    printed = cli("train", tmp_path / "c.yaml", "--print-config")
    assert printed.code == 0 and "sweep" not in printed.stdout
    (tmp_path / "c.edn").write_text(
        "{:network [(input 29 1 1 :id :data) (linear 2) (softmax :id :label)]"
        " :sweep {:trials 4 :parameters {:train.batch-size {:choice [64 128]}"
        " :train.optimizer.learning-rate {:log-uniform [1e-4 1e-2]}}}}")
    assert cli("check", tmp_path / "c.edn").code == 0
    (tmp_path / "bad.edn").write_text(
        "{:network [(input 29 1 1 :id :data) (linear 2) (softmax :id :label)]"
        " :sweep {:parameters {:train.batch-size {:choice 64}}}}")
    bad = cli("check", tmp_path / "bad.edn")
    assert bad.code == 2 and "sweep.parameters.train.batch-size.choice: must be a non-empty list" in bad.stderr


def test_section_defaults():
    from nnrun.sweep.section import sweep_section

    resolved = sweep_section({"parameters": {"train.batch-size": {"int": [16, 64]}}})
    assert resolved == {"trials": 20, "metric": "auto", "direction": "auto", "sampler": "tpe", "seed": None,
                        "pruner": {"type": "median", "startup-trials": 5, "warmup-epochs": 0},
                        "parameters": {"train.batch-size": {"kind": "int", "low": 16, "high": 64}}}
    assert sweep_section({"direction": "maximise", "parameters": {"a.b": {"choice": [1]}}})["direction"] == "maximize"
