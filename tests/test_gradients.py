"""The [2, 3, 4, 1] gradient test vectors (../shared/data/reference), reproduced through a network
BUILT FROM A CONFIG, in float64: forward output, every weight and bias gradient, the relu variant
whose derivative is forced to 1, and 1,000 steps of plain SGD.

The vectors follow the from-scratch network's convention: cost ½·Σ(a − y)² per sample, so the
output error is (a − y)·σ'(z) - nnrun's `loss: quadratic` - and SGD updates
w −= rate/len(batch)·Σ grad, which is plain SGD on the batch-mean loss.
"""
import json

import pytest
import torch
import yaml

from conftest import shared_path
from nnrun.config.spec import spec_from_data
from nnrun.network.build import build_network
from nnrun.network.loss import leaf_loss

CONFIG = """
network:
  - input: {{width: 2, id: data}}
  - linear->{act}: 3
  - linear->{act}: 4
  - linear->{act}: {{output-size: 1, id: label, loss: quadratic}}
train:
  optimizer: {{type: sgd, learning-rate: 0.001, momentum: 0}}
  batch-size: 3
"""

TOLERANCE = 1e-12


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def vectors():
    with open(shared_path("reference", "nielsen-2-3-4-1-vectors.json"), encoding="utf-8") as file:
        return json.load(file)


def f64(values):
    return torch.tensor(values, dtype=torch.float64)


def network_from_config(vectors, activation):
    """The [2, 3, 4, 1] network built from YAML text, loaded with the vectors' weights and biases."""
    spec = spec_from_data(yaml.safe_load(CONFIG.format(act=activation)))
    assert vectors["sizes"] == [spec.plan.inputs[0].out_shape.size] + [
        n.out_shape.size for n in spec.plan.nodes if n.layer == "linear"]
    network = build_network(spec.plan, dtype=torch.float64)
    state = network.state_dict()
    linears = [n.id for n in spec.plan.nodes if n.layer == "linear"]
    for ident, weights, biases in zip(linears, vectors["weights"], vectors["biases"], strict=True):
        state[f"layers.{ident}.weight"].copy_(f64(weights))
        state[f"layers.{ident}.bias"].copy_(f64(biases))
    return spec, network, linears


def quadratic_loss(spec, network, x, y):
    (leaf,) = spec.plan.leaves
    outputs, penalty = network.run(x, logits=True)
    assert penalty is None
    assert spec.plan.loss(leaf) == "quadratic"
    return outputs[leaf.id], leaf_loss(spec.plan.loss(leaf), outputs[leaf.id], y, from_logits=False)


def assert_close(actual, expected, what, tolerance=TOLERANCE):
    expected = f64(expected)
    assert actual.shape == expected.shape, what
    error = (actual.detach() - expected).abs().max().item()
    assert error <= tolerance, f"{what}: off by {error:.3g}"


def check_gradients(vectors, spec, network, linears, expected):
    x, y = f64([vectors["x"]]), f64([vectors["y"]])
    output, loss = quadratic_loss(spec, network, x, y)
    assert_close(output[0], expected["feedforward"], "feedforward")
    loss.backward()
    parameters = dict(network.named_parameters())
    for layer, (ident, grad_w, grad_b) in enumerate(zip(linears, expected["grad_w"], expected["grad_b"],
                                                       strict=True)):
        scale = max(1.0, f64(grad_w).abs().max().item())  # the relu variant's gradients reach ~50
        assert_close(parameters[f"layers.{ident}.weight"].grad, grad_w, f"grad_w[{layer}]", TOLERANCE * scale)
        assert_close(parameters[f"layers.{ident}.bias"].grad, grad_b, f"grad_b[{layer}]", TOLERANCE * scale)


def test_sigmoid_forward_and_every_gradient(vectors):
    spec, network, linears = network_from_config(vectors, "logistic")
    check_gradients(vectors, spec, network, linears, vectors["sigmoid"])


class StraightThroughReLU(torch.autograd.Function):
    """relu forward, derivative 1 backward: the vectors' deliberate 'cheat'."""

    @staticmethod
    def forward(ctx, z):
        return z.clamp_min(0)

    @staticmethod
    def backward(ctx, grad):
        return grad


class ForcedDerivativeReLU(torch.nn.Module):
    def forward(self, z):
        return StraightThroughReLU.apply(z)


def test_relu_with_derivative_forced_to_one(vectors):
    """No layer has a relu whose derivative is 1 everywhere (it is a deliberate cheat of the
    vectors' author, not a layer of Cortex), so the check builds `linear->relu` from the config
    and swaps each relu module for a straight-through one: the linear layers, the graph and the
    quadratic loss are still nnrun's own."""
    expected = vectors["relu_with_derivative_forced_to_1"]
    spec, network, linears = network_from_config(vectors, "relu")
    relus = [n.id for n in spec.plan.nodes if n.layer == "relu"]
    assert len(relus) == 3
    for ident in relus:
        assert isinstance(network.layers[ident], torch.nn.ReLU)
        network.layers[ident] = ForcedDerivativeReLU()
    check_gradients(vectors, spec, network, linears, expected)


def test_relu_forward_matches_without_the_swap(vectors):
    """The forward pass needs no swap: nnrun's own relu network gives the vectors' output."""
    spec, network, _ = network_from_config(vectors, "relu")
    output, _ = quadratic_loss(spec, network, f64([vectors["x"]]), f64([vectors["y"]]))
    assert_close(output[0], vectors["relu_with_derivative_forced_to_1"]["feedforward"], "feedforward")


def test_one_thousand_sgd_steps(vectors):
    run = vectors["sgd_sigmoid"]
    spec, network, linears = network_from_config(vectors, "logistic")
    optimizer_spec = spec.train["optimizer"]
    assert optimizer_spec["learning-rate"] == run["eta"] and optimizer_spec["momentum"] == 0
    assert not optimizer_spec["nesterov"] and spec.train["batch-size"] == len(run["batch"])
    (scale, parameters), = network.parameter_groups()  # every parameter trains, at the full rate
    assert scale == 1.0 and len(parameters) == 6
    x = f64([item["x"] for item in run["batch"]])
    y = f64([item["y"] for item in run["batch"]])
    for _ in range(run["steps"]):
        _, loss = quadratic_loss(spec, network, x, y)
        gradients = torch.autograd.grad(loss, parameters)  # of the batch mean: Σ grad / len(batch)
        with torch.no_grad():  # plain SGD, by hand (the optimizers are nnrun/train's, tested there)
            for parameter, gradient in zip(parameters, gradients):
                parameter -= run["eta"] * gradient
    network.eval()
    with torch.no_grad():
        final = network(f64([vectors["x"]]))
    assert_close(final[0], run["feedforward_after_training_x_3_4"], "output after training")
    assert final.item() == pytest.approx(0.9439931067001217, abs=TOLERANCE)
    state = network.state_dict()
    for layer, (ident, weights, biases) in enumerate(zip(linears, run["trained_weights"], run["trained_biases"],
                                                         strict=True)):
        assert_close(state[f"layers.{ident}.weight"], weights, f"trained weights[{layer}]")
        assert_close(state[f"layers.{ident}.bias"], biases, f"trained biases[{layer}]")


def test_float32_is_not_enough_for_the_vectors(vectors):
    """Why the checks run in float64: float32 misses the vectors by ~1e-7."""
    spec, network, _ = network_from_config(vectors, "logistic")
    network = network.float()
    output, _ = quadratic_loss(spec, network, torch.tensor([vectors["x"]], dtype=torch.float32),
                               torch.tensor([vectors["y"]], dtype=torch.float32))
    error = abs(output.item() - vectors["sigmoid"]["feedforward"][0])
    assert 1e-12 < error < 1e-5
