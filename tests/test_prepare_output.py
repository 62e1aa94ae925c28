"""The output folder's life: built aside, finished atomically, cleaned up on failure."""
import json

import pytest

from conftest import run_cli
from nnrun.data.prepare.output import building, existing_manifest, finish, prepare_into
from nnrun.errors import UserError

MANIFEST = {"format": "nnrun-dataset", "version": 1, "options": {"a": 1}, "sources": []}


def test_the_manifest_appears_last_and_the_folder_by_one_rename(tmp_path):
    out = tmp_path / "out"
    seen = []

    def make(folder):
        (folder / "train.x.npy").write_bytes(b"data")
        seen.append((folder.name, out.exists(), (folder / "dataset.json").exists()))
        return dict(MANIFEST)

    assert prepare_into(out, options={"a": 1}, sources=list, force=False, make=make) is not None
    assert seen == [("out.partial", False, False)]
    assert json.loads((out / "dataset.json").read_text())["options"] == {"a": 1}
    assert sorted(p.name for p in out.iterdir()) == ["dataset.json", "train.x.npy"]  # no cache, no lock
    assert not (tmp_path / "out.partial").exists()
    assert prepare_into(out, options={"a": 1}, sources=list, force=False, make=make) is None  # up to date


def test_a_failure_removes_what_the_run_made_but_never_the_users_folder(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(UserError):
        with building(out) as folder:
            (folder / "train.x.npy").write_bytes(b"half")
            raise UserError("bad cell")
    assert not out.exists() and not (tmp_path / "out.partial").exists()

    out.mkdir()
    (out / "dataset.json").write_text(json.dumps(MANIFEST))
    with pytest.raises(RuntimeError):
        prepare_into(out, options={"b": 2}, sources=list, force=True,
                     make=lambda folder: (_ for _ in ()).throw(RuntimeError("bug")))
    assert json.loads((out / "dataset.json").read_text()) == MANIFEST  # --force replaces only on success


def test_an_interrupt_keeps_only_the_cache_and_only_when_it_holds_something(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        with building(out) as folder:
            (folder / "train.x.npy").write_bytes(b"half")
            raise KeyboardInterrupt
    assert not (tmp_path / "out.partial").exists()  # nothing worth resuming: nothing left
    with pytest.raises(KeyboardInterrupt):
        with building(out) as folder:
            (folder / "train.x.npy").write_bytes(b"half")
            (folder / "cache" / "chunk-1.json").write_text("{}")
            raise KeyboardInterrupt
    assert sorted(p.name for p in (tmp_path / "out.partial").iterdir()) == ["cache", "lock"]
    with building(out) as folder:  # the next run finds the cache, and only the cache
        assert sorted(p.name for p in folder.iterdir()) == ["cache", "lock"]
        assert (folder / "cache" / "chunk-1.json").exists()
        finish(folder, out, dict(MANIFEST))
    assert not (out / "cache").exists()


def test_force_discards_a_previous_runs_cache(tmp_path):
    out = tmp_path / "out"
    (tmp_path / "out.partial" / "cache").mkdir(parents=True)
    (tmp_path / "out.partial" / "cache" / "chunk-1.json").write_text("{}")
    with building(out, force=True) as folder:
        assert list((folder / "cache").iterdir()) == []
        finish(folder, out, dict(MANIFEST))


def test_two_runs_cannot_build_the_same_folder_at_once(tmp_path):
    out = tmp_path / "out"
    with building(out):
        with pytest.raises(UserError, match="another nnrun prepare is writing"):
            with building(out):
                pass
    assert (tmp_path / "out.partial").exists()  # the first run's folder was left alone


def test_what_may_be_at_out(tmp_path):
    assert existing_manifest(tmp_path / "absent") is None
    (tmp_path / "empty").mkdir()
    assert existing_manifest(tmp_path / "empty") is None
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="exists and is a file"):
        existing_manifest(tmp_path / "file")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "dataset.json").write_text("{")
    assert existing_manifest(tmp_path / "broken") == {}  # ours but broken: --force may replace it


def test_the_recorded_command_is_what_was_typed(tmp_path):
    (tmp_path / "t.csv").write_text("Time,a,b,Class\n" + "".join(f"{i},{i},1,{i % 2}\n" for i in range(20)))
    out = tmp_path / "my out"
    result = run_cli("prepare", "csv", tmp_path / "t.csv", out, "--label-column", "Class", "--drop", "Time",
                     "--drop", "b", "--seed", "3")
    assert result.code == 0, result
    command = json.loads((out / "dataset.json").read_text())["command"]
    assert command == (f"nnrun prepare csv {tmp_path / 't.csv'} '{out}' --label-column Class --drop Time --drop b "
                       f"--seed 3")


def test_prepare_never_imports_torch_and_only_csv_imports_pandas(tmp_path):
    """Start-up time counts (the image benchmark times the whole command)."""
    import subprocess
    import sys

    probe = ("import sys\nfrom nnrun.cli import main\nmain(sys.argv[1:])\n"
             "print(sorted(m for m in ('torch', 'pandas') if m in sys.modules))\n")
    from PIL import Image

    (tmp_path / "pics").mkdir()
    for i in range(10):
        Image.new("RGB", (20, 20), (25 * i, 0, 0)).save(tmp_path / "pics" / f"{'cat' if i % 2 else 'dog'}.{i}.png")
    (tmp_path / "t.csv").write_text("a,Class\n" + "".join(f"{i},{i % 2}\n" for i in range(20)))
    for args, expected in ((["images", tmp_path / "pics", tmp_path / "i", "--size", "8"], "[]"),
                           (["csv", tmp_path / "t.csv", tmp_path / "c", "--label-column", "Class"], "['pandas']"),
                           (["demo", "shapes", tmp_path / "s", "--count", "30"], "[]"),
                           (["demo", "fraud", tmp_path / "f", "--rows", "1000"], "[]")):
        run = subprocess.run([sys.executable, "-c", probe, "prepare", *map(str, args), "--quiet"],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == expected, (args, run.stdout)
