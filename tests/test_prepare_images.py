"""`nnrun prepare images`: layouts, real photos, the PNG tree, unlabelled sets, bad images."""
import hashlib
import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli, shared_path
from nnrun.data.dataset import open_dataset
from nnrun.data.decode import load_image
from nnrun.data.prepare.image_cache import decode_all
from nnrun.data.prepare.images import ImageOptions, scan


def picture(path, size=(40, 30), colour=(200, 30, 30), seed=0):
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(colour) + rng.normal(0, 20, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, "RGB").save(path)
    return path


def class_folders(root, per_class=10, classes=("cat", "dog")):
    for c, name in enumerate(classes):
        for i in range(per_class):
            picture(root / name / f"{i}.{'jpg' if i % 2 else 'png'}", colour=(40 + 150 * c, 90, 200 - 150 * c),
                    seed=c * 100 + i, size=(30 + i, 40))
    return root


def assert_failed_cleanly(result, out, *phrases):
    assert result.code == 2, result
    assert "Traceback" not in result.output and result.output.startswith("error: ")
    for phrase in phrases:
        assert phrase in result.output, result.output
    assert not out.exists() and not out.with_name(out.name + ".partial").exists()


def test_dogs_vs_cats_flat_folder_half_and_half(tmp_path):
    src = shared_path("dogs-vs-cats", "train")
    out = tmp_path / "cd"
    result = run_cli("prepare", "images", src, out, "--size", "52", "--test-size", "0.5", "--seed", "1")
    assert result.code == 0, result
    data = open_dataset(out)
    assert data.kind == "images" and data.classes == ["cat", "dog"] and data.image == {"size": 52, "channels": 3}
    assert data.class_counts("train") == data.class_counts("test") == {"cat": 500, "dog": 500}
    train, test = set(data.ids("train")), set(data.ids("test"))
    assert not train & test and len(train | test) == 2000  # the Cortex example's overlap cannot happen
    x = data.x("test")
    assert x.dtype == np.uint8 and x.shape == (1000, 3, 52, 52)
    for k in (0, 499, 999):  # what is stored is what decode_image makes of that very file
        name = data.ids("test")[k]
        assert data.classes[data.y("test")[k]] == name.split(".")[0]
        np.testing.assert_array_equal(x[k], load_image(src / name, 52, 3))
    stats = data.normalisation
    pixels = np.asarray(data.x("train"), np.float64)
    np.testing.assert_allclose(stats["mean"], pixels.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(stats["std"], pixels.std(axis=(0, 2, 3)), rtol=1e-9)
    (source,) = data.manifest["sources"]
    listing = "".join(f"{hashlib.sha256((src / n).read_bytes()).hexdigest()}  {n}\n" for n in sorted(train | test))
    assert source["files"] == 2000 and source["sha256"] == hashlib.sha256(listing.encode()).hexdigest()
    assert data.manifest["skipped"] == [] and data.manifest["options"]["layout"] == "flat, label from file name"


def test_class_folders_grayscale_and_png_tree(tmp_path):
    src = class_folders(tmp_path / "src")
    out = tmp_path / "out"
    result = run_cli("prepare", "images", src, out, "--size", "16", "--channels", "1", "--test-size", "0.2",
                     "--validation-size", "2", "--png", "--quiet")
    assert result.code == 0, result
    data = open_dataset(out)
    assert data.classes == ["cat", "dog"] and data.image == {"size": 16, "channels": 1}
    assert [data.count(s) for s in data.split_names] == [14, 2, 4]
    assert data.ids("train")[0] == "cat/0.png"  # ids are paths relative to SRC
    for split, folder in (("train", "training"), ("validation", "validation"), ("test", "testing")):
        x, y = data.x(split), data.y(split)
        for i in range(len(x)):
            png = out / "png" / folder / data.classes[y[i]] / f"{i}.png"
            np.testing.assert_array_equal(np.asarray(Image.open(png)), x[i, 0])
    assert len(list((out / "png").rglob("*.png"))) == 20


def test_a_pattern_of_nested_repetition_answers_at_once_in_one_line(tmp_path):
    """'^(a+)+$' on Python's re takes time exponential in a name of 34 a's that does not match (it
    hung); on RE2, linear: the name has no label, said in one line, and RE2 logs nothing besides."""
    import subprocess
    import sys

    long_name = "a" * 34 + "b.jpg"
    picture(tmp_path / "src" / long_name)
    picture(tmp_path / "src" / ("a" * 34 + "c.jpg"), seed=1)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "nnrun", "prepare", "images", tmp_path / "src", out, "--size", "8",
                           "--label-pattern", "^(a+)+$"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f'error: {tmp_path / "src" / long_name}: no label in the file name by '
                                        f'--label-pattern "^(a+)+$"']
    assert not out.exists()
    bad = subprocess.run([sys.executable, "-m", "nnrun", "prepare", "images", tmp_path / "src", out, "--size", "8",
                          "--label-pattern", "(?=a)"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1, bad.stderr  # RE2's own log line is silenced
    # a name whose bytes are not UTF-8 keeps them in its label
    odd = tmp_path / "odd"
    for i in range(4):
        picture(odd / (("cat" if i % 2 else "d\udcffg") + f"_{i}.jpg"), seed=i)
    items, _ = scan(odd, ImageOptions(size=8, label_pattern="^([^_]+)_"))
    assert sorted({item.label for item in items}) == ["cat", "d\udcffg"]


def test_label_pattern_for_other_naming_schemes(tmp_path):
    for i in range(6):
        picture(tmp_path / "src" / f"img_{'red' if i % 2 else 'blue'}_{i:03}.jpg", seed=i)
    out = tmp_path / "out"
    result = run_cli("prepare", "images", tmp_path / "src", out, "--size", "8", "--label-pattern", "_([a-z]+)_",
                     "--test-size", "2")
    assert result.code == 0, result
    data = open_dataset(out)
    assert data.classes == ["blue", "red"]
    labelled = {name: data.classes[label] for split in data.split_names
                for name, label in zip(data.ids(split), data.y(split))}
    assert labelled == {f"img_{'red' if i % 2 else 'blue'}_{i:03}.jpg": "red" if i % 2 else "blue" for i in range(6)}


def test_unlabelled_test_set_keeps_ids_in_numeric_order(tmp_path):
    for i in (10, 2, 1, 11, 3):
        picture(tmp_path / "test1" / f"{i}.jpg", seed=i)
    out = tmp_path / "out"
    result = run_cli("prepare", "images", tmp_path / "test1", out, "--size", "12", "--unlabelled")
    assert result.code == 0, result
    data = open_dataset(out)
    assert not data.labelled and data.split_names == ["test"] and data.classes == []
    assert data.ids("test") == ["1", "2", "3", "10", "11"]
    np.testing.assert_array_equal(data.x("test")[3], load_image(tmp_path / "test1" / "10.jpg", 12, 3))
    assert data.normalisation is None


def unreadable_images(src):
    class_folders(src, per_class=8)
    jpeg = (src / "cat" / "1.jpg").read_bytes()
    (src / "cat" / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (src / "dog" / "empty.jpg").write_bytes(b"")
    (src / "dog" / "garbage.png").write_bytes(b"this is not a picture" * 20)
    return src


def test_unreadable_images_are_skipped_listed_and_counted(tmp_path):
    src = unreadable_images(tmp_path / "src")
    out = tmp_path / "out"
    result = run_cli("prepare", "images", src, out, "--size", "8", "--test-size", "0.25")
    assert result.code == 0, result
    assert "warning: skipped 3 unreadable image(s)" in result.stderr
    for name in ("cat/truncated.jpg", "dog/empty.jpg", "dog/garbage.png"):
        assert name in result.stderr
    data = open_dataset(out)
    skipped = {s["path"]: s["reason"] for s in data.manifest["skipped"]}
    assert skipped == {"cat/truncated.jpg": "corrupt image (truncated image)", "dog/empty.jpg": "empty file (0 bytes)",
                       "dog/garbage.png": "not an image file Pillow can read"}
    assert data.count("train") + data.count("test") == 16
    assert not set(skipped) & set(data.ids("train") + data.ids("test"))
    assert data.manifest["sources"][0]["files"] == 19  # the source is all files, read or not


def test_unreadable_images_are_an_error_with_strict(tmp_path):
    src = unreadable_images(tmp_path / "src")
    out = tmp_path / "out"
    assert_failed_cleanly(run_cli("prepare", "images", src, out, "--size", "8", "--strict"), out,
                          "3 unreadable image(s) (--strict)", "cat/truncated.jpg (corrupt image (truncated image))")


@pytest.mark.parametrize("arrange, args, phrases", [
    (lambda s: s.mkdir(), [], ["is empty"]),
    (lambda s: (class_folders(s), (s / "cat" / "notes.txt").write_text("hi")), [], ['notes.txt: unknown extension ".txt"']),
    (lambda s: (class_folders(s), picture(s / "stray.jpg")), [], ["mixes class folders", "stray.jpg"]),
    (lambda s: (class_folders(s), (s / "bird").mkdir()), [], ["bird holds no images"]),
    (lambda s: [picture(s / f"{i}.jpg") for i in range(5)], [], ["every file has a label of its own", "--unlabelled"]),
    (lambda s: [picture(s / f"cat{i}.jpg") for i in range(5)], ["--label-pattern", "^dog"], ["no label in the file name"]),
    (lambda s: [picture(s / f"cat.{i}.jpg") for i in range(5)], ["--label-pattern", "(["],
     ['--label-pattern "([" is not a regular expression RE2 takes (missing ]']),
    (lambda s: [picture(s / f"cat.{i}.jpg") for i in range(5)], ["--label-pattern", r"^(c)\1"],
     ["is not a regular expression RE2 takes (invalid escape sequence: \\1); its syntax is Python's without "
      "backreferences"]),
    (lambda s: [picture(s / f"cat.{i}.jpg") for i in range(5)], [], ['only one class ("cat")']),
    (lambda s: class_folders(s), ["--unlabelled"], ["--unlabelled expects the images"]),
    (lambda s: class_folders(s, per_class=1), ["--test-size", "2"], ['class "cat" has only 1 example']),
    (lambda s: class_folders(s, per_class=1), [], ["--test-size 0.2 of 2 examples rounds to none"]),
    (lambda s: (picture(s / "1.jpg"), picture(s / "1.png")), ["--unlabelled"], ['id "1" is not unique']),
])
def test_bad_folders_are_one_clear_line_and_leave_nothing(tmp_path, arrange, args, phrases):
    src = tmp_path / "src"
    arrange(src)
    out = tmp_path / "out"
    assert_failed_cleanly(run_cli("prepare", "images", src, out, "--size", "8", *args), out, *phrases)


def leave_interrupted_state(src, out, decoded):
    """What an interrupted run leaves: OUT.partial/ with a half-written file and the first chunks
    of decoded images in its cache (test_prepare_interrupt.py makes this with real signals)."""
    partial = out.with_name(out.name + ".partial")
    (partial / "cache").mkdir(parents=True)
    (partial / "train.x.npy").write_bytes(b"half-written")
    items, _ = scan(src, ImageOptions(size=8))
    decode_all([item.path for item in items[:decoded]], 8, 3, partial / "cache", jobs=1)
    return partial


def test_rerun_does_nothing_and_an_interrupted_run_resumes_from_its_cache(tmp_path):
    src = class_folders(tmp_path / "src", per_class=70)
    out = tmp_path / "out"
    args = ("prepare", "images", src, out, "--size", "8", "--jobs", "2")
    assert run_cli(*args).code == 0
    first = {split: open_dataset(out).ids(split) for split in ("train", "test")}
    again = run_cli(*args)
    assert again.code == 0 and "nothing to do" in again.output

    shutil.rmtree(out)
    partial = leave_interrupted_state(src, out, decoded=64)
    resumed = run_cli(*args)
    assert resumed.code == 0, resumed
    assert "resuming: 64 of 140 images were already decoded" in resumed.output
    assert {split: open_dataset(out).ids(split) for split in ("train", "test")} == first
    assert not partial.exists()

    shutil.rmtree(out)
    leave_interrupted_state(src, out, decoded=64)
    forced = run_cli(*args, "--force")
    assert forced.code == 0 and "resuming" not in forced.output  # --force redoes everything


def test_decoding_is_upright_flat_on_white_and_close_to_a_full_decode(tmp_path):
    # EXIF orientation 6 (rotate 90 degrees clockwise to view) is applied.
    tall = np.zeros((40, 20, 3), np.uint8)
    tall[:5] = 255  # a white band at the top of the stored image
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(tall).save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    upright = load_image(tmp_path / "rotated.jpg", 20, 1)[0]
    assert upright[:, -3:].mean() > 200 and upright[:, :10].mean() < 50  # the band is now on the right
    # Transparent pixels become white, not black.
    rgba = np.zeros((10, 10, 4), np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "clear.png")
    assert load_image(tmp_path / "clear.png", 10, 3).min() == 255
    # Draft-mode JPEG decoding stays close to decoding at full size and resizing.
    photo = picture(tmp_path / "big.jpg", size=(900, 700), seed=3)
    full = np.asarray(Image.open(photo).convert("RGB").resize((52, 52), Image.Resampling.BICUBIC), np.float64)
    fast = load_image(photo, 52, 3).transpose(1, 2, 0).astype(np.float64)
    assert np.abs(full - fast).mean() < 3


def test_out_inside_src_is_refused(tmp_path):
    src = class_folders(tmp_path / "src")
    result = run_cli("prepare", "images", src, src / "prepared", "--size", "8")
    assert result.code == 2 and "is inside" in result.output
    assert not (src / "prepared").exists()
