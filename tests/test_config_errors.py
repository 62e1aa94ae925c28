"""Bad configs, YAML and EDN: each exits 2 without a traceback, with one message that names the
place (file, key path or layer, shapes) and, for a misspelling, the name that was meant."""
import pytest

from conftest import run_cli

NET = "network:\n  - input: {width: 8, id: data}\n"
IMG = "network:\n  - input: [8, 8, 1, {id: data}]\n"
OK_TAIL = "  - linear->softmax: {output-size: 2, id: label}\n"

# name: (file name, text, extra arguments, what the message must contain)
CASES = {
    "misspelt layer": (
        "c.yaml", NET + "  - linaer: 2\n", [],
        ["network[1]", 'unknown layer "linaer"', 'did you mean "linear"']),
    "misspelt layer, EDN": (
        "c.edn", "{:network [(input 8 :id :data)\n (layers/linar 3)]}", [],
        ["network[1]", 'unknown layer "linar"', 'did you mean "linear"']),
    "misspelt layer in a map with keywords": (
        "c.yaml", NET + "  - {convolutonal: [3, 0, 1, 4], id: c}\n", [],
        ["network[1]", 'unknown layer "convolutonal"', 'did you mean "convolutional"']),
    "unknown layer keyword": (
        "c.yaml", NET + "  - linear: {output-size: 2, idd: x}\n", [],
        ["network[1] (linear)", 'unknown argument "idd"', 'did you mean "id"']),
    "unknown layer keyword, EDN": (
        "c.edn", "{:network [(input 8 :id :data) (linear :output-sise 3)]}", [],
        ["network[1] (linear)", 'unknown argument "output-sise"', 'did you mean "output-size"']),
    "missing required argument": (
        "c.yaml", NET + "  - linear: {id: x}\n", [],
        ['network[1] (linear, id "x")', "missing required argument output-size"]),
    "missing required argument, EDN": (
        "c.edn", "[(input 8 8 1) (convolutional 5 0 1)]", [],
        ["network[1] (convolutional)", "missing required argument num-kernels"]),
    "too many positional arguments": (
        "c.yaml", IMG + "  - max-pooling: [2, 0, 2, max, 7]\n", [],
        ["network[1] (max-pooling)", "at most 4 positional arguments", "kernel pad stride pool-op"]),
    "wrong type": (
        "c.yaml", NET + '  - linear: "ten"\n', [],
        ["network[1] (linear)", "output-size must be a whole number ≥ 1", "'ten'"]),
    "negative kernel": (
        "c.yaml", IMG + "  - convolutional: [-5, 0, 1, 20]\n", [],
        ["network[1] (convolutional)", "kernel must be a whole number ≥ 1", "-5"]),
    "dropout 0": (
        "c.yaml", NET + "  - dropout: 0\n", [],
        ["network[1] (dropout)", "KEEP probability", "0.9 drops 10%", "got 0"]),
    "dropout 1.5": (
        "c.edn", "[(input 8) (dropout 1.5)]", [],
        ["network[1] (dropout)", "KEEP probability", "got 1.5"]),
    "kernel larger than the input": (
        "c.yaml", IMG + "  - convolutional: [9, 0, 1, 4]\n", [],
        ["network[1] (convolutional", "kernel 9 is larger than the padded input 1×8×8", "data gives 1×8×8"]),
    "join of mismatched shapes": (
        "c.yaml", IMG + "  - convolutional: [3, 0, 1, 4, {id: small}]\n"
                        "  - convolutional: [3, same, 1, 4, {id: big, parents: [data]}]\n"
                        "  - join: {parents: [small, big]}\n", [],
        ["network[3] (join", "equal shapes", "small gives 4×6×6", "big gives 4×8×8"]),
    "concatenate mismatch": (
        "c.edn", "[(input 8 8 1 :id :data) (convolutional 3 0 1 4 :id :a)\n"
                 " (max-pooling 2 0 2 :parents [:data] :id :b)\n (concatenate :parents [:a :b])]", [],
        ["network[3] (concatenate", "one height×width", "a gives 4×6×6", "b gives 1×4×4"]),
    "unknown parent": (
        "c.yaml", NET + "  - linear: {output-size: 2, id: hidden}\n  - relu: {parents: [hiden]}\n", [],
        ["network[2] (relu", 'unknown parent "hiden"', 'did you mean "hidden"']),
    "cycle": (
        "c.yaml", NET + "  - relu: {id: a, parents: [b]}\n  - relu: {id: b, parents: [a]}\n"
                        "  - join: {parents: [data, b]}\n", [],
        ["cycle", 'network[1] (relu, id "a")', 'network[2] (relu, id "b")']),
    "duplicate id": (
        "c.yaml", NET + "  - linear: {output-size: 3, id: x}\n  - relu: {id: x}\n", [],
        ['network[2] (relu, id "x")', 'id "x" is already used by network[1]']),
    "linear with two parents": (
        "c.yaml", NET + "  - relu: {id: a}\n  - tanh: {id: b, parents: [data]}\n"
                        "  - linear: {output-size: 2, parents: [a, b]}\n", [],
        ["network[3] (linear", "takes one parent, got 2 (a, b)", "join or concatenate"]),
    "convolution on a vector": (
        "c.yaml", NET + "  - convolutional: [3, 0, 1, 4]\n", [],
        ["network[1] (convolutional", "needs an image input", "vector of 8"]),
    "first layer is not an input": (
        "c.yaml", "network:\n  - linear: 2\n", [],
        ["network[0] (linear", "the first layer must be an input"]),
    "unknown top-level key": (
        "c.yaml", NET + OK_TAIL + "trian: {batch-size: 3}\n", [],
        ['unknown top-level key "trian"', 'did you mean "train"']),
    "unknown train key": (
        "c.yaml", NET + OK_TAIL + "train: {batch-sise: 3}\n", [],
        ['train: unknown key "batch-sise"', 'did you mean "batch-size"']),
    "unknown train key, EDN": (
        "c.edn", "{:network [(input 8 :id :data) (linear->softmax 2)] :train {:epoch-cout 3}}", [],
        ['train: unknown key "epoch-cout"', 'did you mean "epoch-count"']),
    "batch size 0": (
        "c.yaml", NET + OK_TAIL + "train: {batch-size: 0}\n", [],
        ["train.batch-size", "must be ≥ 1, got 0"]),
    "negative learning rate": (
        "c.yaml", NET + OK_TAIL + "train:\n  optimizer: {type: sgd, learning-rate: -1}\n", [],
        ["train.optimizer.learning-rate", "must be > 0, got -1"]),
    "option of another optimizer": (
        "c.yaml", NET + OK_TAIL + "train:\n  optimizer: {type: adam, momentum: 0.9}\n", [],
        ["train.optimizer.momentum", "not an option of adam"]),
    "unknown augmentation": (
        "c.yaml", NET + OK_TAIL + "train:\n  augmentation: [mirror, rotaton]\n", [],
        ["train.augmentation[1]", 'unknown augmentation "rotaton"', 'did you mean "rotation"']),
    "YAML syntax error": (
        "c.yaml", NET + OK_TAIL + "train:\n  batch-size: [3\n  seed: 1\n", [],
        ["YAML syntax error at line 6"]),
    "YAML key given twice": (
        "c.yaml", NET + OK_TAIL + "train:\n  batch-size: 3\n  batch-size: 4\n", [],
        ["line 6", "'batch-size' is given twice"]),
    "EDN syntax error": (
        "c.edn", "{:network [(input 8 :id :data)\n            (linear 3]\n :train {}}\n", [],
        ["EDN syntax error at line 2", "']' closes the '('"]),
    "EDN form never closed": (
        "c.edn", "{:network [(input 8 :id :data)\n\n (linear 3)\n", [],
        ["EDN syntax error at line 1", "never closed"]),
    "EDN keyword without a value": (
        "c.edn", "[(input 8 :id :data) (linear 3 :id)]", [],
        ["(linear ...): keyword :id has no value"]),
    "EDN :same pad": (
        "c.edn", "[(input 8 8 1 :id :data) (convolutional 3 :same 1 4)]", [],
        ["network[1] (convolutional)", 'in EDN write the pad as a string', '"same"']),
    "empty YAML file": ("c.yaml", "", [], ["the file is empty"]),
    "empty EDN file": ("c.edn", "  ; nothing but a comment\n", [], ["the file is empty"]),
    "no network": ("c.yaml", "train: {batch-size: 3}\n", [], ["no network section"]),
    "not a map": ("c.yaml", "42\n", [], ["a config is a map with a 'network' section"]),
    "unknown file extension": ("c.json", '{"network": []}', [], ["unknown config type '.json'", ".yaml"]),
    "invalid --set value": (
        "c.yaml", NET + OK_TAIL, ["--set", "train.batch-size=abc"],
        ["train.batch-size", "must be a whole number", "from --set train.batch-size=abc"]),
    "--set without =": ("c.yaml", NET + OK_TAIL, ["--set", "train.batch-size"], ["--set train.batch-size",
                                                                                  "KEY.PATH=VALUE"]),
    "--set past the end of the network": (
        "c.yaml", NET + OK_TAIL, ["--set", "network.7.linear=3"], ["--set network.7.linear=3", "2-item list"]),
    "--set to an invalid layer value": (
        "c.yaml", NET + OK_TAIL, ["--set", "network.1.linear->softmax=-2"],
        ["network[1] (linear->softmax", "output-size must be a whole number ≥ 1, got -2"]),
    "leaf target that is not an input": (
        "c.yaml", NET + "  - linear: {output-size: 8, target: dta}\n", [],
        ['network[1] (linear', 'target "dta" is not an input', 'did you mean "data"']),
    "leaf target of another size": (
        "c.yaml", NET + "  - linear: {output-size: 4, target: data}\n", [],
        ['network[1] (linear', 'cannot reconstruct input "data" of shape 8']),
    "loss on a non-leaf": (
        "c.yaml", NET + "  - linear: {output-size: 4, loss: quadratic}\n  - relu\n", [],
        ["network[1] (linear", "loss belongs on a leaf", "relu-1 takes input from this one"]),
    "unknown loss": (
        "c.yaml", NET + "  - linear: {output-size: 4, loss: hinge}\n", [],
        ["network[1] (linear)", "loss must be one of", "hinge"]),
    "unquoted non-trainable? in a flow map": (
        "c.yaml", NET + "  - linear: {output-size: 4, non-trainable?: true}\n", [],
        ["YAML syntax error at line 3", 'quote a key that ends in "?"']),
    "misspelt non-trainable": (
        "c.yaml", NET + "  - linear:\n      output-size: 4\n      trainable?: false\n", [],
        ["network[1] (linear)", 'unknown argument "trainable?"', 'did you mean "non-trainable?"']),
    "batch-norm factor out of range": (
        "c.yaml", NET + "  - batch-normalization: 1.5\n", [],
        ["network[1] (batch-normalization)", "ave-factor must be a number in (0, 1]", "1.5"]),
    "reshape to another size": (
        "c.yaml", NET + "  - reshape: [3, 3, 1]\n", [],
        ["network[1] (reshape", "cannot reshape 8 (8 values) to 1×3×3 (9 values)"]),
    "two layers in one entry": (
        "c.yaml", NET + "  - {linear: 3, relu: null}\n", [], ["network[1]", "one layer per entry"]),
    "an input that feeds nothing": (
        "c.yaml", NET + "  - input: {width: 3, id: other}\n  - linear: {output-size: 2, parents: [data]}\n", [],
        ['network[1] (input, id "other")', "nothing takes input from this input"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_config_exits_2_and_names_the_place(tmp_path, case):
    name, text, extra, expected = CASES[case]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = run_cli("check", path, *extra)
    assert result.code == 2, result
    assert "Traceback" not in result.output
    assert result.stdout == ""  # nothing half-printed
    message = result.stderr.strip()
    assert message.startswith("error: ") and "\n" not in message, message
    if not case.startswith("--set without") and not case.startswith("--set past"):
        assert str(path) in message, message  # the file is named
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_at_least_fifteen_distinct_bad_configs_in_both_languages():
    assert len(CASES) >= 15
    assert sum(name.endswith(".edn") for name, *_ in CASES.values()) >= 5


def test_a_missing_config_file(tmp_path):
    result = run_cli("check", tmp_path / "nowhere.yaml")
    assert result.code == 2 and "Traceback" not in result.output
    assert "nowhere.yaml: no such config file" in result.stderr


def test_a_folder_is_not_a_config(tmp_path):
    folder = tmp_path / "configs.yaml"
    folder.mkdir()
    result = run_cli("check", folder)
    assert result.code == 2 and "Traceback" not in result.output


def test_a_cycle_names_only_its_own_layers(tmp_path):
    path = tmp_path / "cycle.yaml"
    path.write_text(NET + "  - relu: {id: a, parents: [c]}\n  - relu: {id: b}\n  - relu: {id: c}\n"
                          "  - join: {parents: [data, c], id: after}\n  - relu: {id: later}\n")
    result = run_cli("check", path)
    assert result.code == 2
    assert 'id "a"' in result.stderr and 'id "b"' in result.stderr and 'id "c"' in result.stderr
    assert "after" not in result.stderr and "later" not in result.stderr
