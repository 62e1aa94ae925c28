"""Hostile command lines: each ends in exit 2, no traceback, one `error:` line naming the place
(click's own usage errors too: a missing argument, an unknown option, a value out of range), and
leaves no output behind."""
import os

import pytest

from conftest import run_cli

TABLE = [{"input": {"width": 3, "id": "data"}}, {"linear->softmax": {"output-size": 2, "id": "label"}}]


@pytest.fixture(scope="module")
def place(tmp_path_factory):
    """A folder with a model file (model.nnrun), a CSV of its features (rows.csv), a plain file
    (afile), a FIFO (pipe) and a config (c.yaml)."""
    from nnrun.data.preprocess import Preprocessing
    from nnrun.model_io import save_model
    from nnrun.network.build import build_network
    from nnrun.network.plan import plan_network

    folder = tmp_path_factory.mktemp("cli")
    save_model(folder / "model.nnrun", build_network(plan_network(TABLE)), classes=["no", "yes"], positive="yes",
               threshold=0.5, preprocessing=Preprocessing("table", "standardize", [0.0] * 3, [1.0] * 3, ["a", "b", "c"]))
    (folder / "rows.csv").write_text("id,a,b,c\n1,0.5,1,2\n2,3,4,5\n")
    (folder / "afile").write_text("not a folder")
    os.mkfifo(folder / "pipe")
    (folder / "c.yaml").write_text("network:\n  - input: 3\n  - linear->softmax: 2\ndata: nowhere\n")
    return folder


# name: (arguments, with {p} for the folder; what the message must contain)
CASES = {
    "prepare seed -1": ("prepare csv {p}/rows.csv {p}/out --label-column a --seed -1", ["--seed"]),
    "prepare seed 2**64": (f"prepare csv {{p}}/rows.csv {{p}}/out --label-column a --seed {2**64}", ["--seed"]),
    "prepare a negative test size": ("prepare csv {p}/rows.csv {p}/out --label-column a --test-size -1",
                                     ["--test-size"]),
    "prepare a NaN test size": ("prepare csv {p}/rows.csv {p}/out --label-column a --test-size nan", ["--test-size"]),
    "prepare a test size of 1e400": ("prepare csv {p}/rows.csv {p}/out --label-column a --test-size 1e400",
                                     ["--test-size"]),
    "prepare a CSV that is a FIFO": ("prepare csv {p}/pipe {p}/out --label-column a", ["pipe"]),
    "prepare into a file": ("prepare csv {p}/rows.csv {p}/afile --label-column a", ["afile"]),
    "prepare under a file": ("prepare csv {p}/rows.csv {p}/afile/out --label-column a", ["afile is a file"]),
    "prepare images of size 0": ("prepare images {p} {p}/out --size 0", ["--size: 0 is not in the range"]),
    "prepare images of size 10**6": ("prepare images {p} {p}/out --size 1000000", ["--size"]),
    "prepare images, a million jobs": ("prepare images {p} {p}/out --size 8 --jobs 1000000", ["--jobs"]),
    "prepare images into the source": ("prepare images {p} {p}/out/inside --size 8", ["inside"]),
    "prepare demo with no rows": ("prepare demo fraud {p}/out --rows 0", ["--rows"]),
    "infer threshold NaN": ("infer {p}/model.nnrun {p}/rows.csv --id-column id --threshold nan", ["--threshold nan"]),
    "infer threshold inf": ("infer {p}/model.nnrun {p}/rows.csv --id-column id --threshold inf", ["--threshold inf"]),
    "infer threshold -1": ("infer {p}/model.nnrun {p}/rows.csv --id-column id --threshold -1", ["--threshold"]),
    "infer unknown positive class": ("infer {p}/model.nnrun {p}/rows.csv --id-column id --positive zebra",
                                     ['"zebra"']),
    "infer a batch of 10**12": ("infer {p}/model.nnrun {p}/rows.csv --batch-size 1000000000000", ["--batch-size"]),
    "infer an unknown engine": ("infer {p}/model.nnrun {p}/rows.csv --engine tpu", ["--engine"]),
    "infer an unknown id column": ("infer {p}/model.nnrun {p}/rows.csv --id-column nope", ['"nope"']),
    "infer to a folder that is a file": ("infer {p}/model.nnrun {p}/rows.csv --id-column id -o {p}/afile/x.jsonl",
                                         ["afile"]),
    "infer a FIFO as the model": ("infer {p}/pipe {p}/rows.csv", ["pipe", "not a regular file"]),
    "infer /dev/zero as the model": ("infer /dev/zero {p}/rows.csv", ["/dev/zero"]),
    "infer a config as the model": ("infer {p}/c.yaml {p}/rows.csv", ["c.yaml"]),
    "infer a missing input": ("infer {p}/model.nnrun {p}/missing.csv", ["missing.csv"]),
    "evaluate a missing dataset": ("evaluate {p}/model.nnrun {p}/nowhere", ["nowhere"]),
    "evaluate a file as the dataset": ("evaluate {p}/model.nnrun {p}/afile", ["afile"]),
    "evaluate a FIFO as the dataset": ("evaluate {p}/model.nnrun {p}/pipe", ["pipe"]),
    "submit to a folder that is a file": ("kaggle-submit {p}/model.nnrun {p}/rows.csv -o {p}/afile/s.csv",
                                          ["afile"]),
    "submit clip of NaN": ("kaggle-submit {p}/model.nnrun {p}/rows.csv --predict probability --clip nan 1 "
                           "-o {p}/s.csv", ["--clip"]),
    "export under a file": ("export {p}/model.nnrun -o {p}/afile/x.onnx", ["afile"]),
    "export an unknown format": ("export {p}/model.nnrun -o {p}/x --format pickle", ["--format"]),
    "check a missing config": ("check {p}/none.yaml", ["none.yaml"]),
    "check a FIFO named .yaml": ("check {p}/pipe.yaml", ["pipe.yaml"]),
    "check a config of another type": ("check {p}/rows.csv", ["rows.csv", "unknown config type"]),
    "check a --set without a value": ("check {p}/c.yaml --set train", ["--set train"]),
    "check a --set of NaN seed": ("check {p}/c.yaml --set train.seed=.nan", ["train.seed"]),
    "train a config whose data is missing": ("train {p}/c.yaml --run-dir {p}/run", ["nowhere"]),
    "runs of a file": ("runs {p}/afile", ["afile"]),
    "report of a file": ("report {p}/afile", ["afile"]),
    "evaluate threshold NaN": ("evaluate {p}/model.nnrun {p}/nowhere --threshold nan", ["--threshold nan"]),
    "evaluate on the meta device": ("evaluate {p}/model.nnrun {p}/nowhere --device meta", ["--device", "'meta'"]),
    "infer on an unknown device": ("infer {p}/model.nnrun {p}/rows.csv --device tpu", ["--device", "'tpu'"]),
    "infer on cpu:0": ("infer {p}/model.nnrun {p}/rows.csv --device cpu:0", ["--device", "'cpu:0'"]),
    "submit on mps": ("kaggle-submit {p}/model.nnrun {p}/rows.csv -o {p}/s.csv --device mps", ["--device", "'mps'"]),
    "infer writing over its input": ("infer {p}/model.nnrun {p}/rows.csv --id-column id -o {p}/rows.csv",
                                     ["-o", "rows.csv: is the input"]),
    "infer writing over the model": ("infer {p}/model.nnrun {p}/rows.csv --id-column id -o {p}/model.nnrun",
                                     ["model.nnrun: is the input"]),
    "submit writing over the model": ("kaggle-submit {p}/model.nnrun {p}/rows.csv --id-column id "
                                      "-o {p}/model.nnrun", ["model.nnrun: is the input"]),
    "submit writing over the test set": ("kaggle-submit {p}/model.nnrun {p}/rows.csv --id-column id -o {p}/rows.csv",
                                         ["rows.csv: is the input"]),
    "export ONNX over the model": ("export {p}/model.nnrun -o {p}/model.nnrun --format onnx",
                                   ["model.nnrun: is the input"]),
    # click's own usage errors, in the same one-line form
    "check without its config": ("check", ["CONFIG is missing", "usage: nnrun check [OPTIONS] CONFIG"]),
    "infer without inputs": ("infer {p}/model.nnrun", ["INPUT is missing", "usage: nnrun infer"]),
    "prepare a CSV that does not exist": ("prepare csv {p}/nothing.csv {p}/out --label-column a",
                                          ["FILE: ", "nothing.csv", "does not exist"]),
    "prepare images without --size": ("prepare images {p} {p}/out", ["--size is missing"]),
    "a misspelt option": ("infer {p}/model.nnrun {p}/rows.csv --formt csv",
                          ["--formt: nnrun infer has no such option", 'did you mean "--format"']),
    "an option without its value": ("infer {p}/model.nnrun {p}/rows.csv --split", ["--split: requires an argument"]),
    "--clip with one value": ("kaggle-submit {p}/model.nnrun {p}/rows.csv --clip 0.1", ["--clip: requires 2"]),
    "a value not among the choices": ("kaggle-submit {p}/model.nnrun {p}/rows.csv --predict sub.csv",
                                      ["--predict: 'sub.csv' is not one of"]),
    "a number that is not one": ("train {p}/c.yaml --nproc two", ["--nproc: 'two' is not a valid integer"]),
    "an extra argument": ("check {p}/c.yaml {p}/rows.csv", ["nnrun check: got unexpected extra argument"]),
    "a misspelt command": ("infre {p}/model.nnrun {p}/rows.csv", ['nnrun: no such command "infre"',
                                                                  'did you mean "infer"']),
    "a misspelt subcommand": ("prepare cvs {p}/rows.csv {p}/out", ['nnrun prepare: no such command "cvs"',
                                                                    'did you mean "csv"']),
    "demo images beyond memory": ("prepare demo shapes {p}/out --count 1000000 --size 1024 --channels 3",
                                  ["--count 1000000 --size 1024 --channels 3", "TB of memory", "this machine has"]),
}


@pytest.mark.parametrize("name", CASES)
def test_a_hostile_command_line_is_clean(name, place):
    if name == "check a FIFO named .yaml" and not (place / "pipe.yaml").exists():
        os.mkfifo(place / "pipe.yaml")
    before = _contents(place)
    arguments, phrases = CASES[name]
    result = run_cli(*arguments.format(p=place).split())
    assert result.code == 2, result
    assert "Traceback" not in result.output, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for phrase in phrases:
        assert phrase in result.stderr, (phrase, result.stderr)
    assert _contents(place) == before  # nothing made, nothing replaced


def _contents(folder):
    """Each entry's name, and the bytes of each regular file (a FIFO is never opened)."""
    return {p.name: p.read_bytes() if p.is_file() else None for p in folder.iterdir()}


def test_sigterm_stops_a_command_as_ctrl_c_does(place, tmp_path):
    """SIGTERM while `infer -o` writes: exit 130, and its temporary goes (the system's default
    left `.out.jsonl.*.partial` beside the output, exit 143)."""
    import signal
    import subprocess
    import sys
    import time

    from train_fixtures import wait_for_handler

    rows = tmp_path / "rows.csv"
    rows.write_text("id,a,b,c\n" + "".join(f"{i},{i % 7},{i % 5},{i % 3}\n" for i in range(20_000)))
    process = subprocess.Popen([sys.executable, "-m", "nnrun", "infer", str(place / "model.nnrun"), str(rows),
                                "--id-column", "id", "--batch-size", "1", "-o", str(tmp_path / "out.jsonl"), "-q"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_handler(process, signal.SIGTERM)
        deadline = time.time() + 60
        while not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]:  # writing, one row at a time
            assert time.time() < deadline and process.poll() is None, process.communicate()
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130 and "Traceback" not in err, (process.returncode, err)
    assert err.strip() == "aborted"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.csv"]
