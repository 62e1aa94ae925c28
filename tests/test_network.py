"""Graphs (residual, inception, xception, fan-out, several inputs and outputs), EDN = YAML,
`--set` overrides, float64 and CUDA."""
import pytest
import torch
import yaml

from conftest import ROOT, run_cli
from nnrun.config.spec import load_spec, spec_from_data
from nnrun.network.build import build_network, count_parameters
from nnrun.network.plan import plan_network

CONFIGS = ROOT / "configs"


pytestmark = pytest.mark.usefixtures("one_thread")


def forward(plan, batch=2, dtype=torch.float32, device=None, train=False):
    torch.manual_seed(0)
    network = build_network(plan, device=device, dtype=dtype).train(train)
    x = torch.randn(batch, *plan.inputs[0].out_shape.batch_dims(), dtype=dtype, device=device)
    return network, x, network(x)


@pytest.mark.parametrize("name,shape", [("resnet.yaml", [10]), ("inception.yaml", [10]),
                                        ("xception.yaml", [2]), ("autoencoder-conv.yaml", [1, 28, 28])])
def test_graph_configs_run_forward_and_backward(name, shape):
    plan = load_spec(CONFIGS / name).plan
    network, x, out = forward(plan, batch=2, train=True)
    assert list(out.shape) == [2, *shape]
    assert torch.isfinite(out).all()
    out.sum().backward()
    # every parameter takes part: each gets a gradient
    missing = [name for name, p in network.named_parameters() if p.grad is None]
    assert not missing
    # every node's real output shape is the planned one
    values = {}
    network.eval()
    with torch.no_grad():
        for node in plan.nodes:
            if node.layer == "input":
                values[node.id] = x
                continue
            key = node.id
            ins = [values[p] for p in node.parents]
            values[node.id] = network.layers[key](*ins) if key in network.layers else ins[0]
            assert list(values[node.id].shape[1:]) == node.out_shape.to_list(), node.place


def test_residual_block_adds_its_input():
    plan = plan_network([
        {"input": [4, 4, 2, {"id": "data"}]},
        {"split": {"id": "fork"}},
        {"convolutional": [3, "same", 1, 2, {"id": "conv"}]},
        {"join": {"parents": ["fork", "conv"], "id": "sum"}},
        "relu"])
    assert plan.by_id["fork"].children == ["conv", "sum"]
    network, x, out = forward(plan)
    conv = network.layers["conv"](x)
    assert torch.allclose(out, torch.relu(x + conv))


def test_a_node_with_several_children_feeds_each_and_gets_all_their_gradients():
    plan = plan_network([
        {"input": {"width": 3, "id": "data"}},
        {"linear": {"output-size": 4, "id": "hub"}},
        {"linear": {"output-size": 2, "id": "left"}},
        {"linear": {"output-size": 2, "id": "right", "parents": ["hub"]}},
        {"logistic": {"id": "middle", "parents": ["hub"]}},
        {"concatenate": {"parents": ["left", "right"]}},
        {"join": {"parents": ["concatenate-1", "middle"], "operation": "*"}}])
    assert plan.by_id["hub"].children == ["left", "right", "middle"]
    assert [n.id for n in plan.leaves] == ["join-1"]
    torch.manual_seed(0)
    network = build_network(plan, dtype=torch.float64)
    x = torch.randn(5, 3, dtype=torch.float64)
    out = network(x)
    hub = network.layers["hub"](x)
    by_hand = torch.cat([network.layers["left"](hub), network.layers["right"](hub)], 1) * torch.sigmoid(hub)
    assert torch.allclose(out, by_hand, atol=1e-15)
    assert torch.autograd.gradcheck(lambda v: network(v), (x.requires_grad_(),), fast_mode=True)


def test_a_layer_without_parents_takes_the_one_before_it_in_the_list():
    plan = plan_network([
        {"input": {"width": 3, "id": "data"}},
        {"linear": {"output-size": 4, "id": "a"}},
        {"linear": {"output-size": 5, "id": "b", "parents": ["data"]}},
        "relu",
        {"join": {"parents": ["relu-1", "b"]}}])
    assert plan.by_id["relu-1"].parents == ["b"]
    assert [n.id for n in plan.leaves] == ["a", "join-1"]


def test_several_inputs_and_outputs():
    plan = plan_network([
        {"input": {"width": 4, "id": "left"}},
        {"input": [3, 3, 2, {"id": "right"}]},
        {"linear": {"output-size": 5, "parents": ["left"], "id": "a"}},
        {"convolutional": [3, 0, 1, 5, {"parents": ["right"]}]},
        {"flatten": {"id": "b"}},
        {"concatenate": {"parents": ["a", "b"], "id": "both"}},
        {"linear->softmax": {"output-size": 2, "id": "label"}},
        {"linear": {"output-size": 4, "parents": ["both"], "id": "echo", "target": "left"}}])
    assert [n.id for n in plan.inputs] == ["left", "right"]
    assert [n.id for n in plan.leaves] == ["label", "echo"]
    assert plan.by_id["both"].out_shape.to_list() == [10]
    assert plan.target(plan.by_id["echo"]) == "left" and plan.target(plan.by_id["label"]) is None
    network = build_network(plan)
    out = network({"left": torch.randn(3, 4), "right": torch.randn(3, 2, 3, 3)})
    assert set(out) == {"label", "echo"}
    assert list(out["label"].shape) == [3, 2] and list(out["echo"].shape) == [3, 4]
    assert torch.allclose(out["label"].sum(1), torch.ones(3))
    with pytest.raises(ValueError, match="2 inputs"):
        network(torch.randn(3, 4))


def test_images_feed_a_vector_input_and_flat_rows_feed_an_image_input():
    nielsen = load_spec(CONFIGS / "nielsen.yaml").plan
    out = build_network(nielsen)(torch.rand(4, 1, 28, 28))  # MNIST as stored: 1×28×28
    assert list(out.shape) == [4, 10]
    conv = load_spec(CONFIGS / "mnist-conv.yaml").plan
    out = build_network(conv).eval()(torch.rand(4, 784))
    assert list(out.shape) == [4, 10]


def node_summary(plan):
    return [(n.id, n.layer, n.args, n.options, n.parents, n.out_shape, n.he_init) for n in plan.nodes]


def test_edn_and_yaml_describing_the_same_network_give_identical_plans():
    yaml_spec = load_spec(CONFIGS / "mnist-conv.yaml")
    edn_spec = load_spec(CONFIGS / "mnist-conv.edn")
    assert node_summary(yaml_spec.plan) == node_summary(edn_spec.plan)
    assert yaml_spec.train == edn_spec.train
    assert yaml_spec.data == edn_spec.data
    assert count_parameters(yaml_spec.plan) == count_parameters(edn_spec.plan)
    # the bare pasted Cortex vector is the fraud network
    assert node_summary(load_spec(CONFIGS / "fraud.yaml").plan) == \
        node_summary(load_spec(CONFIGS / "fraud-cortex.edn").plan)


def test_edn_and_yaml_graphs_with_parents_give_identical_plans(tmp_path):
    (tmp_path / "g.yaml").write_text(
        "network:\n"
        "  - input: [8, 8, 3, {id: data}]\n"
        "  - convolutional: [3, same, 1, 4, {id: a}]\n"
        "  - max-pooling: [3, same, 1, {parents: [data], id: b}]\n"
        "  - concatenate: {parents: [a, b], id: c}\n"
        "  - batch-normalization: {ave-factor: 0.95}\n"
        "  - linear->softmax: {output-size: 3, id: label, l2-regularization: 0.01}\n")
    (tmp_path / "g.edn").write_text(
        "{:network [(layers/input 8 8 3 :id :data)\n"
        "           (layers/convolutional 3 \"same\" 1 4 :id :a)\n"
        "           (layers/max-pooling 3 \"same\" 1 :parents [:data] :id :b)\n"
        "           (layers/concatenate :parents [:a :b] :id :c)\n"
        "           (layers/batch-normalization {:ave-factor 0.95})\n"
        "           (layers/linear->softmax 3 :id :label :l2-regularization 0.01)]}\n")
    assert node_summary(load_spec(tmp_path / "g.yaml").plan) == node_summary(load_spec(tmp_path / "g.edn").plan)


def test_set_overrides():
    spec = load_spec(CONFIGS / "fraud.yaml", ["train.batch-size=64", "data=/somewhere/else",
                                               "network.1.linear->relu=30"])
    assert spec.train["batch-size"] == 64
    assert spec.data["path"] == "/somewhere/else"
    assert spec.plan.by_id["linear-1"].out_shape.to_list() == [30]
    assert sum(count_parameters(spec.plan).values()) == (29 * 30 + 30) + (30 * 10 + 10) + (10 * 2 + 2)
    result = run_cli("check", CONFIGS / "fraud.yaml", "--set", "network.1.linear->relu=30")
    assert result.code == 0, result
    assert f"total parameters: {(29 * 30 + 30) + (30 * 10 + 10) + (10 * 2 + 2):,}" in result.stdout


def test_set_into_a_short_form_keeps_its_value():
    nielsen = load_spec(CONFIGS / "nielsen.yaml", ["train.optimizer.learning-rate=0.5", "data.path=/x"])
    assert nielsen.train["optimizer"]["type"] == "sgd" and nielsen.train["optimizer"]["learning-rate"] == 0.5
    assert nielsen.data["path"] == "/x" and nielsen.data["preprocessing"] == "unit"
    # `optimizer: adam` and `data: data/fraud` are short forms of maps
    fraud = load_spec(CONFIGS / "fraud.yaml", ["train.optimizer.learning-rate=0.01", "data.preprocessing=none",
                                               "train.metric.beta=2"])
    assert fraud.train["optimizer"]["type"] == "adam" and fraud.train["optimizer"]["learning-rate"] == 0.01
    assert fraud.data == {**fraud.data, "path": "data/fraud", "preprocessing": "none"}
    assert fraud.train["metric"]["name"] == "f-beta" and fraud.train["metric"]["beta"] == 2.0
    # a new section is created on the way
    bare = load_spec(CONFIGS / "fraud-cortex.edn", ["train.epoch-count=3", "data=/d"])
    assert bare.train["epoch-count"] == 3 and bare.data["path"] == "/d"


def test_set_data_to_a_folder_keeps_the_rest_of_the_data_map():
    # nielsen.yaml scales pixels by 1/256: pointing it at another folder must not reset that
    nielsen = load_spec(CONFIGS / "nielsen.yaml", ["data=/elsewhere"])
    assert nielsen.data["path"] == "/elsewhere" and nielsen.data["preprocessing"] == "unit"


def test_plans_need_no_file():
    spec = spec_from_data(yaml.safe_load("network: [{input: {width: 3}}, {linear->tanh: 2}]"))
    assert [n.layer for n in spec.plan.nodes] == ["input", "linear", "tanh"]
    assert spec.name == "config" and spec.train["batch-size"] == 128


def test_float64_networks():
    plan = load_spec(CONFIGS / "resnet.yaml").plan
    network, x, out = forward(plan, dtype=torch.float64, train=True)
    assert out.dtype == torch.float64
    assert all(p.dtype == torch.float64 for p in network.parameters())
    assert all(b.dtype == torch.float64 for b in network.buffers() if b.is_floating_point())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("name", ["mnist-conv.yaml", "resnet.yaml", "inception.yaml", "xception.yaml",
                                  "autoencoder-conv.yaml"])
def test_networks_run_on_cuda(name):
    plan = load_spec(CONFIGS / name).plan
    network, x, out = forward(plan, batch=4, device="cuda", train=True)
    assert out.device.type == "cuda"
    out.float().sum().backward()
    assert all(p.grad is not None and p.grad.device.type == "cuda" for p in network.parameters())
    cpu = build_network(plan)
    cpu.load_state_dict({k: v.cpu() for k, v in network.state_dict().items()})
    network.eval()
    cpu.eval()
    with torch.no_grad():
        assert torch.allclose(cpu(x.cpu()), network(x).cpu(), atol=1e-3)
