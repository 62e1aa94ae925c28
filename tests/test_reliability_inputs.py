"""Hostile inputs and outputs with the real CLI: damaged compressed CSVs, zips of the wrong shape,
absurd cells, odd files among images, outputs that cannot be written (under a file, read-only,
a full disk). Each ends in exit 2 with one line, no traceback, nothing left behind, no hang."""
import bz2
import errno
import gzip
import lzma
import os
import socket
import subprocess
import zipfile

import pytest
from PIL import Image

from conftest import run_cli

ROWS = "a,b,label\n" + "".join(f"{i},{i * 2},{'xy'[i % 2]}\n" for i in range(40))


def assert_one_clean_line(result, *phrases):
    assert result.code == 2, result
    assert "Traceback" not in result.output, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for phrase in phrases:
        assert phrase in lines[0], (phrase, lines[0])


def _damaged(data):
    data = bytearray(data)
    middle = len(data) // 2
    for i in range(middle, min(len(data), middle + 40)):
        data[i] ^= 0x55
    return bytes(data)


def _zip(*members):
    def write(path):
        with zipfile.ZipFile(path, "w") as archive:
            for name in members:
                archive.writestr(name, ROWS)
    return write


def _bytes(data):
    return lambda path: path.write_bytes(data)


def _damaged_zip(path):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("t.csv", ROWS * 50)
    path.write_bytes(_damaged(path.read_bytes()))


def _encrypted_zip(path):
    """A zip whose member says it is encrypted (zipfile writes no encrypted zips: the flag is set
    by hand, in the member's local header and in the central directory)."""
    _zip("t.csv")(path)
    data = bytearray(path.read_bytes())
    data[6] |= 1
    data[data.find(b"PK\x01\x02") + 8] |= 1
    path.write_bytes(bytes(data))


# name: (file name, how to write it, what the one line must contain)
CSV_CASES = {
    "xz cut short": ("t.csv.xz", _bytes(lzma.compress(ROWS.encode())[:30]), ["t.csv.xz", "not a readable CSV"]),
    "gz cut short": ("t.csv.gz", _bytes(gzip.compress(ROWS.encode())[:20]), ["t.csv.gz", "not a readable CSV"]),
    "bz2 cut short": ("t.csv.bz2", _bytes(bz2.compress(ROWS.encode())[:20]), ["t.csv.bz2"]),
    "xz damaged inside": ("t.csv.xz", _bytes(_damaged(lzma.compress(ROWS.encode() * 50))), ["t.csv.xz"]),
    "random bytes named .gz": ("t.csv.gz", _bytes(os.urandom(300)), ["t.csv.gz"]),
    "random bytes named .xz": ("t.csv.xz", _bytes(os.urandom(300)), ["t.csv.xz"]),
    "random bytes named .zip": ("t.csv.zip", _bytes(os.urandom(300)), ["t.csv.zip", "not a readable zip file"]),
    # deflated data damaged inside: zlib's own error type, neither OSError nor the archive's
    "gz damaged inside": ("t.csv.gz", _bytes(_damaged(gzip.compress(ROWS.encode() * 50))),
                          ["t.csv.gz", "not a readable CSV file", "decompressing"]),
    "zip damaged inside": ("t.csv.zip", _damaged_zip, ["t.csv.zip", "not a readable CSV file", "decompressing"]),
    "a zip with a folder and the CSV in it": ("t.csv.zip", _zip("sub/", "sub/t.csv"), ["holds 2: sub/, sub/t.csv"]),
    "an encrypted zip": ("t.csv.zip", _encrypted_zip, ["t.csv.zip: t.csv is encrypted"]),
    "a zip with two members": ("t.csv.zip", _zip("a.csv", "b.csv"),
                               ["t.csv.zip", "exactly one CSV file", "holds 2: a.csv, b.csv"]),
    "an empty zip": ("t.csv.zip", _zip(), ["t.csv.zip", "holds 0"]),
    "a zip with 100 members": ("t.csv.zip", _zip(*(f"part{i}.csv" for i in range(100))),
                               ["holds 100", "part0.csv", "(100 in all)"]),
    "a cell of 1e39 (beyond float32)": ("t.csv", lambda p: p.write_text("a,b,label\n1,2,x\n1e39,4,y\n"),
                                        ['row 2 (line 3), column "a"', "1e+39", "not a finite number"]),
    "a cell of 1e308": ("t.csv", lambda p: p.write_text("a,b,label\n1,2,x\n3,1e308,y\n"),
                        ['row 2 (line 3), column "b"', "not a finite number"]),
    "a cell of ten million digits": ("t.csv", lambda p: p.write_text("a,b,label\n1,2,x\n3," + "9" * 10**7 + ",y\n"),
                                     ['row 2 (line 3), column "b"', "(10,000,000 characters)"]),
    "a cell with a NUL byte": ("t.csv", _bytes(b"a,b,label\n1,2\x00,x\n3,4,y\n"),
                               ['row 1 (line 2), column "b"', "\\x00"]),
    "a cell of inf": ("t.csv", lambda p: p.write_text("a,b,label\n1,inf,x\n3,4,y\n"), ['column "b"', "finite"]),
    "a first row one field longer than the header": ("t.csv", lambda p: p.write_text("a,b,label\n1,2,x,9\n3,4,y\n"),
                                                     ["row 1 (line 2) has more fields than the header"]),
    "binary junk": ("t.csv", _bytes(bytes(range(256)) * 10), ["t.csv"]),
}


@pytest.mark.parametrize("name", CSV_CASES)
def test_a_hostile_csv_is_one_clean_line_and_leaves_nothing(name, tmp_path):
    file_name, write, phrases = CSV_CASES[name]
    write(tmp_path / file_name)
    result = run_cli("prepare", "csv", tmp_path / file_name, tmp_path / "out", "--label-column", "label", "-q")
    assert_one_clean_line(result, *phrases)
    assert sorted(p.name for p in tmp_path.iterdir()) == [file_name]


def _idx(array):
    """An IDX file's bytes: LeCun's header (uint8 data, the dimensions) and the values."""
    return bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape) + \
        array.astype("uint8").tobytes()


def _idx_header(*shape):
    return bytes([0, 0, 8, len(shape)]) + b"".join(int(d).to_bytes(4, "big") for d in shape)


# name: (file to replace, its bytes, what the one line must contain)
MNIST_CASES = {
    "test images of another size": ("t10k-images-idx3-ubyte", _idx_header(20, 10, 10) + bytes(2000),
                                    ["holds 10x10 images, but", "holds 8x8"]),
    "images of no pixels": ("t10k-images-idx3-ubyte", _idx_header(20, 0, 0), ["holds 0x0 images"]),
    "a header beyond memory": ("t10k-images-idx3-ubyte", _idx_header(4_000_000_000, 4_000_000_000, 4_000_000_000),
                               ["64,000,000,000,000,000,000,000,000,000 bytes", "of memory"]),
    "a gzip bomb behind a header": ("t10k-images-idx3-ubyte.gz",
                                    gzip.compress(_idx_header(100_000, 1000, 1000) + bytes(10**6)),
                                    ["100000 x 1000 x 1000", "of memory"]),
    "more data than its header says": ("t10k-labels-idx1-ubyte", _idx_header(20) + bytes(21),
                                       ["holds more than 20 data bytes"]),
    "a gzip damaged inside": ("train-images-idx3-ubyte.gz", None, ["cannot be read", "decompressing"]),
}


@pytest.mark.parametrize("name", MNIST_CASES)
def test_hostile_mnist_files_are_one_clean_line(name, tmp_path):
    import numpy as np

    folder = tmp_path / "mnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for prefix, count in (("train", 40), ("t10k", 20)):
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(_idx(rng.integers(0, 255, (count, 8, 8))))
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx(np.arange(count) % 10))
    file_name, data, phrases = MNIST_CASES[name]
    if data is None:  # the training images themselves, gzipped and damaged
        data = _damaged(gzip.compress((folder / "train-images-idx3-ubyte").read_bytes() * 40))
    (folder / file_name).write_bytes(data)
    result = run_cli("prepare", "mnist", folder, tmp_path / "out", "-q")
    assert_one_clean_line(result, file_name.split(".gz")[0], *phrases)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mnist"]


def test_a_negative_or_huge_seed_is_a_usage_error(tmp_path):
    (tmp_path / "t.csv").write_text(ROWS)
    for seed in ("-1", str(2**64)):
        result = run_cli("prepare", "csv", tmp_path / "t.csv", tmp_path / "out", "--label-column", "label",
                         "--seed", seed)
        assert result.code == 2 and "Traceback" not in result.output and "--seed" in result.stderr, result
    assert not (tmp_path / "out").exists()


def test_a_fifo_named_csv_is_refused_without_reading_it(tmp_path):
    os.mkfifo(tmp_path / "t.csv")
    result = run_cli("prepare", "csv", tmp_path / "t.csv", tmp_path / "out", "--label-column", "label", "-q")
    assert_one_clean_line(result, "named pipe (FIFO)")


# ---- image folders

def _image(path, value=0):
    Image.new("L", (6, 6), value).save(path)


@pytest.fixture
def images(tmp_path):
    src = tmp_path / "src"
    for label in ("cat", "dog"):
        (src / label).mkdir(parents=True)
        for i in range(5):
            _image(src / label / f"{i}.png", 40 * i)
    return src


def test_odd_files_among_images_are_skipped_and_listed_never_opened_blocking(images, tmp_path):
    import json

    os.symlink(tmp_path / "nowhere.jpg", images / "cat" / "broken.jpg")
    os.mkfifo(images / "dog" / "pipe.jpg")
    os.symlink("/dev/zero", images / "dog" / "zero.jpg")
    os.symlink("loop.jpg", images / "dog" / "loop.jpg")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(images / "dog" / "sock.png"))
    # more pixels than Pillow's guard allows (a compressed PNG of 12,000 × 12,000, 140 kB)
    Image.new("L", (12000, 12000)).save(images / "cat" / "bomb.png")
    try:
        # in a child process with a timeout: a FIFO opened for reading would block for ever
        result = subprocess.run(["nnrun", "prepare", "images", str(images), str(tmp_path / "out"),
                                 "--size", "4", "--test-size", "2", "-j", "1", "-q"],
                                capture_output=True, text=True, timeout=120)
    finally:
        server.close()
    assert result.returncode == 0, result.stderr
    skipped = {s["path"]: s["reason"] for s in json.loads((tmp_path / "out" / "dataset.json").read_text())["skipped"]}
    assert skipped == {"cat/bomb.png": "too many pixels (decompression bomb guard)",
                       "cat/broken.jpg": "cannot be read (a broken symbolic link)",
                       "dog/loop.jpg": "cannot be read (a loop of symbolic links)",
                       "dog/pipe.jpg": "cannot be read (a named pipe (FIFO))",
                       "dog/sock.png": "cannot be read (a socket)",
                       "dog/zero.jpg": "cannot be read (a character device)"}
    assert "skipped 6 unreadable image(s)" in result.stderr
    assert not (tmp_path / "out.partial").exists()
    again = run_cli("prepare", "images", images, tmp_path / "out", "--size", "4", "--test-size", "2", "-j", "1", "-q")
    assert again.code == 0, again  # the same recipe: nothing to do, and no odd file opened to tell


def test_infer_skips_a_fifo_in_a_folder_of_images(tmp_path):
    from nnrun.infer.images import decode_files

    os.mkfifo(tmp_path / "pipe.png")
    _image(tmp_path / "ok.png")
    pixels, problems = decode_files([tmp_path / "pipe.png", tmp_path / "ok.png"], 4, 1)
    assert problems == {0: "cannot be read (a named pipe (FIFO))"} and len(pixels) == 1


# ---- outputs that cannot be written

def test_an_output_under_a_file_is_refused_and_nothing_is_made(tmp_path):
    (tmp_path / "t.csv").write_text(ROWS)
    (tmp_path / "afile").write_text("mine")
    for out in (tmp_path / "afile" / "out", tmp_path / "afile" / "deeper" / "out"):
        result = run_cli("prepare", "csv", tmp_path / "t.csv", out, "--label-column", "label", "-q")
        assert_one_clean_line(result, "afile is a file, not a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "t.csv"]


def test_parent_folders_a_failed_prepare_made_are_taken_away(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b,label\n1,1e39,y\n")
    result = run_cli("prepare", "csv", tmp_path / "bad.csv", tmp_path / "new" / "deeper" / "out",
                     "--label-column", "label")
    assert_one_clean_line(result, 'column "b"')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


@pytest.mark.parametrize("where", ["finish", "arrays"])
def test_a_full_disk_while_preparing_is_one_line_and_leaves_nothing(where, tmp_path, monkeypatch):
    """ENOSPC injected at the write seam (the tmpfs test below sees a real one when it can)."""
    from nnrun.data.prepare import arrays as prepare_arrays, output as prepare_output

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if where == "finish":
        monkeypatch.setattr(prepare_output, "finish", full)
    else:
        monkeypatch.setattr(prepare_arrays.np, "save", full)
    (tmp_path / "t.csv").write_text(ROWS)
    result = run_cli("prepare", "csv", tmp_path / "t.csv", tmp_path / "out", "--label-column", "label", "-q")
    assert_one_clean_line(result, "out", "No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]


def test_a_full_disk_under_an_atomic_output_leaves_the_old_file(tmp_path):
    from nnrun.atomic import atomic_file
    from nnrun.errors import UserError

    target = tmp_path / "submission.csv"
    target.write_text("old")
    with pytest.raises(UserError, match="submission.csv: No space left on device"):
        with atomic_file(target) as f:
            f.write("new")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["submission.csv"]


def test_an_atomic_folder_appears_whole_or_not_at_all(tmp_path):
    from nnrun.atomic import atomic_folder
    from nnrun.errors import UserError

    with pytest.raises(RuntimeError):
        with atomic_folder(tmp_path / "out") as building:
            (tmp_path / building / "a.png").write_bytes(b"half")
            raise RuntimeError("stopped half way")
    assert list(tmp_path.iterdir()) == []  # neither the folder nor its temporary
    (tmp_path / "out").mkdir()  # an empty folder may be filled
    with atomic_folder(tmp_path / "out") as building:
        (tmp_path / building / "a.png").write_bytes(b"whole")
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and (tmp_path / "out" / "a.png").read_bytes() == b"whole"
    with pytest.raises(UserError, match="--keep .*out: already exists and is not an empty folder"):
        with atomic_folder(tmp_path / "out", "--keep"):
            pass
    with pytest.raises(UserError, match="does not exist"):
        with atomic_folder(tmp_path / "no" / "out"):
            pass


def test_atomic_outputs_get_the_permissions_of_any_new_file(tmp_path):
    from nnrun.atomic import atomic_file, atomic_folder

    old = os.umask(0o022)
    try:
        with atomic_file(tmp_path / "submission.csv") as f:
            f.write("id,label\n")
        with atomic_folder(tmp_path / "out"):
            pass
    finally:
        os.umask(old)
    assert (tmp_path / "submission.csv").stat().st_mode & 0o777 == 0o644  # not tempfile's 0600
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A 64 kB tmpfs (root only, and where mounting is allowed); skipped otherwise."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_real_full_disk_and_a_read_only_one(tiny_tmpfs, tmp_path):
    (tmp_path / "big.csv").write_text("a,b,label\n" + "".join(f"{i},{i * 2},{'xy'[i % 2]}\n" for i in range(20000)))
    result = run_cli("prepare", "csv", tmp_path / "big.csv", tiny_tmpfs / "out", "--label-column", "label", "-q")
    assert_one_clean_line(result, str(tiny_tmpfs), "No space left on device")
    assert list(tiny_tmpfs.iterdir()) == []
    subprocess.run(["mount", "-o", "remount,ro", str(tiny_tmpfs)], check=True)
    (tmp_path / "t.csv").write_text(ROWS)
    for out in (tiny_tmpfs / "out", tiny_tmpfs / "a" / "b" / "out"):
        result = run_cli("prepare", "csv", tmp_path / "t.csv", out, "--label-column", "label", "-q")
        assert_one_clean_line(result, str(tiny_tmpfs), "Read-only file system")
    assert list(tiny_tmpfs.iterdir()) == []


def test_real_full_disks_under_infer_submit_and_prepare_images(tiny_tmpfs, tmp_path, images):
    """64 kB: each output stops with one line naming it and "No space left", the previous
    submission stays as it was, and no temporary is left."""
    from nnrun.data.preprocess import Preprocessing
    from nnrun.model_io import save_model
    from nnrun.network.build import build_network
    from nnrun.network.plan import plan_network

    model = tmp_path / "model.nnrun"
    table = [{"input": {"width": 2, "id": "data"}}, {"linear->softmax": {"output-size": 2, "id": "label"}}]
    save_model(model, build_network(plan_network(table)), classes=["x", "y"], positive="y", threshold=0.5,
               preprocessing=Preprocessing("table", "standardize", [0.0] * 2, [1.0] * 2, ["a", "b"]))
    rows = tmp_path / "rows.csv"
    rows.write_text("id,a,b\n" + "".join(f"{i},{i % 7},{i % 3}\n" for i in range(20_000)))
    (tiny_tmpfs / "submission.csv").write_text("old")
    commands = {"infer -o": ["infer", model, rows, "--id-column", "id", "-o", tiny_tmpfs / "out.jsonl"],
                "kaggle-submit -o": ["kaggle-submit", model, rows, "--id-column", "id", "--predict", "probability",
                                     "-o", tiny_tmpfs / "submission.csv"],
                "prepare images": ["prepare", "images", images, tiny_tmpfs / "prepared", "--size", "64",
                                   "--png", "-j", "1"]}
    for name, arguments in commands.items():
        result = run_cli(*arguments, "-q")
        assert_one_clean_line(result, str(tiny_tmpfs), "No space left on device")
        assert sorted(p.name for p in tiny_tmpfs.iterdir()) == ["submission.csv"], name
    assert (tiny_tmpfs / "submission.csv").read_text() == "old"
