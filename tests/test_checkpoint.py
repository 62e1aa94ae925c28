"""The checkpoint codec: bit-exact round trips, atomic writes, a UserError for every bad file."""
import hashlib
import json
import math
import os
import pickle
import time
from pathlib import Path

import msgpack
import numpy as np
import pytest
import torch
from torch import nn

from nnrun import checkpoint as ckpt
from nnrun.checkpoint import is_checkpoint, read_checkpoint, write_checkpoint
from nnrun.errors import UserError


def bits(t):
    """The raw bytes of a tensor, so NaN payloads and -0.0 compare exactly."""
    return t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def assert_same_tensor(a, b):
    assert isinstance(b, torch.Tensor)
    assert a.dtype == b.dtype
    assert a.shape == b.shape
    assert b.device.type == "cpu"
    assert bits(a.detach().cpu().resolve_conj().resolve_neg()) == bits(b)


def random_tensor(dtype, shape, gen):
    """A tensor whose bytes are random: every bit pattern, NaNs and all."""
    n = math.prod(shape) * dtype.itemsize
    raw = torch.randint(0, 256, (n,), dtype=torch.uint8, generator=gen)
    return raw.view(dtype).reshape(shape)


def craft(path, body, *, version=1, checksum=None, fmt="nnrun-checkpoint"):
    """A file laid out like a checkpoint around any payload bytes (right checksum by default)."""
    outer = {"format": fmt, "version": version, "payload": body,
             "sha256": checksum if checksum is not None else hashlib.sha256(body).hexdigest()}
    path.write_bytes(msgpack.packb(outer, use_bin_type=True))
    return path


def tensor_ext(dtype_name, shape, data, code=ckpt.EXT_TORCH):
    return msgpack.ExtType(code, msgpack.packb([dtype_name, shape]) + data)


def assert_user_error(path, match=None, **kwargs):
    with pytest.raises(UserError) as info:
        read_checkpoint(path, **kwargs)
    message = str(info.value)
    assert str(path) in message, message
    assert "\n" not in message, message
    if match is not None:
        assert match in message, message
    return message


def temp_files(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".partial"))]


# ------------------------------------------------------------------------------------ round trips

def test_every_torch_dtype_round_trips_bit_exact(tmp_path):
    gen = torch.Generator().manual_seed(0)
    payload = {}
    for name, dtype in ckpt._torch_dtypes().items():
        payload[name] = {
            "random": random_tensor(dtype, (3, 5), gen),
            "scalar": random_tensor(dtype, (), gen),
            "empty": torch.empty((0, 4), dtype=dtype),
            "one": random_tensor(dtype, (1,), gen),
        }
    for name in ("float32", "float16", "bfloat16", "bool", "int64", "uint8"):
        payload[name]["values"] = (torch.arange(-6, 6) % 3).to(getattr(torch, name))
    path = tmp_path / "all.nnrun"
    write_checkpoint(path, payload)
    back = read_checkpoint(path)
    assert set(back) == set(payload)
    for name, group in payload.items():
        assert set(back[name]) == set(group)
        for key, tensor in group.items():
            assert_same_tensor(tensor, back[name][key])
        if "values" in group:
            assert torch.equal(back[name]["values"], group["values"])
    # every dtype we promise is there
    for name in ("float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8",
                 "uint8", "bool", "complex64", "complex128"):
        assert name in ckpt._torch_dtypes()


def test_decoded_tensors_are_writable_and_independent(tmp_path):
    path = tmp_path / "w.nnrun"
    write_checkpoint(path, {"a": torch.zeros(3), "b": np.zeros(3)})
    back = read_checkpoint(path)
    back["a"] += 1
    back["b"] += 1
    assert back["a"].tolist() == [1.0, 1.0, 1.0]
    assert back["b"].tolist() == [1.0, 1.0, 1.0]


def test_non_contiguous_and_view_tensors(tmp_path):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    z = torch.randn(5, dtype=torch.complex64)
    payload = {
        "transposed": base.t(),
        "strided": base[:, ::2],
        "offset": base[2:, 1:4],
        "expanded": torch.tensor([1.5, -2.0]).expand(3, 2),
        "conj": z.conj(),
        "neg_view": torch.randn(4, dtype=torch.complex64).conj().imag,
        "param": nn.Parameter(torch.randn(2, 3)),
        "grad": torch.randn(3, requires_grad=True) * 2,
        "bf16_t": torch.randn(3, 4).to(torch.bfloat16).t(),
    }
    path = tmp_path / "views.nnrun"
    write_checkpoint(path, payload)
    back = read_checkpoint(path)
    for key, tensor in payload.items():
        assert_same_tensor(tensor, back[key])
        assert torch.equal(back[key], tensor.detach().resolve_conj().resolve_neg())
        assert back[key].is_contiguous()
        assert not back[key].requires_grad
    assert torch.equal(back["conj"], z.conj().resolve_conj())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_tensors_come_back_on_cpu(tmp_path):
    t = torch.randn(4, 4, device="cuda").to(torch.bfloat16)
    path = tmp_path / "cuda.nnrun"
    write_checkpoint(path, {"t": t})
    assert_same_tensor(t.cpu(), read_checkpoint(path)["t"])


def test_numpy_arrays_round_trip_as_numpy(tmp_path):
    rng = np.random.default_rng(0)
    payload = {name: rng.integers(0, 256, size=96, dtype=np.uint8).view(dtype).reshape(2, -1)
               for name, dtype in ckpt._NUMPY_DTYPES.items()}
    payload["bool"] = rng.integers(0, 2, size=(3, 2)).astype(bool)
    payload["big_endian"] = np.arange(6, dtype=">f4").reshape(2, 3)
    payload["fortran"] = np.asfortranarray(np.arange(12, dtype=np.int64).reshape(3, 4))
    payload["strided"] = np.arange(20, dtype=np.float64)[::3]
    payload["scalar"] = np.array(2.5, dtype=np.float32)
    payload["empty"] = np.empty((0, 3), dtype=np.int16)
    path = tmp_path / "np.nnrun"
    write_checkpoint(path, payload)
    back = read_checkpoint(path)
    for key, array in payload.items():
        got = back[key]
        assert isinstance(got, np.ndarray), key
        assert got.shape == array.shape, key
        assert got.dtype == array.dtype.newbyteorder("="), key
        assert got.tobytes() == np.ascontiguousarray(array, dtype=got.dtype).tobytes(), key
    assert back["big_endian"].tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]


def test_nested_plain_data(tmp_path):
    payload = {
        "name": "résumé ✓", "n": -3, "big": 2**63 - 1, "ubig": 2**64 - 1, "neg": -(2**63),
        "x": 0.1, "inf": float("inf"), "nan": float("nan"), "yes": True, "no": False,
        "none": None, "blob": b"\x00\xff raw", "ba": bytearray(b"xy"),
        "list": [1, "two", [3.0, None], {"k": [b"v"]}], "tuple": (1, (2, 3)),
        "int_keys": {0: "a", 1: {2: torch.ones(2)}, -5: []},
        "empty": {}, "empty_list": [],
        "np_scalars": {"f32": np.float32(1.5), "i64": np.int64(7), "b": np.bool_(True)},
    }
    path = tmp_path / "nested.nnrun"
    write_checkpoint(path, payload)
    back = read_checkpoint(path)
    assert math.isnan(back.pop("nan"))
    assert back["list"] == [1, "two", [3.0, None], {"k": [b"v"]}]
    assert back["tuple"] == [1, [2, 3]]  # tuples come back as lists
    assert back["ba"] == b"xy"
    assert back["int_keys"][0] == "a" and back["int_keys"][-5] == []
    assert set(back["int_keys"]) == {0, 1, -5}
    assert torch.equal(back["int_keys"][1][2], torch.ones(2))
    assert back["np_scalars"] == {"f32": 1.5, "i64": 7, "b": True}
    assert type(back["np_scalars"]["i64"]) is int and type(back["np_scalars"]["b"]) is bool
    for key in ("name", "n", "big", "ubig", "neg", "x", "inf", "yes", "no", "none", "blob",
                "empty", "empty_list"):
        assert back[key] == payload[key] and type(back[key]) is type(payload[key]), key


def test_optimizer_state_round_trips_and_resumes_identically(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, betas=(0.8, 0.95), weight_decay=1e-3)
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))

    def step(m, o):
        o.zero_grad()
        nn.functional.cross_entropy(m(x), y).backward()
        o.step()

    for _ in range(3):
        step(model, opt)
    state = opt.state_dict()
    assert all(isinstance(k, int) for k in state["state"])
    path = tmp_path / "last.nnrun"
    write_checkpoint(path, {"model": model.state_dict(), "optimizer": state, "epoch": 3})
    back = read_checkpoint(path)
    assert set(back["optimizer"]["state"]) == set(state["state"])
    for k, s in state["state"].items():
        for name, value in s.items():
            assert_same_tensor(value, back["optimizer"]["state"][k][name])

    model2 = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    model2.load_state_dict(back["model"])
    opt2 = torch.optim.Adam(model2.parameters(), lr=0.5)
    opt2.load_state_dict(back["optimizer"])
    for _ in range(2):
        step(model, opt)
        step(model2, opt2)
    for p, q in zip(model.parameters(), model2.parameters()):
        assert torch.equal(p, q)


def test_model_state_dict_gives_bit_identical_outputs(tmp_path):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 6 * 6, 2))
    model.train()
    model(torch.randn(5, 3, 8, 8))  # move the BatchNorm running statistics
    model.eval()
    path = tmp_path / "best.nnrun"
    write_checkpoint(path, {"tensors": model.state_dict()})
    back = read_checkpoint(path)["tensors"]
    assert back["1.num_batches_tracked"].dtype == torch.int64
    clone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 6 * 6, 2))
    clone.load_state_dict(back)
    clone.eval()
    x = torch.randn(7, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(model(x), clone(x))


def test_file_layout_is_one_msgpack_map(tmp_path):
    path = tmp_path / "layout.nnrun"
    write_checkpoint(path, {"a": 1})
    outer = msgpack.unpackb(path.read_bytes(), raw=False)
    assert list(outer) == ["format", "version", "payload", "sha256"]
    assert outer["format"] == "nnrun-checkpoint" and outer["version"] == 1
    assert outer["sha256"] == hashlib.sha256(outer["payload"]).hexdigest()
    assert msgpack.unpackb(outer["payload"], raw=False) == {"a": 1}
    assert is_checkpoint(path)
    # large payloads use bin32 and still parse as one map
    write_checkpoint(path, {"big": torch.zeros(20000)})
    assert read_checkpoint(path)["big"].shape == (20000,)


def test_streamed_encoding_is_standard_msgpack(tmp_path):
    """The hand-streamed payload is byte-for-byte what msgpack itself would write."""
    tensors = {f"t{n}": torch.arange(n, dtype=torch.uint8) for n in (0, 1, 5, 13, 200, 70000)}
    payload = {"a": [1, -2, 3.5, None, True, "s" * 300, b"b" * 70000], 7: tensors,
               "n": np.arange(3, dtype=np.int16)}
    expected = {"a": payload["a"], 7: {k: tensor_ext("uint8", [len(t)], bytes(t.tolist()))
                                      for k, t in tensors.items()},
                "n": tensor_ext("int16", [3], b"\x00\x00\x01\x00\x02\x00", ckpt.EXT_NUMPY)}
    path = tmp_path / "std.nnrun"
    write_checkpoint(path, payload)
    outer = msgpack.unpackb(path.read_bytes(), raw=False, strict_map_key=False)
    assert outer["payload"] == msgpack.packb(expected, use_bin_type=True)
    for n in (0, 1, 2, 3, 4, 8, 16, 17, 255, 256, 65535, 65536):
        assert ckpt._bin_header(n) + b"x" * n == msgpack.packb(b"x" * n, use_bin_type=True)
        if n:
            assert ckpt._ext_header(5, n) + b"x" * n == msgpack.packb(msgpack.ExtType(5, b"x" * n))


def test_is_checkpoint(tmp_path):
    (tmp_path / "x.json").write_text("{}")
    (tmp_path / "empty").write_bytes(b"")
    assert not is_checkpoint(tmp_path / "x.json")
    assert not is_checkpoint(tmp_path / "empty")
    assert not is_checkpoint(tmp_path / "missing")
    assert not is_checkpoint(tmp_path)


# ---------------------------------------------------------------------------------------- writing

def test_failed_write_leaves_previous_file_and_no_temp(tmp_path):
    path = tmp_path / "model.nnrun"
    write_checkpoint(path, {"epoch": 1, "w": torch.ones(3)})
    before = path.read_bytes()
    for bad, error in [({"f": lambda: 0}, TypeError),
                       ({"deep": [{"x": object()}]}, TypeError),
                       ({(1, 2): "tuple key"}, TypeError),
                       ({1.5: "float key"}, TypeError),
                       ({"big": 2**64}, ValueError),
                       ({"t": torch.zeros(2, device="meta")}, TypeError),
                       ({"s": torch.zeros(3).to_sparse()}, TypeError),
                       ({"o": np.array([object()])}, TypeError)]:
        with pytest.raises(error):
            write_checkpoint(path, bad)
        assert path.read_bytes() == before
        assert temp_files(tmp_path) == []
    with pytest.raises(TypeError, match=r"payload\['deep'\]\[0\]\['x'\]"):
        write_checkpoint(path, {"deep": [{"x": object()}]})
    with pytest.raises(TypeError):
        write_checkpoint(path, [1, 2])
    assert read_checkpoint(path)["epoch"] == 1


def test_failure_during_disk_write_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "model.nnrun"
    write_checkpoint(path, {"epoch": 1})
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ckpt.os, "fsync", broken_fsync)
    with pytest.raises(UserError, match="No space left"):
        write_checkpoint(path, {"epoch": 2})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert temp_files(tmp_path) == []

    def broken_replace(src, dst):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(ckpt.os, "replace", broken_replace)
    with pytest.raises(UserError, match=str(path)):
        write_checkpoint(path, {"epoch": 3})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert temp_files(tmp_path) == []


def test_write_to_missing_folder_or_directory_is_user_error(tmp_path):
    with pytest.raises(UserError, match="no-such-dir"):
        write_checkpoint(tmp_path / "no-such-dir" / "x.nnrun", {"a": 1})
    (tmp_path / "adir").mkdir()
    with pytest.raises(UserError, match="adir"):
        write_checkpoint(tmp_path / "adir", {"a": 1})
    assert temp_files(tmp_path) == []


def test_overwrite_replaces_atomically(tmp_path):
    path = tmp_path / "last.nnrun"
    write_checkpoint(path, {"epoch": 1})
    write_checkpoint(str(path), {"epoch": 2})
    assert read_checkpoint(str(path)) == {"epoch": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.nnrun"]


# ------------------------------------------------------------------------------------- bad files

@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.nnrun"
    write_checkpoint(path, {"name": "alpha", "lr": 0.5, "w": torch.arange(10, dtype=torch.float32),
                            "opt": {0: {"step": torch.tensor(3.0)}}})
    return path


def test_truncated_files(good, tmp_path):
    data = good.read_bytes()
    for cut in sorted({1, 2, 5, 10, 25, 40, len(data) // 2, len(data) - 70, len(data) - 10,
                       len(data) - 1}):
        path = tmp_path / f"cut{cut}.nnrun"
        path.write_bytes(data[:cut])
        assert_user_error(path)
    path = tmp_path / "cut_late.nnrun"
    path.write_bytes(data[:-1])
    assert_user_error(path, "truncated or corrupted")


def test_every_single_byte_flip_is_caught(good, tmp_path):
    data = good.read_bytes()
    path = tmp_path / "flipped.nnrun"
    for i in range(len(data)):
        for mask in (0x01, 0xFF):
            broken = bytearray(data)
            broken[i] ^= mask
            path.write_bytes(bytes(broken))
            assert_user_error(path)


def test_flip_in_payload_is_checksum_mismatch(good, tmp_path):
    data = bytearray(good.read_bytes())
    i = data.index(b"alpha")
    data[i + 4] ^= 0x01
    path = tmp_path / "bitrot.nnrun"
    path.write_bytes(bytes(data))
    assert_user_error(path, "checksum")


def test_tampered_value_is_checksum_mismatch(good, tmp_path):
    outer = msgpack.unpackb(good.read_bytes(), raw=False)
    body = outer["payload"]
    lr = msgpack.packb(0.5)
    assert body.count(lr) == 1
    tampered = body.replace(lr, msgpack.packb(9.5))
    # same length, so only the checksum can tell
    assert len(tampered) == len(body)
    path = craft(tmp_path / "tampered.nnrun", tampered, checksum=outer["sha256"])
    assert_user_error(path, "checksum")
    # and with its checksum recomputed the edit is a valid file (the checksum is not a signature)
    craft(path, tampered)
    assert read_checkpoint(path)["lr"] == 9.5


def test_foreign_files(tmp_path):
    png = tmp_path / "image.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + os.urandom(64))
    assert_user_error(png, "not an nnrun checkpoint")

    saved = tmp_path / "model.pt"
    torch.save({"w": torch.ones(3)}, saved)
    assert_user_error(saved, "not an nnrun checkpoint")

    pickled = tmp_path / "model.pkl"
    pickled.write_bytes(pickle.dumps({"w": [1, 2, 3]}, protocol=2))
    assert_user_error(pickled, "not an nnrun checkpoint")

    legacy = tmp_path / "legacy.pt"
    torch.save({"w": torch.ones(3)}, legacy, _use_new_zipfile_serialization=False)
    assert_user_error(legacy, "not an nnrun checkpoint")

    js = tmp_path / "config.json"
    js.write_text(json.dumps({"format": "nnrun-checkpoint", "version": 1}))
    assert_user_error(js, "not an nnrun checkpoint")

    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    assert_user_error(text)

    empty = tmp_path / "empty.nnrun"
    empty.write_bytes(b"")
    assert_user_error(empty, "empty")

    rng = np.random.default_rng(3)
    for i in range(50):
        noise = tmp_path / f"noise{i}.bin"
        noise.write_bytes(rng.integers(0, 256, size=int(rng.integers(1, 300)),
                                       dtype=np.uint8).tobytes())
        assert_user_error(noise)

    other_msgpack = tmp_path / "other.msgpack"
    other_msgpack.write_bytes(msgpack.packb({"format": "something-else", "version": 1}))
    assert_user_error(other_msgpack, "not an nnrun checkpoint")
    other_msgpack.write_bytes(msgpack.packb([1, 2, 3]))
    assert_user_error(other_msgpack, "not an nnrun checkpoint")

    assert_user_error(tmp_path, "directory")
    assert_user_error(tmp_path / "missing.nnrun", "no such")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.nnrun"
    os.mkfifo(fifo)
    assert_user_error(fifo, "not a regular file")


def test_newer_version(tmp_path):
    path = craft(tmp_path / "future.nnrun", msgpack.packb({"a": 1}), version=2)
    assert_user_error(path, "newer nnrun")
    for version in (0, -1, "1", 1.0, None, True):
        craft(path, msgpack.packb({"a": 1}), version=version)
        assert_user_error(path, "version")


def test_malformed_outer_fields(tmp_path):
    path = tmp_path / "odd.nnrun"
    path.write_bytes(msgpack.packb({"format": "nnrun-checkpoint", "version": 1}))
    assert_user_error(path)
    path.write_bytes(msgpack.packb({"format": "nnrun-checkpoint", "version": 1,
                                    "payload": "text", "sha256": "00"}))
    assert_user_error(path)
    path.write_bytes(msgpack.packb({"format": "nnrun-checkpoint", "version": 1, "payload": b"",
                                    "sha256": 5}, use_bin_type=True))
    assert_user_error(path)
    path.write_bytes(msgpack.packb({"format": "nnrun-checkpoint", "version": 1}) + b"trailing")
    assert_user_error(path)
    good = craft(tmp_path / "good.nnrun", msgpack.packb({"a": 1}))
    path.write_bytes(good.read_bytes() + b"\x00")
    assert_user_error(path)
    path.write_bytes(msgpack.packb({"format": "nnrun-checkpoint", "version": 1,
                                    "x": msgpack.ExtType(1, b"abc")}))
    assert_user_error(path)


def test_huge_declared_lengths_fail_fast(tmp_path):
    magic_head = (b"\x84" + msgpack.packb("format") + msgpack.packb("nnrun-checkpoint")
                  + msgpack.packb("version") + msgpack.packb(1) + msgpack.packb("payload"))
    cases = {
        "bin32": magic_head + b"\xc6\x80\x00\x00\x00" + b"x" * 16,
        "bin32_max": magic_head + b"\xc6\xff\xff\xff\xff" + b"x" * 16,
        "str32": magic_head + b"\xdb\x80\x00\x00\x00" + b"x" * 16,
        "array32": magic_head + b"\xdd\x80\x00\x00\x00" + b"\xc0" * 16,
        "map32": b"\xdf\x80\x00\x00\x00" + b"\xc0" * 16,
        "ext32": magic_head + b"\xc9\x80\x00\x00\x00\x01" + b"x" * 16,
        "top_bin32": b"\xc6\x80\x00\x00\x00abc",
    }
    start = time.perf_counter()
    for name, data in cases.items():
        path = tmp_path / f"{name}.nnrun"
        path.write_bytes(data)
        assert_user_error(path)
    assert time.perf_counter() - start < 2.0

    # the same lies inside a payload whose checksum is right
    inner = {
        "bin": b"\x81\xa1a\xc6\x80\x00\x00\x00xyz",
        "array": b"\x81\xa1a\xdd\x80\x00\x00\x00\xc0",
        "map": b"\xdf\x80\x00\x00\x00\xc0\xc0",
        "ext": b"\x81\xa1a\xc9\x80\x00\x00\x00\x01xyz",
        "str": b"\x81\xa1a\xdb\x80\x00\x00\x00xyz",
    }
    start = time.perf_counter()
    for name, body in inner.items():
        path = craft(tmp_path / f"inner_{name}.nnrun", body)
        assert_user_error(path, "invalid checkpoint")
    assert time.perf_counter() - start < 2.0


def test_size_limit_checked_before_reading(good):
    size = good.stat().st_size
    assert_user_error(good, "limit", max_bytes=size - 1)
    assert read_checkpoint(good, max_bytes=size)["name"] == "alpha"


def test_bad_tensor_descriptors(tmp_path):
    path = tmp_path / "bad.nnrun"
    cases = [
        ("shape disagrees", tensor_ext("float32", [2, 3], b"\x00" * 20), "needs 24 bytes"),
        ("too much data", tensor_ext("float32", [2], b"\x00" * 12), "needs 8 bytes"),
        ("unknown dtype", tensor_ext("float33", [1], b"\x00" * 4), "unknown tensor dtype"),
        ("object dtype", tensor_ext("object", [1], b"\x00" * 8, ckpt.EXT_NUMPY), "dtype"),
        ("negative dim", tensor_ext("float32", [-1, 4], b"\x00" * 16), "shape"),
        ("float dim", tensor_ext("float32", [2.0], b"\x00" * 8), "shape"),
        ("bool dim", tensor_ext("float32", [True], b"\x00" * 4), "shape"),
        ("huge dims", tensor_ext("float32", [2**62, 2**62], b"\x00" * 16), "needs"),
        ("huge dims with zero", tensor_ext("float32", [0, 2**62, 2**62], b""), "tensor"),
        ("numpy huge dims with zero", tensor_ext("int8", [0, 2**62, 2**62], b"",
                                                  ckpt.EXT_NUMPY), "numpy array"),
        ("too many dims", tensor_ext("uint8", [1] * 65, b"\x00"), "descriptor"),
        ("header not a list", msgpack.ExtType(1, msgpack.packb("float32") + b"\x00" * 4),
         "descriptor"),
        ("header garbage", msgpack.ExtType(1, b"\xc1\x00\x00"), "descriptor"),
        ("empty ext", msgpack.ExtType(1, b""), "descriptor"),
        ("header truncated", msgpack.ExtType(1, msgpack.packb(["float32", [2]])[:-1]),
         "descriptor"),
        ("unknown ext code", msgpack.ExtType(9, b"\x00"), "ext type 9"),
    ]
    for label, ext, match in cases:
        craft(path, msgpack.packb({"w": ext}))
        message = assert_user_error(path, match)
        assert "invalid checkpoint" in message, label


def test_odd_payloads(tmp_path):
    path = tmp_path / "odd.nnrun"
    for body in [msgpack.packb([1, 2]),            # not a map
                 msgpack.packb(3),
                 b"",                               # nothing
                 b"\x81\x91\x01\x02",               # a list as a map key
                 b"\x91" * 100_000 + b"\xc0",       # absurd nesting
                 b"\x81\xa1a\xa2\xff\xfe",          # bad UTF-8
                 msgpack.packb({"a": 1}) + b"\x00"]:  # trailing bytes
        craft(path, body)
        assert_user_error(path)


def test_pickle_payloads_never_run(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    files = {
        "evil.pkl": pickle.dumps(Evil()),
        "evil2.pkl": pickle.dumps({"w": Evil()}, protocol=2),
        "evil0.pkl": pickle.dumps(Evil(), protocol=0),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    torch.save({"w": Evil()}, tmp_path / "evil.pt")
    torch.save({"w": Evil()}, tmp_path / "evil_legacy.pt", _use_new_zipfile_serialization=False)
    # and a pickle smuggled in as the payload bytes of an otherwise well-formed checkpoint
    craft(tmp_path / "smuggled.nnrun", pickle.dumps(Evil()))
    assert not marker.exists()
    for name in [*files, "evil.pt", "evil_legacy.pt", "smuggled.nnrun"]:
        assert_user_error(tmp_path / name)
        assert not marker.exists()
    assert not is_checkpoint(tmp_path / "evil.pt")
    pickle.loads(files["evil.pkl"]).close()  # the files really are armed: unpickling one trips it
    assert marker.exists()


def test_reader_never_imports_pickle_machinery():
    source = Path(ckpt.__file__).read_text(encoding="utf-8")
    for word in ("import pickle", "torch.load", "pickle.load", "eval(", "exec("):
        assert word not in source


# ---- reading the arrays in place -----------------------------------------------------------------

def _whole(monkeypatch, path, **options):
    """read_checkpoint as it reads a payload it cannot take apart: unpacked in one go."""
    with monkeypatch.context() as patch:
        patch.setattr(ckpt, "_unpack_by_parts", lambda body, hook: None)
        patch.setattr(ckpt, "_locate_payload", lambda data: None)
        return read_checkpoint(path, **options)


@pytest.mark.parametrize("arrays", ["torch", "numpy"])
def test_arrays_read_in_place_equal_the_whole_unpack(tmp_path, monkeypatch, arrays):
    gen = torch.Generator().manual_seed(3)
    payload = {"kind": "nnrun-model", 7: "an int key", "resume": {"moments": [torch.ones(3), {1: np.arange(4)}]},
               "tensors": {"a.weight": random_tensor(torch.float32, (30, 20), gen),
                           "a.bias": random_tensor(torch.float32, (30,), gen),
                           "bn.count": torch.tensor(5), "empty": torch.zeros(0, 3),
                           "half": random_tensor(torch.float16, (2, 3), gen),
                           "tiny": torch.tensor([1.5])},  # 4 bytes of data + header: a fixext
               "after": [None, True, 2.5, "x" * 40_000]}
    path = tmp_path / "m.nnrun"
    write_checkpoint(path, payload)
    located = ckpt._locate_payload(path.read_bytes())
    assert ckpt._unpack_by_parts(located[0], lambda code, data: code) is not None  # the in-place path applies
    fast, whole = read_checkpoint(path, arrays=arrays), _whole(monkeypatch, path, arrays=arrays)
    assert list(fast) == list(whole) == list(payload)
    for key in payload:
        if key not in ("tensors", "resume"):
            assert fast[key] == whole[key] == (list(payload[key]) if isinstance(payload[key], list) else payload[key])
    for name, tensor in payload["tensors"].items():
        got, expected = fast["tensors"][name], whole["tensors"][name]
        if arrays == "torch":
            assert_same_tensor(got, tensor)
        else:
            np.testing.assert_array_equal(got, tensor.numpy())
            assert got.dtype == expected.dtype and got.flags.writeable
    assert float(fast["resume"]["moments"][0].sum()) == 3.0
