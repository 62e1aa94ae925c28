"""The layer is the unit: every registry entry has every part, and every layer runs the same on
ONNX Runtime (the graph a model file carries) as on torch."""
import numpy as np
import pytest
import torch

from nnrun.data.preprocess import Preprocessing
from nnrun.network.layers import REGISTRY, Arg
from nnrun.network.plan import plan_network

IMAGE = {"input": [6, 6, 3, {"id": "data"}]}
HEAD = [{"linear->softmax": 3}]

# One small use of each layer, after a 3×6×6 image input, before a softmax head. A new layer
# type needs an example here: the test below fails until it has one.
EXAMPLES = {
    "input": [],
    "linear": [{"linear": 5}],
    "convolutional": [{"convolutional": [3, 1, 2, 4]}],
    "depthwise-convolutional": [{"depthwise-convolutional": [3, "same", 1, 2]}],
    "separable-convolutional": [{"separable-convolutional": [3, 0, 1, 4]}],
    "max-pooling": [{"max-pooling": [3, 1, 2]}],
    "average-pooling": [{"average-pooling": [2, 0, 2]}],
    "global-average-pooling": ["global-average-pooling"],
    "up-sampling": [{"up-sampling": [2, "bilinear"]}],
    "flatten": ["flatten"],
    "reshape": [{"reshape": [108]}],
    "dropout": [{"dropout": 0.8}],
    "multiplicative-dropout": [{"multiplicative-dropout": 0.1}],
    "batch-normalization": ["batch-normalization"],
    "local-response-normalization": [{"local-response-normalization": {"n": 3}}],
    "prelu": ["prelu"],
    "leaky-relu": [{"leaky-relu": 0.2}],
    "concatenate": [{"convolutional": [1, 0, 1, 2, {"id": "a"}]}, {"relu": {"parents": ["a"], "id": "b"}},
                    {"concatenate": {"parents": ["a", "b"]}}],
    "join": [{"convolutional": [1, 0, 1, 2, {"id": "a"}]}, {"tanh": {"parents": ["a"], "id": "b"}},
             {"join": {"parents": ["a", "b"]}}],
    "split": ["split"],
    # the 108 pixel values as a table row: 100 numbers (periodic embeddings) and 8 codes
    "embedding": ["flatten", {"embedding": {"levels": [0] * 100 + [3] * 8, "numbers": "periodic",
                                            "frequencies": 2, "number-size": 2}}],
    **{name: [name] for name in ("relu", "logistic", "tanh", "swish", "selu", "softmax")},
    **{f"linear->{act}": [{f"linear->{act}": 4}] for act in ("relu", "softmax", "tanh", "logistic", "swish", "selu")},
}


def test_every_entry_has_every_part():
    assert set(EXAMPLES) == set(REGISTRY), "give every layer type an example here"
    for name, layer in REGISTRY.items():
        assert layer.name == name and layer.doc, name
        assert all(isinstance(arg, Arg) for arg in layer.args), name
        if layer.expands_to:
            assert all(part in REGISTRY for part in layer.expands_to), name
            continue
        assert callable(layer.shape), name
        assert layer.parents in ("none", "one", "many"), name
        # a layer without a builder passes its input on (input, split); everything else builds
        assert layer.build is not None or name in ("input", "split"), name
        assert layer.fused_loss in (None, "cross-entropy", "binary-cross-entropy"), name


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_layer_plans_costs_builds_and_exports(name, tmp_path):
    from nnrun.infer.model import open_model
    from nnrun.model_io import save_model
    from nnrun.network.build import build_network

    plan = plan_network([IMAGE, *EXAMPLES[name], *HEAD])
    assert plan.macs_per_example() > 0
    torch.manual_seed(0)
    network = build_network(plan).eval()
    with torch.no_grad():  # move batch-norm statistics and slopes off their initial values
        for tensor in network.buffers():
            if tensor.is_floating_point():
                tensor.add_(torch.rand_like(tensor))
    pre = Preprocessing("images", "centered", image_size=6, channels=3)
    path = tmp_path / "m.nnrun"
    save_model(path, network, classes=["a", "b", "c"], preprocessing=pre)
    x = np.random.default_rng(1).integers(0, 256, (4, 3, 6, 6), dtype=np.uint8)
    onnx_model = open_model(path, device="cpu", engine="onnx")
    got = onnx_model.run(x)["probabilities"]
    expected = open_model(path, device="cpu", engine="torch").run(x)["probabilities"]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_costs_follow_the_arithmetic():
    plan = plan_network([{"input": [8, 8, 3]}, {"convolutional": [3, 0, 1, 4]}, "relu", {"linear": 5}])
    conv, relu, linear = plan.nodes[1:]
    assert REGISTRY["convolutional"].macs(conv.args, conv.in_shapes, conv.out_shape) == 6 * 6 * 4 * 9 * 3
    assert REGISTRY["relu"].macs(relu.args, relu.in_shapes, relu.out_shape) == 6 * 6 * 4
    assert REGISTRY["linear"].macs(linear.args, linear.in_shapes, linear.out_shape) == 144 * 5
    assert plan.macs_per_example() == 6 * 6 * 4 * 27 + 144 + 720
