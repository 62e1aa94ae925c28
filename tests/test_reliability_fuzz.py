"""Fuzzing the readers of what users and strangers hand nnrun: config files (YAML and EDN), CSV
tables, model files and dataset manifests. Whatever the input, a reader either succeeds or
raises UserError; any other exception is a crash, a bug.

The default run is a few dozen cases per reader (seconds). NNRUN_FUZZ_EXAMPLES=2500 runs that
many per test (over 10,000 in all) for a slow, thorough run.
"""
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from nnrun.errors import UserError  # noqa: E402
from train_fixtures import write_dataset  # noqa: E402

EXAMPLES = int(os.environ.get("NNRUN_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 40, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# plain data as configs, manifests and payloads hold it, numbers at their extremes included
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                    st.sampled_from(["input", "linear", "relu", "softmax", "linear->softmax", "id", "data",
                                     "same", "adam", "auto", "standardize", "images", "table"]))
plain = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)


def _accepts_or_refuses(read, *args):
    """Run a reader: success and UserError are fine, anything else fails the test."""
    try:
        read(*args)
    except UserError as mistake:
        assert str(mistake).strip(), "an empty message"


@pytest.fixture(scope="module")
def scratch():
    folder = Path(tempfile.mkdtemp(prefix="nnrun-fuzz-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


# ---- configs

YAML_PIECES = st.sampled_from(["network:", "\n", "  - ", "input: ", "{width: 4}", "linear->softmax: 2", "[", "]",
                               "{", "}", ": ", ", ", "&a ", "*a", "!!python/object:os.system", ".nan", ".inf",
                               "1e999", "99999999999999999999", "-1", "'", '"', "#", "?", "train:", " seed: ",
                               "data: ", "\t", "---", "...", "|", ">"])
EDN_PIECES = st.sampled_from(["[", "]", "(", ")", "{", "}", "(input 4)", "(linear->softmax 2)", ":network", ":id",
                              ":data", "##NaN", "##Inf", "1e400", "100000000000000000000N", "1.5M", "#{1 2}",
                              "#inst \"2020\"", "#uuid \"x\"", "\\a", "\"", ";", "#_", "nil", "true", " ", "\n",
                              "(def net ", "layers/relu", "#tag 1", "'"])


def _check_config(scratch, name, text):
    from nnrun.config.spec import load_spec

    path = scratch / name
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    _accepts_or_refuses(load_spec, path)


@FUZZ
@given(st.lists(YAML_PIECES, max_size=30).map("".join))
def test_fuzz_yaml_text(scratch, text):
    _check_config(scratch, "c.yaml", text)


@FUZZ
@given(st.dictionaries(st.sampled_from(["network", "data", "train", "name", "description", "sweep?"]), plain,
                       max_size=4))
def test_fuzz_yaml_structure(scratch, data):
    import yaml

    data.setdefault("network", [{"input": 4}, {"linear->softmax": 2}])
    _check_config(scratch, "c.yaml", yaml.safe_dump(data))


@FUZZ
@given(st.lists(EDN_PIECES, max_size=30).map("".join))
def test_fuzz_edn_text(scratch, text):
    _check_config(scratch, "c.edn", text)


@FUZZ
@given(plain)
def test_fuzz_network_descriptions(layers):
    from nnrun.network.plan import plan_network

    description = [{"input": 4}] + (layers if isinstance(layers, list) else [layers])
    _accepts_or_refuses(plan_network, description)


# ---- CSV tables

CSV_CELLS = st.one_of(st.sampled_from(["1", "0", "-2.5", "1e39", "1e308", "nan", "inf", "", " ", "x", "label",
                                       '"', '"a,b"', "\x00", "é", "\r"]),
                      st.text(max_size=5))


@FUZZ
@given(header=st.lists(CSV_CELLS, min_size=1, max_size=4),
       rows=st.lists(st.lists(CSV_CELLS, max_size=5), max_size=8),
       compression=st.sampled_from(["", ".gz", ".zip"]))
def test_fuzz_csv_tables(scratch, header, rows, compression):
    import gzip
    import zipfile

    from nnrun.data.prepare.csv import CsvOptions, prepare_csv

    text = "\n".join(",".join(row) for row in [header] + rows)
    path = scratch / f"t.csv{compression}"
    data = text.encode("utf-8", errors="surrogateescape")
    if compression == ".gz":
        path.write_bytes(gzip.compress(data))
    elif compression == ".zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("t.csv", data)
    else:
        path.write_bytes(data)
    out = scratch / "out"
    shutil.rmtree(out, ignore_errors=True)
    options = CsvOptions(label=header[-1], test_size=1, seed=0)
    _accepts_or_refuses(lambda: prepare_csv(path, out, options, command="fuzz", force=True, quiet=True))
    assert not (scratch / "out.partial").exists()


# ---- model files

@pytest.fixture(scope="module")
def model_payload(scratch):
    from nnrun.checkpoint import read_checkpoint
    from nnrun.data.preprocess import Preprocessing
    from nnrun.model_io import save_model
    from nnrun.network.build import build_network
    from nnrun.network.plan import plan_network

    path = scratch / "model.nnrun"
    plan = plan_network([{"input": {"width": 3, "id": "data"}}, {"linear->softmax": {"output-size": 2, "id": "y"}}])
    save_model(path, build_network(plan), classes=["a", "b"], positive="b", threshold=0.5,
               preprocessing=Preprocessing("table", "standardize", [0.0] * 3, [1.0] * 3, ["f1", "f2", "f3"]),
               graph=False)
    return read_checkpoint(path, arrays="numpy")


FIELDS = [("classes",), ("positive",), ("threshold",), ("epoch",), ("train",), ("metrics",), ("dataset",),
          ("network",), ("network", 0), ("network", 1), ("tensors",), ("onnx",), ("kind",), ("preprocessing",),
          ("preprocessing", "kind"), ("preprocessing", "mode"), ("preprocessing", "mean"), ("preprocessing", "std"),
          ("preprocessing", "features"), ("preprocessing", "image-size"), ("preprocessing", "channels")]


@FUZZ
@given(field=st.sampled_from(FIELDS), value=plain)
def test_fuzz_model_file_contents(scratch, model_payload, field, value):
    import copy

    from nnrun.checkpoint import write_checkpoint
    from nnrun.data.preprocess import Preprocessing
    from nnrun.model_io import read_model

    payload = copy.deepcopy(model_payload)
    node = payload
    for key in field[:-1]:
        node = node[key]
    node[field[-1]] = value
    path = scratch / "fuzzed.nnrun"
    try:
        write_checkpoint(path, payload)
    except ValueError:  # the writer refuses integers beyond 64 bits: no file of that kind exists
        hypothesis.assume(False)

    def read_and_use():
        model = read_model(path)
        Preprocessing.from_dict(model["preprocessing"]).scale_and_shift()

    _accepts_or_refuses(read_and_use)


@FUZZ
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=400))
def test_fuzz_model_file_bytes(scratch, model_payload, junk, at):
    """Bytes spliced into a real model file, or a file of junk alone."""
    from nnrun.checkpoint import write_checkpoint
    from nnrun.model_io import read_model

    path = scratch / "spliced.nnrun"
    write_checkpoint(path, model_payload)
    data = path.read_bytes()
    path.write_bytes(data[:at] + junk + data[at + len(junk):] if at else junk)
    _accepts_or_refuses(read_model, path)


# ---- dataset manifests

@pytest.fixture(scope="module")
def dataset(scratch):
    rng = np.random.default_rng(0)
    splits = {name: (rng.normal(size=(n, 3)).astype(np.float32), np.arange(n) % 2) for name, n in (("train", 6), ("test", 4))}
    return write_dataset(scratch / "data", "table", splits, ["no", "yes"], features=["a", "b", "c"])


MANIFEST_FIELDS = [("classes",), ("kind",), ("features",), ("normalisation",), ("normalisation", "mean"),
                   ("normalisation", "std"), ("splits",), ("splits", "test"), ("splits", "test", "count"),
                   ("splits", "test", "x"), ("splits", "test", "y"), ("splits", "test", "class-counts"),
                   ("labelled",), ("image",), ("version",), ("format",)]


@FUZZ
@given(field=st.sampled_from(MANIFEST_FIELDS), value=plain, ids=plain)
def test_fuzz_dataset_manifest(dataset, field, value, ids):
    from nnrun.data.dataset import open_dataset

    original = (dataset / "dataset.json").read_text()
    manifest = json.loads(original)
    node = manifest
    for key in field[:-1]:
        node = node[key]
    node[field[-1]] = value
    if isinstance(manifest.get("splits"), dict) and isinstance(manifest["splits"].get("train"), dict):
        manifest["splits"]["train"]["ids"] = "train.ids.json"
    (dataset / "train.ids.json").write_text(json.dumps(ids))
    try:
        (dataset / "dataset.json").write_text(json.dumps(manifest))

        def open_and_use():
            data = open_dataset(dataset)
            for split in data.split_names:
                data.count(split), data.class_counts(split), data.x(split)
                if data.labelled:
                    data.y(split)
            data.normalisation, data.features, data.image, data.classes
            if data.has_split("train"):
                data.ids("train")

        _accepts_or_refuses(open_and_use)
    finally:
        (dataset / "dataset.json").write_text(original)
