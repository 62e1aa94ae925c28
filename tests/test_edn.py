"""EDN (Cortex's Clojure data) read into the same plain data as YAML."""
from fractions import Fraction

import pytest
import yaml

from nnrun.config import edn
from nnrun.config.read import read_config_file
from nnrun.errors import UserError
from nnrun.network.plan import plan_network


def test_keywords_and_symbols_lose_their_namespace():
    assert edn.loads("{:a :b/c, :layers/d e/f}") == {"a": "c", "d": "f"}


def test_call_syntax_becomes_a_call_list():
    assert edn.loads("(layers/convolutional 5 0 1 20)") == ["convolutional", 5, 0, 1, 20]
    assert edn.loads("(input 28 28 1 :id :data)") == ["input", 28, 28, 1, {"id": "data"}]
    assert edn.loads("(linear->relu 20 {:id :hidden})") == ["linear->relu", 20, {"id": "hidden"}]
    assert edn.loads("(join :parents [:a :b] :operation :+)") == ["join", {"parents": ["a", "b"],
                                                                           "operation": "+"}]
    assert edn.loads("(relu)") == ["relu"]
    assert edn.loads("()") == []


def test_values():
    data = edn.loads('{:s "text" :i 3 :f 0.5 :n nil :t true :f2 false :v [1 2] :l (x 1) :set #{7} :r 1/2}')
    assert data == {"s": "text", "i": 3, "f": 0.5, "n": None, "t": True, "f2": False, "v": [1, 2],
                    "l": ["x", 1], "set": [7], "r": Fraction(1, 2)}


def test_a_cortex_description_pastes_in_as_it_is():
    text = """
    ;; from the Cortex MNIST example
    (def initial-description
      [(layers/input 28 28 1 :id :data)
       (layers/convolutional 5 0 1 20)
       (layers/max-pooling 2 0 2)
       (layers/relu)
       (layers/linear->relu 1000)
       (layers/dropout 0.5)
       (layers/linear->softmax 10 :id :label)])
    """
    network = edn.loads(text)
    assert network[0] == ["input", 28, 28, 1, {"id": "data"}]
    plan = plan_network(network)
    assert [n.id for n in plan.leaves] == ["label"]
    assert plan.by_id["data"].out_shape.to_list() == [1, 28, 28]


def test_def_with_a_docstring_and_several_forms_keep_the_last_value():
    assert edn.loads('(def net "the network" [(input 3) (relu)])') == [["input", 3], ["relu"]]
    assert edn.loads("(ns example.core) (def x 1) [(input 3)]") == [["input", 3]]


def test_edn_and_yaml_read_to_the_same_data(tmp_path):
    (tmp_path / "a.edn").write_text(
        "{:network [(input 29 1 1 :id :data) (linear->relu 20) (dropout 0.9) (linear 2) (softmax :id :label)]\n"
        " :data \"data/fraud\"\n"
        " :train {:optimizer {:type :sgd :learning-rate 0.01} :batch-size 100\n"
        "         :augmentation [(variance-noise 5000) :mirror]}}")
    (tmp_path / "a.yaml").write_text(
        "network:\n"
        "  - [input, 29, 1, 1, {id: data}]\n"
        "  - [linear->relu, 20]\n"
        "  - [dropout, 0.9]\n"
        "  - [linear, 2]\n"
        "  - [softmax, {id: label}]\n"
        "data: data/fraud\n"
        "train:\n"
        "  optimizer: {type: sgd, learning-rate: 0.01}\n"
        "  batch-size: 100\n"
        "  augmentation: [[variance-noise, 5000], mirror]\n")
    assert read_config_file(tmp_path / "a.edn") == read_config_file(tmp_path / "a.yaml")


def test_a_bare_vector_is_the_network(tmp_path):
    path = tmp_path / "net.edn"
    path.write_text("[(input 3) (linear 2)]")
    assert read_config_file(path) == {"network": [["input", 3], ["linear", 2]]}


def test_comments_and_commas_are_whitespace():
    assert edn.loads("; a comment\n[1, 2 ; another\n 3] #_ 4") == [1, 2, 3]


@pytest.mark.parametrize("text,where", [
    ("{:network [(input 8)\n (relu]\n}", "at line 2"),
    ("{:network [(input 8)\n (relu)\n", "at line 1 ('[' is never closed)"),
    ("[(input 8)]\n\n\n)", "at line 4 (unexpected ')')"),
    ('{:a "never closed}', "never closed"),
    ("{:a 1 :b}", "at line 1"),
])
def test_syntax_errors_name_the_line(text, where):
    with pytest.raises(UserError) as caught:
        edn.loads(text, source="net.edn")
    message = str(caught.value)
    assert message.startswith("net.edn: EDN syntax error")
    assert where in message
    assert "LexToken" not in message and "lexpos" not in message


def test_a_keyword_without_a_value_names_the_call():
    with pytest.raises(UserError, match=r"net.edn: \(linear \.\.\.\): keyword :id has no value"):
        edn.loads("[(input 3) (linear 2 :id)]", source="net.edn")


def test_empty_edn():
    with pytest.raises(UserError, match="the file is empty"):
        edn.loads("  ;; only a comment\n", source="x.edn")


def test_yaml_keys_ending_in_a_question_mark_work_quoted_or_in_block_style(tmp_path):
    path = tmp_path / "q.yaml"
    path.write_text('network:\n  - input: {width: 3}\n  - linear: {output-size: 2, "non-trainable?": true}\n'
                    "  - linear:\n      output-size: 2\n      non-trainable?: true\n")
    plan = plan_network(read_config_file(path)["network"])
    assert plan.by_id["linear-1"].options == {"non-trainable?": True}
    assert plan.by_id["linear-2"].options == {"non-trainable?": True}
    assert yaml.safe_load("a: {'x?': 1}") == {"a": {"x?": 1}}
