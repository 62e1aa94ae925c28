"""Every layer: its planned output shape (Cortex's rounding rules), the built module's real output
shape in float32 and float64, and its semantics (keep probability, batch-norm and LRN constants,
prelu's start, ceil pooling with padding, initialisation, trainability, penalties, losses)."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nnrun.network.build import build_network, count_parameters
from nnrun.network.layers import REGISTRY, conv_size, lookup, pool_size
from nnrun.network.loss import leaf_loss
from nnrun.network.plan import plan_network


pytestmark = pytest.mark.usefixtures("one_thread")


def image(width, height, channels):
    return {"input": [width, height, channels, {"id": "data"}]}


def vector(width):
    return {"input": {"width": width, "id": "data"}}


def plan_of(*layers):
    return plan_network(list(layers))


def planned(*layers):
    return plan_of(*layers).nodes[-1].out_shape.to_list()


def run(plan, dtype=torch.float32, batch=2, train=False, seed=0):
    torch.manual_seed(seed)
    network = build_network(plan, dtype=dtype)
    network.train(train)
    x = torch.randn(batch, *plan.inputs[0].out_shape.batch_dims(), dtype=dtype)
    return network, network(x)


# ---- output shapes ------------------------------------------------------------------------

# (description, expected output shape) - worked out by hand from Cortex's formulas:
# convolution floor((in + 2·pad − k)/stride) + 1, pooling ceil((in + 2·pad − k)/stride) + 1,
# "same" ceil(in/stride).
SHAPES = {
    # a table row of 2 numbers and categories of 5 and 40 codes: fastai's sizes 4 and 13
    "embedding": ([{"input": 4}, {"embedding": {"levels": [0, 5, 0, 40]}}], [2 + 4 + 13]),
    # where convolution and pooling differ: 5 with kernel 2, stride 2, pad 0
    "conv 5 k2 s2 rounds down": ([image(5, 5, 1), {"convolutional": [2, 0, 2, 3]}], [3, 2, 2]),
    "pool 5 k2 s2 rounds up": ([image(5, 5, 1), {"max-pooling": [2, 0, 2]}], [1, 3, 3]),
    "conv 28 k5": ([image(28, 28, 1), {"convolutional": [5, 0, 1, 20]}], [20, 24, 24]),
    "pool 24 k2 s2": ([image(24, 24, 20), {"max-pooling": [2, 0, 2]}], [20, 12, 12]),
    "conv odd 7 k3 s2": ([image(7, 7, 2), {"convolutional": [3, 0, 2, 4]}], [4, 3, 3]),
    "pool odd 7 k3 s2": ([image(7, 7, 2), {"max-pooling": [3, 0, 2]}], [2, 3, 3]),
    "conv 8 k3 s2": ([image(8, 8, 2), {"convolutional": [3, 0, 2, 4]}], [4, 3, 3]),
    "pool 8 k3 s2": ([image(8, 8, 2), {"max-pooling": [3, 0, 2]}], [2, 4, 4]),
    "conv 6 k3 s3 pad 1": ([image(6, 6, 1), {"convolutional": [3, 1, 3, 2]}], [2, 2, 2]),
    "pool 6 k3 s3 pad 1": ([image(6, 6, 1), {"max-pooling": [3, 1, 3]}], [1, 3, 3]),
    # torch's ceil_mode would drop this last window (it starts in the padding); Cortex keeps it
    "pool 5 k2 s2 pad 1": ([image(5, 5, 1), {"max-pooling": [2, 1, 2]}], [1, 4, 4]),
    "pool 6 k3 s2 pad 1": ([image(6, 6, 1), {"max-pooling": [3, 1, 2]}], [1, 4, 4]),
    "pool pad 3 > k/2": ([image(8, 8, 1), {"max-pooling": [4, 3, 3]}], [1, 5, 5]),
    "avg pool 5 k2 s2 pad 1": ([image(5, 5, 1), {"average-pooling": [2, 1, 2]}], [1, 4, 4]),
    "avg-exc-pad pool": ([image(5, 5, 1), {"max-pooling": [2, 1, 2, {"pool-op": "avg-exc-pad"}]}], [1, 4, 4]),
    "non-square 9 wide 7 high": ([image(9, 7, 3), {"convolutional": [3, 0, 2, 4]}], [4, 3, 4]),
    "non-square pool": ([image(9, 7, 3), {"max-pooling": [2, 0, 2]}], [3, 4, 5]),
    # padding "same": ceil(in / stride), even and odd kernels, stride 1 and 2, even and odd sizes
    "same k3 s1 on 7": ([image(7, 7, 2), {"convolutional": [3, "same", 1, 4]}], [4, 7, 7]),
    "same k2 s1 on 7": ([image(7, 7, 2), {"convolutional": [2, "same", 1, 4]}], [4, 7, 7]),
    "same k4 s1 on 8": ([image(8, 8, 2), {"convolutional": [4, "same", 1, 4]}], [4, 8, 8]),
    "same k3 s2 on 7": ([image(7, 7, 2), {"convolutional": [3, "same", 2, 4]}], [4, 4, 4]),
    "same k2 s2 on 7": ([image(7, 7, 2), {"convolutional": [2, "same", 2, 4]}], [4, 4, 4]),
    "same k4 s2 on 8": ([image(8, 8, 2), {"convolutional": [4, "same", 2, 4]}], [4, 4, 4]),
    "same k5 s2 on 9x6": ([image(9, 6, 2), {"convolutional": [5, "same", 2, 4]}], [4, 3, 5]),
    "same pool k3 s1": ([image(7, 7, 2), {"max-pooling": [3, "same", 1]}], [2, 7, 7]),
    "same pool k2 s2 on 7": ([image(7, 7, 2), {"max-pooling": [2, "same", 2]}], [2, 4, 4]),
    "depthwise": ([image(9, 9, 3), {"depthwise-convolutional": [3, 0, 2]}], [3, 4, 4]),
    "depthwise multiplier 2": ([image(9, 9, 3), {"depthwise-convolutional": [3, 1, 1, 2]}], [6, 9, 9]),
    "depthwise same s2": ([image(9, 9, 3), {"depthwise-convolutional": [4, "same", 2]}], [3, 5, 5]),
    "separable": ([image(9, 9, 3), {"separable-convolutional": [3, 0, 1, 8]}], [8, 7, 7]),
    "separable same s2": ([image(9, 9, 3), {"separable-convolutional": [3, "same", 2, 8]}], [8, 5, 5]),
    "up-sampling 2": ([image(7, 5, 3), {"up-sampling": 2}], [3, 10, 14]),
    "up-sampling 3 bilinear": ([image(7, 5, 3), {"up-sampling": [3, "bilinear"]}], [3, 15, 21]),
    "global-average-pooling": ([image(7, 5, 3), "global-average-pooling"], [3]),
    "flatten": ([image(7, 5, 3), "flatten"], [105]),
    "reshape image to vector": ([image(7, 5, 3), {"reshape": [105]}], [105]),
    "reshape vector to image": ([vector(12), {"reshape": [3, 2, 2]}], [2, 2, 3]),
    "linear flattens an image": ([image(7, 5, 3), {"linear": 4}], [4]),
    "linear->relu": ([vector(6), {"linear->relu": 4}], [4]),
    "batch-norm vector": ([vector(6), "batch-normalization"], [6]),
    "batch-norm image": ([image(4, 4, 3), "batch-normalization"], [3, 4, 4]),
    "lrn": ([image(4, 4, 7), "local-response-normalization"], [7, 4, 4]),
    "prelu vector": ([vector(6), "prelu"], [6]),
    "prelu image": ([image(4, 4, 3), "prelu"], [3, 4, 4]),
    "leaky-relu": ([image(4, 4, 3), "leaky-relu"], [3, 4, 4]),
    "dropout": ([vector(6), {"dropout": 0.5}], [6]),
    "multiplicative-dropout": ([vector(6), {"multiplicative-dropout": 0.3}], [6]),
    "softmax over channels": ([image(4, 4, 3), "softmax"], [3, 4, 4]),
    "split": ([image(4, 4, 3), "split"], [3, 4, 4]),
    "concatenate vectors": ([vector(6), {"linear": [3, {"id": "a"}]}, {"linear": [5, {"parents": ["data"], "id": "b"}]},
                             {"concatenate": {"parents": ["a", "b"]}}], [8]),
    "concatenate images": ([image(6, 6, 2), {"convolutional": [3, "same", 1, 3, {"id": "a"}]},
                            {"convolutional": [1, 0, 1, 4, {"parents": ["data"], "id": "b"}]},
                            {"concatenate": {"parents": ["a", "b"]}}], [7, 6, 6]),
    "join +": ([image(6, 6, 2), {"convolutional": [3, "same", 1, 2, {"id": "a"}]},
                {"join": {"parents": ["data", "a"]}}], [2, 6, 6]),
    "join *": ([vector(5), {"linear": [5, {"id": "a"}]}, {"join": ["*", {"parents": ["a", "data"]}]}], [5]),
}
for _act in ("relu", "logistic", "tanh", "swish", "selu", "softmax", "sigmoid"):
    SHAPES[f"activation {_act}"] = ([image(4, 3, 2), _act], [2, 3, 4])
for _act in ("softmax", "tanh", "logistic", "swish", "selu"):
    SHAPES[f"linear->{_act}"] = ([vector(6), {f"linear->{_act}": 4}], [4])


@pytest.mark.parametrize("case", list(SHAPES))
def test_planned_shape_and_built_module_agree(case):
    description, expected = SHAPES[case]
    plan = plan_network(description)
    assert plan.nodes[-1].out_shape.to_list() == expected
    for dtype in (torch.float32, torch.float64):
        for train in (False, True):
            _, out = run(plan, dtype, batch=3, train=train)
            assert list(out.shape) == [3, *expected], (dtype, train)
            assert out.dtype == dtype
            assert torch.isfinite(out).all()


def test_every_registered_layer_has_a_shape_case():
    used = set()
    for description, _ in SHAPES.values():
        for layer in description:
            name = layer if isinstance(layer, str) else next(iter(layer))
            used.add(lookup(name).name)
    assert set(REGISTRY) <= used, set(REGISTRY) - used


def test_rounding_formulas():
    for size in range(2, 14):
        for kernel in (1, 2, 3, 4, 5):
            for pad in (0, 1, 2):
                for stride in (1, 2, 3):
                    if kernel > size + 2 * pad:
                        continue
                    assert conv_size(size, kernel, pad, stride) == \
                        math.floor((size + 2 * pad - kernel) / stride) + 1
                    assert pool_size(size, kernel, pad, stride) == \
                        math.ceil((size + 2 * pad - kernel) / stride) + 1
        for stride in (1, 2, 3):
            assert conv_size(size, 3, "same", stride) == pool_size(size, 2, "same", stride) == \
                math.ceil(size / stride)


@pytest.mark.parametrize("op", ["max", "avg", "avg-exc-pad"])
def test_pooling_with_padding_builds_cortex_sizes(op):
    """Every size/kernel/pad/stride combination: the built module gives the planned size."""
    for size in (3, 4, 5, 6, 7):
        for kernel in (2, 3, 4):
            for pad in (0, 1, 2, 3):
                for stride in (1, 2, 3):
                    if kernel > size + 2 * pad:
                        continue
                    plan = plan_of(image(size, size, 1), {"max-pooling": [kernel, pad, stride, {"pool-op": op}]})
                    side = math.ceil((size + 2 * pad - kernel) / stride) + 1
                    assert plan.nodes[-1].out_shape.to_list() == [1, side, side]
                    _, out = run(plan, batch=1)
                    assert list(out.shape) == [1, 1, side, side], (size, kernel, pad, stride)
                    assert torch.isfinite(out).all()


# ---- pooling values -----------------------------------------------------------------------

def cortex_max_pool(x, kernel, pad, stride):
    """A hand loop: Cortex's ceil-rounded windows over a 2-D list; padding never wins the max,
    and a window wholly in the padding gives 0."""
    size = len(x)
    out_size = math.ceil((size + 2 * pad - kernel) / stride) + 1
    out = []
    for i in range(out_size):
        row = []
        for j in range(out_size):
            inside = [x[r][c] for r in range(i * stride - pad, i * stride - pad + kernel)
                      for c in range(j * stride - pad, j * stride - pad + kernel)
                      if 0 <= r < size and 0 <= c < size]
            row.append(max(inside) if inside else 0.0)
        out.append(row)
    return out


def test_max_pooling_values_by_hand():
    x = torch.arange(25, dtype=torch.float64).reshape(1, 1, 5, 5) - 12  # −12 … 12
    plan = plan_of(image(5, 5, 1), {"max-pooling": [2, 1, 2]})
    network = build_network(plan, dtype=torch.float64)
    out = network(x)
    # windows start at −1, 1, 3, 5: rows {0}, {1, 2}, {3, 4}, {} (the last lies in the padding)
    expected = torch.tensor([[-12, -10, -8, 0],
                             [-2, 0, 2, 0],
                             [8, 10, 12, 0],
                             [0, 0, 0, 0]], dtype=torch.float64)
    assert torch.equal(out[0, 0], expected)


@pytest.mark.parametrize("size,kernel,pad,stride", [(5, 2, 1, 2), (6, 3, 1, 2), (7, 3, 0, 2), (8, 3, 0, 2),
                                                    (7, 4, 3, 3), (5, 3, 2, 2), (6, 2, 0, 2), (9, 3, 1, 3)])
def test_max_pooling_matches_the_hand_loop(size, kernel, pad, stride):
    torch.manual_seed(size * 100 + kernel * 10 + pad)
    x = torch.randn(1, 1, size, size, dtype=torch.float64)
    network = build_network(plan_of(image(size, size, 1), {"max-pooling": [kernel, pad, stride]}),
                            dtype=torch.float64)
    expected = torch.tensor(cortex_max_pool(x[0, 0].tolist(), kernel, pad, stride), dtype=torch.float64)
    assert torch.equal(network(x)[0, 0], expected)


def test_max_pooling_gradient_is_finite_with_empty_windows():
    x = torch.randn(2, 3, 5, 5, requires_grad=True)
    network = build_network(plan_of(image(5, 5, 3), {"max-pooling": [2, 1, 2]}, {"linear": 2}))
    network(x).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_average_pooling_counts_padding_and_avg_exc_pad_does_not():
    x = torch.ones(1, 1, 4, 4)
    avg = build_network(plan_of(image(4, 4, 1), {"average-pooling": [3, 1, 1]}))(x)[0, 0]
    exc = build_network(plan_of(image(4, 4, 1), {"max-pooling": [3, 1, 1, {"pool-op": "avg-exc-pad"}]}))(x)[0, 0]
    # a corner window holds 4 real pixels of 9, an edge window 6, an inner window 9
    assert avg[0, 0].item() == pytest.approx(4 / 9) and avg[0, 1].item() == pytest.approx(6 / 9)
    assert avg[1, 1].item() == pytest.approx(1.0)
    assert torch.allclose(exc, torch.ones(4, 4))
    # average-pooling without padding: plain means
    y = torch.arange(16.0).reshape(1, 1, 4, 4)
    means = build_network(plan_of(image(4, 4, 1), {"average-pooling": [2, 0, 2]}))(y)[0, 0]
    assert means.tolist() == [[2.5, 4.5], [10.5, 12.5]]


# ---- layer semantics ----------------------------------------------------------------------

def module_of(plan, index=-1):
    network = build_network(plan)
    return network, network.layers[plan.nodes[index].id.replace(".", "_")]


def test_dropout_takes_the_keep_probability():
    network, module = module_of(plan_of(vector(10), {"dropout": 0.9}))
    assert isinstance(module, nn.Dropout) and module.p == pytest.approx(0.1)
    torch.manual_seed(0)
    x = torch.ones(20_000, 10)
    network.train()
    out = network(x)
    dropped = (out == 0).float().mean().item()
    assert dropped == pytest.approx(0.1, abs=0.005)
    assert out[out != 0].unique().tolist() == [pytest.approx(1 / 0.9)]  # inverted dropout
    network.eval()
    assert torch.equal(network(x), x)
    assert module_of(plan_of(vector(10), {"dropout": 1}))[1].p == 0.0


def test_multiplicative_dropout_is_gaussian_noise_around_one_in_training_only():
    network, _ = module_of(plan_of(vector(10), {"multiplicative-dropout": 0.25}))
    torch.manual_seed(0)
    x = torch.ones(20_000, 10)
    network.train()
    out = network(x)
    assert out.mean().item() == pytest.approx(1.0, abs=0.01)
    assert out.var().item() == pytest.approx(0.25, rel=0.02)
    network.eval()
    assert torch.equal(network(x), x)


def test_batch_normalization_constants():
    _, vec = module_of(plan_of(vector(6), "batch-normalization"))
    _, img = module_of(plan_of(image(4, 4, 3), "batch-normalization"))
    assert isinstance(vec, nn.BatchNorm1d) and vec.num_features == 6
    assert isinstance(img, nn.BatchNorm2d) and img.num_features == 3
    for module in (vec, img):
        assert module.eps == 1e-4
        assert module.momentum == pytest.approx(0.1)  # Cortex: running = 0.9·running + 0.1·batch
    network, module = module_of(plan_of(vector(2), "batch-normalization"))
    network.train()
    network(torch.tensor([[1.0, 10.0], [3.0, 30.0]]))
    assert module.running_mean.tolist() == [pytest.approx(0.2), pytest.approx(2.0)]
    _, custom = module_of(plan_of(vector(2), {"batch-normalization": {"ave-factor": 0.99, "epsilon": 1e-5}}))
    assert custom.momentum == pytest.approx(0.01) and custom.eps == 1e-5


def test_local_response_normalization_defaults_and_values():
    _, module = module_of(plan_of(image(3, 3, 7), "local-response-normalization"))
    assert isinstance(module, nn.LocalResponseNorm)
    assert (module.k, module.size, module.alpha, module.beta) == (2.0, 5, 1e-4, 0.75)
    # b_c = a_c / (k + alpha/n · Σ_{|c'−c| ≤ n/2} a_c'²)^beta, worked out for one pixel
    network = build_network(plan_of(image(1, 1, 7), {"local-response-normalization": {"alpha": 0.5}}),
                            dtype=torch.float64)
    a = torch.arange(1.0, 8.0, dtype=torch.float64)
    out = network(a.reshape(1, 7, 1, 1)).flatten()
    for c in range(7):
        window = sum(a[j].item() ** 2 for j in range(max(0, c - 2), min(7, c + 3)))
        assert out[c].item() == pytest.approx(a[c].item() / (2 + 0.5 / 5 * window) ** 0.75, rel=1e-12)


def test_prelu_starts_at_a_quarter_per_channel():
    _, img = module_of(plan_of(image(4, 4, 3), "prelu"))
    _, vec = module_of(plan_of(vector(6), "prelu"))
    assert img.weight.tolist() == [0.25] * 3
    assert vec.weight.tolist() == [0.25] * 6
    network = build_network(plan_of(vector(3), "prelu"))
    assert network(torch.tensor([[-4.0, 0.0, 2.0]])).tolist() == [[-1.0, 0.0, 2.0]]


def test_activations_compute_what_their_names_say():
    x = torch.linspace(-3, 3, 12, dtype=torch.float64).reshape(2, 6)
    expected = {"relu": torch.relu(x), "logistic": torch.sigmoid(x), "sigmoid": torch.sigmoid(x),
                "tanh": torch.tanh(x), "swish": x * torch.sigmoid(x), "selu": F.selu(x),
                "softmax": torch.softmax(x, dim=1), "leaky-relu": F.leaky_relu(x, 0.01)}
    for name, value in expected.items():
        network = build_network(plan_of(vector(6), name), dtype=torch.float64)
        assert torch.allclose(network(x), value, atol=1e-15), name


def test_up_sampling_repeats_pixels():
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    out = build_network(plan_of(image(2, 2, 1), "up-sampling"))(x)
    assert out[0, 0].tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]


def test_global_average_pooling_flatten_reshape_concatenate_join_values():
    x = torch.arange(24.0).reshape(1, 2, 3, 4)
    assert build_network(plan_of(image(4, 3, 2), "global-average-pooling"))(x).tolist() == [[5.5, 17.5]]
    assert torch.equal(build_network(plan_of(image(4, 3, 2), "flatten"))(x), x.reshape(1, 24))
    assert torch.equal(build_network(plan_of(image(4, 3, 2), {"reshape": [24]}))(x), x.reshape(1, 24))
    two = plan_of(image(4, 3, 2), {"split": {"id": "s"}}, {"concatenate": {"parents": ["data", "s"]}})
    assert torch.equal(build_network(two)(x), torch.cat([x, x], dim=1))
    add = plan_of(image(4, 3, 2), {"split": {"id": "s"}}, {"join": {"parents": ["data", "s"]}})
    assert torch.equal(build_network(add)(x), 2 * x)
    times = plan_of(image(4, 3, 2), {"split": {"id": "s"}}, {"join": ["*", {"parents": ["data", "s"]}]})
    assert torch.equal(build_network(times)(x), x * x)


def test_separable_and_depthwise_structure():
    plan = plan_of(image(6, 6, 4), {"separable-convolutional": [3, 0, 1, 8]})
    _, module = module_of(plan)
    assert module.depthwise.groups == 4 and module.depthwise.bias is None
    assert tuple(module.depthwise.weight.shape) == (4, 1, 3, 3)
    assert tuple(module.pointwise.weight.shape) == (8, 4, 1, 1)
    assert count_parameters(plan)[plan.nodes[-1].id] == 3 * 3 * 4 + 4 * 8 + 8
    plan = plan_of(image(6, 6, 4), {"depthwise-convolutional": [3, 0, 1, 2]})
    _, module = module_of(plan)
    assert module.groups == 4 and tuple(module.weight.shape) == (8, 1, 3, 3)
    assert count_parameters(plan)[plan.nodes[-1].id] == 3 * 3 * 1 * 8 + 8


# ---- initialisation -----------------------------------------------------------------------

def weight_std(*layers, index=1):
    torch.manual_seed(0)
    plan = plan_of(*layers)
    network = build_network(plan)
    module = network.layers[plan.nodes[index].id]
    return module.weight.std().item(), module.bias


def test_he_initialisation_before_relu_xavier_otherwise():
    fan_in = 1000
    he, bias = weight_std(vector(fan_in), {"linear->relu": 1000})
    assert he == pytest.approx(math.sqrt(2 / fan_in), rel=0.01)
    assert torch.count_nonzero(bias) == 0
    xavier, bias = weight_std(vector(fan_in), {"linear->logistic": 1000})
    assert xavier == pytest.approx(math.sqrt(1 / fan_in), rel=0.01)
    assert torch.count_nonzero(bias) == 0
    for activation in ("swish", "prelu", "leaky-relu"):  # relu-like: He
        std, _ = weight_std(vector(fan_in), {"linear": 1000}, activation)
        assert std == pytest.approx(math.sqrt(2 / fan_in), rel=0.01), activation
    for activation in ("tanh", "softmax"):
        std, _ = weight_std(vector(fan_in), {"linear": 1000}, activation)
        assert std == pytest.approx(math.sqrt(1 / fan_in), rel=0.01), activation
    # a bare linear leaf: Xavier
    std, _ = weight_std(vector(fan_in), {"linear": 1000})
    assert std == pytest.approx(math.sqrt(1 / fan_in), rel=0.01)


def test_he_initialisation_looks_through_pooling_dropout_and_batch_norm():
    fan_in = 3 * 3 * 64
    for between in ({"max-pooling": [2, 0, 2]}, "batch-normalization", {"dropout": 0.5}):
        std, bias = weight_std(image(12, 12, 64), {"convolutional": [3, 0, 1, 256]}, between, "relu")
        assert std == pytest.approx(math.sqrt(2 / fan_in), rel=0.02), between
        assert torch.count_nonzero(bias) == 0
    std, _ = weight_std(image(12, 12, 64), {"convolutional": [3, 0, 1, 256]}, {"max-pooling": [2, 0, 2]})
    assert std == pytest.approx(math.sqrt(1 / fan_in), rel=0.02)


# ---- trainability -------------------------------------------------------------------------

def test_non_trainable_and_learning_attenuation():
    plan = plan_of(vector(4),
                   {"linear": {"output-size": 3, "non-trainable?": True}},
                   {"linear->relu": {"output-size": 3, "learning-attenuation": 0.5}},
                   {"linear": {"output-size": 3, "learning-attenuation": 0}},
                   {"linear": 2})
    network = build_network(plan)
    by_id = {n.id: n for n in plan.nodes}
    frozen = network.layers["linear-1"]
    assert not any(p.requires_grad for p in frozen.parameters())
    assert by_id["linear-2"].options == {"learning-attenuation": 0.5}  # on the weights, not the relu
    assert not any(p.requires_grad for p in network.layers["linear-3"].parameters())
    groups = network.parameter_groups()
    assert [scale for scale, _ in groups] == [1.0, 0.5]
    assert {id(p) for p in groups[0][1]} == {id(p) for p in network.layers["linear-4"].parameters()}
    assert {id(p) for p in groups[1][1]} == {id(p) for p in network.layers["linear-2"].parameters()}
    # frozen weights get no gradient
    network(torch.randn(5, 4)).sum().backward()
    assert frozen.weight.grad is None and network.layers["linear-4"].weight.grad is not None


# ---- activity penalties -------------------------------------------------------------------

def test_l1_and_l2_activity_penalty_values():
    plan = plan_of(vector(3),
                   {"linear->relu": {"output-size": 4, "id": "code", "l1-regularization": 0.01}},
                   {"linear": {"output-size": 2, "id": "out", "l2-regularization": True}})
    network = build_network(plan, dtype=torch.float64)
    x = torch.randn(5, 3, dtype=torch.float64)
    outputs, penalty = network.run(x)
    code = torch.relu(network.layers["linear-1"](x))
    expected = 0.01 * code.abs().sum(1).mean() + 0.001 * outputs["out"].pow(2).sum(1).mean()
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-12)
    assert plan.by_id["code"].options == {"l1-regularization": 0.01}  # on the relu, the code itself
    assert build_network(plan_of(vector(3), {"linear": 2})).run(x.float())[1] is None


# ---- losses -------------------------------------------------------------------------------

def test_loss_choice_follows_the_leaf():
    def leaf_loss_kind(*layers):
        plan = plan_of(*layers)
        return plan.loss(plan.leaves[0])
    assert leaf_loss_kind(vector(4), {"linear->softmax": 3}) == "cross-entropy"
    assert leaf_loss_kind(vector(4), {"linear": 3}, "softmax") == "cross-entropy"
    assert leaf_loss_kind(vector(4), {"linear->logistic": 3}) == "mse"
    assert leaf_loss_kind(vector(4), {"linear": 3}) == "mse"
    assert leaf_loss_kind(vector(4), {"linear->relu": 3}) == "mse"
    assert leaf_loss_kind(vector(4), {"linear->logistic": {"output-size": 3, "loss": "quadratic"}}) == "quadratic"
    assert leaf_loss_kind(vector(4), {"linear->softmax": {"output-size": 3, "loss": "mse"}}) == "mse"


def test_quadratic_is_half_the_summed_square_per_sample_averaged_over_the_batch():
    a = torch.tensor([[0.5, 0.25], [1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    # per sample ½Σ(a−y)²: ½(0.25 + 0.0625) = 0.15625, ½·1 = 0.5, ½·4 = 2; mean over 3
    assert leaf_loss("quadratic", a, y, False).item() == pytest.approx((0.15625 + 0.5 + 2) / 3, rel=1e-15)
    # mse: mean over every value
    assert leaf_loss("mse", a, y, False).item() == pytest.approx((0.25 + 0.0625 + 1 + 4) / 6, rel=1e-15)


def test_softmax_leaf_trains_on_logits_with_cross_entropy():
    plan = plan_of(vector(4), {"linear->softmax": {"output-size": 3, "id": "label"}})
    network = build_network(plan, dtype=torch.float64)
    x = torch.randn(6, 4, dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    logits = network.run(x, logits=True)[0]["label"]
    probabilities = network(x)
    assert torch.allclose(torch.softmax(logits, 1), probabilities, atol=1e-15)
    by_hand = -torch.log(probabilities[torch.arange(6), labels]).mean()
    assert leaf_loss("cross-entropy", logits, labels, True).item() == pytest.approx(by_hand.item(), rel=1e-12)
    assert leaf_loss("cross-entropy", probabilities, labels, False).item() == pytest.approx(by_hand.item(),
                                                                                           rel=1e-12)
    one_hot = F.one_hot(labels, 3).double()
    assert leaf_loss("cross-entropy", logits, one_hot, True).item() == pytest.approx(by_hand.item(), rel=1e-12)


# ---- argument forms -----------------------------------------------------------------------

def test_aliases_and_argument_forms_give_the_same_layer():
    forms = [
        {"convolutional": [5, 0, 1, 20]},
        {"conv": [5, 0, 1, 20]},
        ["convolutional", 5, 0, 1, 20],
        {"convolutional": {"kernel": 5, "pad": 0, "stride": 1, "num-kernels": 20}},
        {"convolutional": [5, {"num-kernels": 20}]},
    ]
    shapes = {tuple(planned(image(28, 28, 1), form)) for form in forms}
    assert shapes == {(20, 24, 24)}
    assert plan_of(vector(3), "sigmoid").nodes[-1].layer == "logistic"
    assert plan_of(image(3, 3, 3), "batch-norm").nodes[-1].layer == "batch-normalization"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_layers_run_on_cuda():
    for case in ("pool 5 k2 s2 pad 1", "avg-exc-pad pool", "same k4 s2 on 8", "separable same s2",
                 "batch-norm image", "lrn", "prelu image", "up-sampling 3 bilinear", "concatenate images"):
        description, expected = SHAPES[case]
        plan = plan_network(description)
        network = build_network(plan, device="cuda")
        x = torch.randn(3, *plan.inputs[0].out_shape.batch_dims(), device="cuda")
        out = network(x)
        assert out.device.type == "cuda" and list(out.shape) == [3, *expected], case
        cpu = build_network(plan)
        cpu.load_state_dict({k: v.cpu() for k, v in network.state_dict().items()})
        assert torch.allclose(cpu.eval()(x.cpu()), network.eval()(x).cpu(), atol=1e-4), case
