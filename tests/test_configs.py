"""Every shipped config checks, and its parameter count equals one worked out by hand."""
import json
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from nnrun.config.spec import load_spec

CONFIGS = ROOT / "configs"


def bn(channels):
    """batch-normalization's parameters: a scale and a shift per channel (running stats are buffers)."""
    return 2 * channels


def separable(channels, kernels, kernel=3):
    """depthwise k×k per input channel (no bias), then pointwise 1×1 with bias."""
    return kernel * kernel * channels + channels * kernels + kernels


# Worked out by hand: conv = k·k·in·out + out, linear = in·out + out.
EXPECTED = {
    "fraud.yaml": (29 * 20 + 20) + (20 * 10 + 10) + (10 * 2 + 2),
    "fraud-cortex.edn": (29 * 20 + 20) + (20 * 10 + 10) + (10 * 2 + 2),
    "fraud-sweep.yaml": (29 * 20 + 20) + (20 * 10 + 10) + (10 * 2 + 2),  # fraud.yaml's network, swept
    # 28 -conv5-> 24 -pool2-> 12 -conv5-> 8 -pool2-> 4; 4·4·50 = 800 features
    "mnist-conv.yaml": (5 * 5 * 1 * 20 + 20) + (5 * 5 * 20 * 50 + 50) + (1 * 1 * 50 * 50 + 50)
                       + (4 * 4 * 50 * 1000 + 1000) + (1000 * 10 + 10),
    "mnist-conv.edn": (5 * 5 * 1 * 20 + 20) + (5 * 5 * 20 * 50 + 50) + (1 * 1 * 50 * 50 + 50)
                      + (4 * 4 * 50 * 1000 + 1000) + (1000 * 10 + 10),
    # 52 -conv5-> 48 -pool2-> 24 -conv5-> 20 -pool2-> 10; 10·10·50 = 5000 features
    "catsdogs.yaml": (5 * 5 * 3 * 20 + 20) + (5 * 5 * 20 * 50 + 50) + (1 * 1 * 50 * 50 + 50)
                     + (10 * 10 * 50 * 1000 + 1000) + (1000 * 2 + 2),
    "nielsen.yaml": (784 * 30 + 30) + (30 * 10 + 10),
    "autoencoder-vanilla.yaml": (784 * 64 + 64) + (64 * 784 + 784),
    "autoencoder-sparse.yaml": (784 * 64 + 64) + (64 * 784 + 784),
    "autoencoder-multilayer.yaml": (784 * 256 + 256) + (256 * 64 + 64) + (64 * 256 + 256) + (256 * 784 + 784),
    "autoencoder-conv.yaml": (3 * 3 * 1 * 16 + 16) + (3 * 3 * 16 * 8 + 8) + (3 * 3 * 8 * 8 + 8)
                             + (3 * 3 * 8 * 16 + 16) + (3 * 3 * 16 * 1 + 1),
    "autoencoder-denoising.yaml": (3 * 3 * 1 * 32 + 32) + 3 * (3 * 3 * 32 * 32 + 32) + (3 * 3 * 32 * 1 + 1),
    "resnet.yaml": (3 * 3 * 1 * 16 + 16) + bn(16)                                       # stem
                   + 2 * ((3 * 3 * 16 * 16 + 16) + bn(16))                              # block 1
                   + (3 * 3 * 16 * 32 + 32) + bn(32) + (3 * 3 * 32 * 32 + 32) + bn(32)  # block 2
                   + (1 * 1 * 16 * 32 + 32) + bn(32)                                    # its shortcut
                   + 2 * ((3 * 3 * 32 * 32 + 32) + bn(32))                              # block 3
                   + (32 * 10 + 10),
    "inception.yaml": (3 * 3 * 1 * 32 + 32)
                      # module 1 on 32 channels: 1×1 16 | 1×1 16, 3×3 24 | 1×1 4, 5×5 8 | pool, 1×1 8
                      + (32 * 16 + 16) + (32 * 16 + 16) + (3 * 3 * 16 * 24 + 24)
                      + (32 * 4 + 4) + (5 * 5 * 4 * 8 + 8) + (32 * 8 + 8)
                      # module 2 on 16+24+8+8 = 56 channels: 32 | 32, 48 | 8, 16 | 16
                      + (56 * 32 + 32) + (56 * 32 + 32) + (3 * 3 * 32 * 48 + 48)
                      + (56 * 8 + 8) + (5 * 5 * 8 * 16 + 16) + (56 * 16 + 16)
                      + (112 * 10 + 10),
    "xception.yaml": (3 * 3 * 3 * 32 + 32) + bn(32)
                     + separable(32, 64) + bn(64) + separable(64, 64) + bn(64)   # entry block
                     + (1 * 1 * 32 * 64 + 64) + bn(64)                           # its shortcut
                     + 2 * (separable(64, 64) + bn(64))                          # middle block
                     + separable(64, 128) + bn(128) + separable(128, 128) + bn(128)  # exit block
                     + (1 * 1 * 64 * 128 + 128) + bn(128)                        # its shortcut
                     + (128 * 2 + 2),
    # width auto: counted on the datasets of AUTO_INPUT (29 features; 64×64×3 images)
    # per number: 16 frequencies, a (32 -> 16) map and its bias; then 29·16 -> 256 -> 256 -> 2
    "tabular.yaml": 29 * (16 + 32 * 16 + 16) + (29 * 16 * 256 + 256) + (256 * 256 + 256) + (256 * 2 + 2),
    "resnet-catsdogs.yaml": (3 * 3 * 3 * 24 + 24) + bn(24)                              # stem, stride 2
                            + 2 * ((3 * 3 * 24 * 24 + 24) + bn(24))                      # block 1
                            + (3 * 3 * 24 * 48 + 48) + bn(48) + (3 * 3 * 48 * 48 + 48) + bn(48)
                            + (1 * 1 * 24 * 48 + 48) + bn(48)                            # block 2
                            + (3 * 3 * 48 * 96 + 96) + bn(96) + (3 * 3 * 96 * 96 + 96) + bn(96)
                            + (1 * 1 * 48 * 96 + 96) + bn(96)                            # block 3
                            + (96 * 2 + 2),
}
# Configs whose input width is auto (the dataset's): checked against a small dataset of that shape.
AUTO_INPUT = {"tabular.yaml": ("table", 29), "resnet-catsdogs.yaml": ("images", 64)}


def auto_data(name, folder):
    """`--set data=FOLDER` for a config of AUTO_INPUT (a small dataset of its shape), else nothing."""
    from train_fixtures import bars, blobs

    if name not in AUTO_INPUT:
        return []
    kind, size = AUTO_INPUT[name]
    data = blobs(folder, n=(20, 10, 10), features=size) if kind == "table" else \
        bars(folder, n=(6, 3, 3), size=size, channels=3)
    return ["--set", f"data={data}"]

SHIPPED = sorted(p.name for p in CONFIGS.iterdir() if p.suffix in (".yaml", ".yml", ".edn"))


def test_every_network_of_the_source_material_is_shipped():
    assert len(SHIPPED) >= 13
    assert set(EXPECTED) == set(SHIPPED), "a config without a hand-worked count, or a count without a config"
    assert any(name.endswith(".edn") for name in SHIPPED)
    assert list(CONFIGS.glob("*catsdogs*.yaml")), "the acceptance script looks for configs/*catsdogs*.yaml"


@pytest.mark.parametrize("name", SHIPPED)
def test_config_checks_with_the_hand_worked_parameter_count(name, tmp_path):
    data = auto_data(name, tmp_path / "data")
    result = run_cli("check", CONFIGS / name, *data)
    assert result.code == 0, result
    assert f"total parameters: {EXPECTED[name]:,} ({EXPECTED[name]:,} trainable)" in result.stdout

    result = run_cli("check", CONFIGS / name, "--format", "json", *data)
    assert result.code == 0, result
    report = json.loads(result.stdout)
    assert report["name"] == Path(name).stem
    assert report["total-parameters"] == EXPECTED[name]
    assert report["trainable-parameters"] == EXPECTED[name]
    assert sum(layer["parameters"] for layer in report["layers"]) == EXPECTED[name]
    assert report["layers"][0]["layer"] == "input" and report["layers"][0]["parents"] == []
    for layer in report["layers"]:
        assert set(layer) == {"index", "id", "layer", "parents", "output-shape", "parameters"}


@pytest.mark.parametrize("name", SHIPPED)
def test_config_header_says_what_it_is_and_how_to_prepare_its_data(name):
    lines = (CONFIGS / name).read_text(encoding="utf-8").splitlines()
    comment = ";" if name.endswith(".edn") else "#"
    header = []
    for line in lines:
        if not line.startswith(comment):
            break
        header.append(line)
    assert len(header) >= 2, "a header comment says what the config is"
    assert any("nnrun prepare " in line for line in header)


def spec(name):
    return load_spec(CONFIGS / name, unresolved_ok=True)  # (an auto input's plan waits for data)


def output_of(name):
    plan = spec(name).plan
    return [leaf.out_shape.to_list() for leaf in plan.leaves]


def test_image_classifiers_end_in_a_softmax_of_their_classes():
    for name, classes in (("mnist-conv.yaml", 10), ("mnist-conv.edn", 10), ("catsdogs.yaml", 2),
                          ("resnet.yaml", 10), ("inception.yaml", 10), ("xception.yaml", 2),
                          ("nielsen.yaml", 10)):
        plan = spec(name).plan
        assert output_of(name) == [[classes]], name
        assert plan.leaves[0].id == "label", name


def test_mnist_conv_shapes_follow_cortex_rounding():
    shapes = [node.out_shape.to_list() for node in spec("mnist-conv.yaml").plan.nodes]
    assert shapes[:9] == [[1, 28, 28], [20, 24, 24], [20, 12, 12], [20, 12, 12], [50, 8, 8], [50, 4, 4],
                          [50, 4, 4], [50, 4, 4], [50, 4, 4]]
    train = spec("mnist-conv.yaml").train
    assert train["optimizer"]["type"] == "adam" and train["batch-size"] == 128


def test_catsdogs_trains_with_the_write_up_augmentation():
    s = spec("catsdogs.yaml")
    assert s.plan.inputs[0].out_shape.to_list() == [3, 52, 52]
    names = [item["name"] for item in s.train["augmentation"]]
    assert names == ["rotation", "mirror", "pixel-noise"]
    assert s.train["augmentation"][0]["degrees"] == 25
    assert s.train["augmentation"][2]["fraction"] == 0.25


def test_nielsen_is_the_from_scratch_network():
    s = spec("nielsen.yaml")
    assert [n.layer for n in s.plan.nodes] == ["input", "linear", "logistic", "linear", "logistic"]
    assert s.plan.loss(s.plan.leaves[0]) == "quadratic"
    assert s.train["optimizer"] == {"type": "sgd", "learning-rate": 3.0, "momentum": 0.0, "nesterov": False,
                                    "weight-decay": 0.0}
    assert (s.train["batch-size"], s.train["epoch-count"], s.train["sampling"]) == (10, 1, "shuffle")
    assert s.data["preprocessing"] == "unit"


@pytest.mark.parametrize("name", [n for n in EXPECTED if n.startswith("autoencoder")])
def test_autoencoders_reconstruct_their_input(name):
    s = spec(name)
    (leaf,) = s.plan.leaves
    (data,) = s.plan.inputs
    assert s.plan.target(leaf) == data.id == "data"
    assert leaf.out_shape.size == data.out_shape.size == 784
    assert s.plan.loss(leaf) == "mse"
    assert s.train["metric"]["name"] == "loss"
    assert s.data["preprocessing"] == "unit"  # a logistic output can reach [0, 1), not [−0.5, 0.5]


def test_autoencoder_variants():
    assert output_of("autoencoder-conv.yaml") == [[1, 28, 28]]
    assert spec("autoencoder-conv.yaml").plan.by_id["code"].out_shape.to_list() == [8, 7, 7]
    assert spec("autoencoder-sparse.yaml").plan.by_id["code"].options["l1-regularization"] == 0.0001
    assert spec("autoencoder-denoising.yaml").train["augmentation"] == [
        {"name": "input-noise", "std": 0.5, "fraction": 0.0}]
    widths = [n.out_shape.size for n in spec("autoencoder-multilayer.yaml").plan.nodes if n.layer == "linear"]
    assert widths == [256, 64, 256, 784]


def test_graph_configs_use_ids_and_parents():
    resnet = spec("resnet.yaml").plan
    assert [n.layer for n in resnet.nodes].count("join") == 3
    assert [n.layer for n in resnet.nodes].count("split") == 3
    assert len(resnet.by_id["block1-in"].children) == 2
    inception = spec("inception.yaml").plan
    assert inception.by_id["m1"].out_shape.to_list() == [16 + 24 + 8 + 8, 14, 14]
    assert inception.by_id["m2"].out_shape.to_list() == [32 + 48 + 16 + 16, 7, 7]
    assert len(inception.by_id["stem"].children) == 4
    xception = spec("xception.yaml").plan
    layers = [n.layer for n in xception.nodes]
    assert layers.count("separable-convolutional") == 6 and layers.count("join") == 3
    assert "global-average-pooling" in layers


def test_configs_name_a_conventional_data_folder():
    for name in EXPECTED:
        path = spec(name).data["path"]
        if name == "fraud-cortex.edn":
            assert path is None  # a bare pasted vector: --set data=PATH
        else:
            assert path.startswith("data/"), name
