"""The ONNX graph inside a model file is read like the rest of the file: a stranger's file can
make nnrun neither crash nor read anything outside it."""
import numpy as np
import pytest

from conftest import run_cli
from nnrun.checkpoint import read_checkpoint, write_checkpoint
from nnrun.data.preprocess import Preprocessing
from nnrun.errors import UserError
from nnrun.export import graph_check
from nnrun.model_io import save_model
from nnrun.network.build import build_network
from nnrun.network.plan import plan_network

FEATURES = ["a", "b", "c"]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    plan = plan_network([{"input": {"width": 3}}, {"linear->relu": 4}, {"linear": 2}, "softmax"])
    path = tmp_path_factory.mktemp("graph") / "m.nnrun"
    save_model(path, build_network(plan), classes=["x", "y"],
               preprocessing=Preprocessing("table", "none", features=FEATURES))
    return path


def _with_graph(source, target, graph):
    payload = read_checkpoint(source)
    payload["onnx"]["graph"] = graph
    write_checkpoint(target, payload)  # a valid checksum: the file is well-formed, its graph is not


def _outside_reference(tmp_path):
    """A graph whose one initializer is external data in a file beside the working folder."""
    import onnx
    from onnx import TensorProto, helper

    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"not for the model")
    tensor = helper.make_tensor("w", TensorProto.UINT8, [8], vals=bytes(8), raw=True)
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "secret.bin"), ("offset", "0"), ("length", "8")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    constant = helper.make_node("Constant", [], ["probabilities"], value=tensor)
    graph = helper.make_graph([constant], "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 3])],
                              [helper.make_tensor_value_info("probabilities", TensorProto.UINT8, [8])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)]).SerializeToString()


def test_the_walked_field_numbers_are_onnx_protos():
    import onnx

    messages = {name: getattr(onnx, name) for name in graph_check.SCHEMA}
    for name, fields in graph_check.SCHEMA.items():
        descriptor = messages[name].DESCRIPTOR
        for number, target in fields.items():
            field = descriptor.fields_by_number[number]
            assert field.message_type.name == target, (name, number)
    tensor = onnx.TensorProto.DESCRIPTOR
    assert tensor.fields_by_name["name"].number == graph_check._TENSOR_NAME
    assert tensor.fields_by_name["data_location"].number == graph_check._TENSOR_LOCATION
    assert onnx.TensorProto.EXTERNAL == graph_check._EXTERNAL


def test_a_graph_that_reads_a_file_outside_is_refused(model_file, tmp_path, monkeypatch):
    crafted = tmp_path / "crafted.nnrun"
    _with_graph(model_file, crafted, _outside_reference(tmp_path))
    (tmp_path / "rows.csv").write_text("a,b,c\n1,2,3\n")
    monkeypatch.chdir(tmp_path)  # where ONNX Runtime would look for secret.bin
    result = run_cli("infer", crafted, "rows.csv")
    assert result.code == 2 and "outside the model file" in result.stderr
    assert "not for the model" not in result.stdout


def test_damaged_graphs_give_user_errors_never_crashes(model_file, tmp_path):
    """Bytes flipped, cut or inserted anywhere in the stored graph: the model either still runs
    (a harmless change) or stops with a UserError naming the file."""
    from nnrun.infer.model import open_model

    graph = read_checkpoint(model_file)["onnx"]["graph"]
    rng = np.random.default_rng(0)
    x = np.ones((2, 3), np.float32)
    outcomes = {"ran": 0, "refused": 0}
    for trial in range(80):
        damaged = bytearray(graph)
        kind = trial % 3
        at = int(rng.integers(0, len(damaged)))
        if kind == 0:
            damaged[at] ^= int(rng.integers(1, 256))
        elif kind == 1:
            del damaged[at:]
        else:
            damaged[at:at] = rng.integers(0, 256, int(rng.integers(1, 9)), dtype=np.uint8).tobytes()
        path = tmp_path / f"d{trial}.nnrun"
        _with_graph(model_file, path, bytes(damaged))
        try:
            out = open_model(path, device="cpu", engine="onnx").run(x)
            assert set(out) <= {"probabilities"}
            outcomes["ran"] += 1
        except UserError as problem:
            assert str(path) in str(problem)
            outcomes["refused"] += 1
    assert outcomes["refused"] > 20


def test_a_malformed_graph_record_is_a_user_error(model_file, tmp_path):
    from nnrun.infer.model import open_model

    for record in ({"graph": "text"}, {"graph": b"", "weights": {"w": "missing"}, "outputs": ["probabilities"]},
                   {"graph": b"", "weights": {}, "outputs": ["steal"]}):
        payload = read_checkpoint(model_file)
        payload["onnx"] = record
        path = tmp_path / "r.nnrun"
        write_checkpoint(path, payload)
        with pytest.raises(UserError, match="r.nnrun"):
            open_model(path, device="cpu", engine="onnx").run(np.ones((1, 3), np.float32))
