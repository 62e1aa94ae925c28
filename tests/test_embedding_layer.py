"""The `embedding` layer: a table row's category codes through embeddings, its numbers clipped
smoothly or through periodic embeddings; what the dataset gives it; the same answers on ONNX."""
import math

import numpy as np
import pytest
import torch

from conftest import ROOT, run_cli
from nnrun.data.preprocess import Preprocessing
from nnrun.network.build import build_network, count_parameters
from nnrun.network.layers.tabular import fastai_size
from nnrun.network.plan import plan_network

ROW = [{"input": {"width": 4, "id": "data"}}]
HEAD = [{"linear": 2}, {"softmax": {"id": "label"}}]


def test_fastai_sizes_and_exact_parameter_counts():
    assert [fastai_size(n) for n in (2, 5, 40, 183, 100_000)] == [2, 4, 13, 30, 600]
    plan = plan_network(ROW + [{"embedding": {"levels": [0, 5, 0, 40], "features": ["a", "b", "c", "d"],
                                              "sizes": {"d": 7}}}] + HEAD)
    embedding = plan.nodes[1]
    assert embedding.out_shape.size == 2 + 4 + 7
    counts = count_parameters(plan)
    assert counts[embedding.id] == 5 * 4 + 40 * 7
    periodic = plan_network(ROW + [{"embedding": {"levels": [0, 5, 0, 40], "numbers": "periodic",
                                                  "frequencies": 3, "number-size": 6}}] + HEAD)
    node = periodic.nodes[1]
    assert node.out_shape.size == 2 * 6 + 4 + 13
    # per number: 3 frequencies, a (2·3 → 6) map and its bias; the two tables
    assert count_parameters(periodic)[node.id] == 2 * (3 + 6 * 6 + 6) + 5 * 4 + 40 * 13


def test_codes_pick_rows_of_their_tables_and_numbers_are_clipped_smoothly():
    plan = plan_network(ROW + [{"embedding": {"levels": [0, 5, 0, 40], "clip": 3}}] + HEAD)
    network = build_network(plan).eval()
    module = next(m for m in network.modules() if type(m).__name__ == "ColumnEmbedding")
    x = torch.tensor([[0.5, 3.0, 30.0, 39.0], [-2.0, 1.0, -0.1, 0.0]])
    out = module(x)
    clip = lambda v: v / math.sqrt(1 + (v / 3) ** 2)  # noqa: E731
    np.testing.assert_allclose(out[:, :2].detach().numpy(), [[clip(0.5), clip(30.0)], [clip(-2.0), clip(-0.1)]],
                               rtol=1e-6)
    tables = module.tables
    assert torch.equal(out[0, 2:6], tables[0].weight[3]) and torch.equal(out[0, 6:], tables[1].weight[39])
    assert torch.equal(out[1, 2:6], tables[0].weight[1]) and torch.equal(out[1, 6:], tables[1].weight[0])
    # a code beyond the table (a damaged row) reads the last row rather than failing
    assert torch.equal(module(torch.tensor([[0.0, 99.0, 0.0, 0.0]]))[0, 2:6], tables[0].weight[4])


def test_onnx_runtime_answers_as_torch_with_real_codes(tmp_path):
    from nnrun.infer.model import open_model
    from nnrun.model_io import save_model

    plan = plan_network(ROW + [{"embedding": {"levels": [0, 5, 0, 40], "numbers": "periodic"}},
                               {"linear->relu": 8}] + HEAD)
    torch.manual_seed(0)
    network = build_network(plan).eval()
    pre = Preprocessing("table", "standardize", [0.0] * 4, [1.0] * 4, features=["a", "b", "c", "d"])
    path = tmp_path / "m.nnrun"
    save_model(path, network, classes=["x", "y"], preprocessing=pre)
    rng = np.random.default_rng(0)
    x = np.stack([rng.normal(0, 2, 64), rng.integers(0, 5, 64), rng.normal(0, 2, 64), rng.integers(0, 40, 64)],
                 axis=1).astype(np.float32)
    onnx = open_model(path, device="cpu", engine="onnx").run(x)["probabilities"]
    reference = open_model(path, device="cpu", engine="torch").run(x)["probabilities"]
    np.testing.assert_allclose(onnx, reference, rtol=1e-5, atol=1e-6)
    assert np.ptp(reference[:, 0]) > 1e-3  # the rows differ: the codes and numbers were read


@pytest.mark.parametrize("layer, phrase", [
    ({"embedding": {"levels": [0, 1, 0, 3]}}, "at least 2 codes"),
    ({"embedding": {"levels": [0, 5, 0]}}, "takes a table row of 3 features"),
    ({"embedding": {"levels": "some"}}, "list of code counts"),
    ({"embedding": {"levels": [0, 5, 0, 4], "features": ["a", "b", "c", "d"], "sizes": {"a": 3}}},
     '"a" is not a category column'),
    ({"embedding": {"levels": [0, 5, 0, 4], "numbers": "wavy"}}, "numbers must be one of plain, periodic"),
])
def test_mistakes_name_the_layer(layer, phrase):
    from nnrun.errors import UserError

    with pytest.raises(UserError) as caught:
        plan_network(ROW + [layer] + HEAD)
    assert phrase in str(caught.value) and "network[1]" in str(caught.value)


def test_the_dataset_gives_levels_features_and_class_count(tmp_path):
    rows = ["size,colour,kind"] + [f"{i % 9},{['red', 'green', 'blue'][i % 3]},{['a', 'b', 'c'][i % 3]}"
                                   for i in range(90)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    assert run_cli("prepare", "csv", tmp_path / "t.csv", tmp_path / "data", "--label-column", "kind", "-q").code == 0
    result = run_cli("check", ROOT / "configs" / "tabular.yaml", "--set", f"data={tmp_path / 'data'}")
    assert result.code == 0, result
    assert "1 category (codes→size): colour 5→4; 1 number" in result.stdout
    from nnrun.config.spec import load_spec

    spec = load_spec(ROOT / "configs" / "tabular.yaml", [f"data={tmp_path / 'data'}"])
    description = spec.plan.description
    assert description[1]["embedding"]["levels"] == [0, 5]
    assert description[1]["embedding"]["features"] == ["size", "colour"]
    assert spec.plan.classifying_leaf.out_shape.size == 3  # linear: auto is the class count
    # without a dataset, check says what waits for one
    result = run_cli("check", ROOT / "configs" / "tabular.yaml", "--set", "data=null")
    assert result.code == 0 and "width auto" in result.output
