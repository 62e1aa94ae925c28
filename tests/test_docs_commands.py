"""Every command of the README and of docs/*.md, run, so that the documentation cannot drift
from the code again: a config that is not shipped, an option renamed, a data path that is not
where a reader finds it, all fail here.

Each document's commands run in order, as a reader would type them, in a project folder of its
own (the shipped configs/, and a ../shared/data beside it with small generated stand-ins for the
real data: the same file names and columns, a few rows and photos). What the test changes, and
why, is below: two short epochs and two sweep trials, a free port instead of 8091 (adjusted()),
the files a reader brings (a photo of their own, Kaggle's test1/ folder: readers_files()), what
a document takes as made already (SETUP), the dated folder names the docs show (HOOKS). A
command that cannot run here is in NOT_RUN with its reason; the commands of several processes
run in the slow tier (SLOW). Every option that any command of the docs names, templates and
commands in prose included, is checked against the command's current options."""
import csv
import gzip
import json
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, run_cli

DOCS = ["README.md"] + [f"docs/{p.name}" for p in sorted((ROOT / "docs").glob("*.md"))]
PROGRAMS = ("nnrun", "torchrun", "python", "pip", "export")
# Two short epochs (a warm-up takes one): these are runs of the plumbing, not of the learning.
TINY = ["--set", "train.epoch-count=2", "--set", "train.epoch-size=512"]

# Commands that are not run: (document, first words) -> why. Their nnrun options are still checked.
NOT_RUN = {
    ("*", "pip install"): "installs packages from the network",
    ("*", "python -m pytest"): "the test suite itself",
    ("*", "python bench/"): "a benchmark takes minutes of timing; the script is checked to exist",
    ("docs/sweep.md", "export PGPASSWORD"): "a shell line setting a database password",
    ("docs/sweep.md", "nnrun sweep configs/fraud-sweep.yaml --storage postgresql:"):
        "needs a PostgreSQL server at db.example (only SQLite runs in the tests)",
    ("docs/train.md", "torchrun --nnodes 2"): "needs two machines",
}
# Commands run in the slow tier only (several processes, each importing torch, on two cores).
SLOW = {
    ("docs/train.md", "nnrun train configs/mnist-conv.yaml --nproc 4"): "four training processes",
    ("docs/train.md", "torchrun --standalone --nproc-per-node 4"): "four training processes",
}
# Templates (CONFIG, [--option], <time>, ...) that are run, as this concrete command.
RUN_AS = {
    ("docs/sweep.md", "nnrun sweep --resume runs/fraud-sweep/sweep-2026-12-02_05-30-00 [--trials 60] [--jobs 2]"):
        "nnrun sweep --resume runs/fraud-sweep/sweep-2026-12-02_05-30-00 --trials 3",
}


def _first_words(command, prefix):
    return command == prefix or command.startswith(prefix)


def lookup(table, doc, command):
    for (where, prefix), value in table.items():
        if where in ("*", doc) and _first_words(command, prefix):
            return value
    return None


# ---- reading the documents --------------------------------------------------------------------

@dataclass
class Command:
    doc: str
    line: int
    text: str
    inline: bool = False  # a `nnrun ...` span in prose (checked, never run)

    def __str__(self):
        return f"{self.doc}:{self.line}: {self.text}"


def doc_commands(doc):
    """The commands of a document's code blocks, in order: continuation lines joined, a trailing
    `# comment` or a description after a run of spaces cut off, `a && b` taken apart."""
    lines = (ROOT / doc).read_text().splitlines()
    found, fenced, i = [], False, 0
    while i < len(lines):
        line, number = lines[i], i + 1
        i += 1
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced or not line.startswith("    "):
            continue
        text = line.strip()
        while text.endswith("\\") and i < len(lines):
            text = text[:-1].rstrip() + " " + lines[i].strip()
            i += 1
        text = re.split(r"\s{2,}", text)[0].strip()  # a comment or a description follows two spaces
        for part in text.split(" && "):
            if part.split(" ", 1)[0] in PROGRAMS:
                found.append(Command(doc, number, part.strip()))
    return found


def inline_commands(doc):
    """`nnrun ...` spans in the prose: templates whose options must exist too."""
    found = []
    for number, line in enumerate((ROOT / doc).read_text().splitlines(), start=1):
        if line.startswith("    "):
            continue
        found += [Command(doc, number, span, inline=True) for span in re.findall(r"`(nnrun [^`]+)`", line)]
    return found


def is_template(text):
    """A synopsis rather than a command: placeholders in capitals, [optional] parts, <time>, ..."""
    return bool(re.search(r"(^|\s)[A-Z][A-Z_]+(\.\.\.)?([=\s]|$)|[\[<]|\.\.\.|…", text))


# ---- the commands' options ------------------------------------------------------------------------

def resolve(words):
    """(the click command or group named by `words` after `nnrun`, the words left)."""
    from nnrun.cli import cli

    command, ctx = cli, click.Context(cli)
    while isinstance(command, click.Group) and words and command.get_command(ctx, words[0]) is not None:
        command, words = command.get_command(ctx, words[0]), words[1:]
        ctx = click.Context(command)
    return command, words


def current_options(command):
    """Every option spelling --help shows (old spellings kept for old command lines are not
    current); for a group, those of all its commands."""
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        return set().union(*(current_options(command.get_command(ctx, n)) for n in command.list_commands(ctx)))
    return {o for p in command.params if isinstance(p, click.Option)
            for o in p.opts if o not in getattr(p, "old", ())} | {"-h", "--help"}


def nnrun_words(text):
    """The words of the nnrun command in `text` (after `-m nnrun` for torchrun), or None."""
    words = text.replace("[", " ").replace("]", " ").split()
    if words[0] == "nnrun":
        return words[1:]
    if "-m" in words and words[words.index("-m") + 1:words.index("-m") + 2] == ["nnrun"]:
        return words[words.index("-m") + 2:]
    return None


def unknown_options(text):
    words = nnrun_words(text)
    if words is None:
        return []
    command, rest = resolve(words)
    known = current_options(command)
    named = [w.split("=", 1)[0] for w in rest if re.fullmatch(r"--?[a-zA-Z][\w-]*(=.*)?", w)]
    return [option for option in named if option not in known]


def every_command():
    return [c for doc in DOCS for c in doc_commands(doc) + inline_commands(doc)]


def test_the_documents_hold_commands():
    commands = every_command()
    assert len([c for c in commands if not c.inline]) > 60, "the reading of code blocks found too few"
    texts = {c.text for c in commands}
    assert "nnrun check configs/fraud.yaml" in texts
    assert any(t.startswith("nnrun prepare csv ../shared/data/creditcard/creditcard-10k.csv.gz data/cc --label-column")
               for t in texts), "a command continued on the next line is read whole"


def test_every_option_the_documents_name_is_an_option_of_its_command():
    wrong = [f"{c}: {', '.join(unknown_options(c.text))}" for c in every_command() if unknown_options(c.text)]
    assert not wrong, "options the commands do not have (or old spellings):\n" + "\n".join(wrong)


def test_the_tables_name_only_commands_the_documents_hold():
    """A table entry whose command left the docs would silently excuse nothing: it goes too."""
    commands = every_command()
    for table in (NOT_RUN, SLOW, RUN_AS, HOOKS):
        for doc, prefix in table:
            assert any(doc in ("*", c.doc) and _first_words(c.text, prefix) for c in commands), (doc, prefix)


@pytest.mark.parametrize("doc", DOCS)
def test_code_blocks_are_set_apart_from_the_prose(doc):
    """An indented code block needs a blank line on each side: prose on the line after it reads
    as more code (docs/sweep.md's "... sweep-... With J > 1" ran on inside its block), and a
    block right after prose reads as more prose."""
    lines = (ROOT / doc).read_text().splitlines()
    fenced, joined = False, []
    for number, (line, after) in enumerate(zip(lines, lines[1:]), start=1):
        fenced = fenced != line.lstrip().startswith("```")
        code = [text.startswith("    ") and text.strip() for text in (line, after)]
        prose = [bool(text.strip()) and not text.startswith(" ") for text in (line, after)]
        if not fenced and ((code[0] and prose[1]) or (prose[0] and code[1])):
            joined.append(f"{doc}:{number}: {line.strip()[:60]!r} / {after.strip()[:60]!r}")
    assert not joined, "a code block and prose without a blank line between them:\n" + "\n".join(joined)


def test_the_benchmarks_the_documents_name_are_there():
    for command in every_command():
        if command.text.startswith("python bench/"):
            assert (ROOT / command.text.split()[1]).is_file(), command


# ---- small stand-ins for ../shared/data, and the files a reader brings ---------------------------------

def jpeg(path, colour, seed, size=(40, 30)):
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(colour) + rng.normal(0, 25, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, "JPEG")


def creditcard_rows(count, seed=0, label=True):
    """Rows with the columns of creditcard-10k.csv.gz: Time, V1..V28, Amount, Class (1 in 5 a
    fraud, which V1 and V2 give away)."""
    rng = np.random.default_rng(seed)
    header = ["Time"] + [f"V{i}" for i in range(1, 29)] + ["Amount"] + (["Class"] if label else [])
    rows = []
    for i in range(count):
        fraud = int(rng.random() < 0.2)
        v = rng.normal(size=28) + (2.5 if fraud else 0) * (np.arange(28) < 2)
        rows.append([str(i)] + [f"{x:.4f}" for x in v] + [f"{rng.exponential(80):.2f}"]
                    + ([str(fraud)] if label else []))
    return header, rows


def taxis_rows(count, seed=0, label=True):
    """Rows with taxis.csv.gz's kinds of columns: a date, numbers, words, blanks; the payment
    follows the colour and the tip."""
    rng = np.random.default_rng(seed)
    header = ["pickup", "passengers", "distance", "fare", "tip", "color", "pickup_borough"]
    header += ["payment"] if label else []
    rows = []
    for i in range(count):
        color = "yellow" if rng.random() < 0.6 else "green"
        tip = rng.random() < 0.5
        rows.append([f"2019-03-{1 + i % 28:02d} {i % 24:02d}:15:00", str(rng.integers(1, 5)), f"{rng.random() * 9:.2f}",
                     f"{5 + rng.random() * 30:.1f}", f"{rng.random() * 4:.2f}" if tip else "0.0", color,
                     "" if rng.random() < 0.1 else ["Manhattan", "Queens", "Brooklyn"][i % 3]]
                    + ([("credit card" if tip or color == "yellow" else "cash")] if label else []))
    return header, rows


def write_csv(path, header, rows, opener=open):
    with opener(path, "wt", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def idx(path, array, magic):
    header = np.array([magic, *array.shape], dtype=">i4").tobytes()
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def shared_data(tmp_path_factory):
    """WORK/shared/data: what ../shared/data holds, small. Each document's project folder is
    WORK/<name>, so ../shared/data is where the docs say."""
    work = tmp_path_factory.mktemp("docs")
    data = work / "shared" / "data"
    (data / "creditcard").mkdir(parents=True)
    write_csv(data / "creditcard" / "creditcard-10k.csv.gz", *creditcard_rows(500), opener=gzip.open)
    for i in range(1, 25):
        jpeg(data / "dogs-vs-cats" / "train" / f"cat.{i}.jpg", (200, 90, 60), seed=i)
        jpeg(data / "dogs-vs-cats" / "train" / f"dog.{i}.jpg", (60, 90, 200), seed=100 + i)
    (data / "tables").mkdir()
    write_csv(data / "tables" / "taxis.csv.gz", *taxis_rows(300), opener=gzip.open)
    (data / "mnist").mkdir()
    rng = np.random.default_rng(0)
    for name, count in (("train", 10_200), ("t10k", 100)):  # docs/prepare.md keeps 10,000 for validation
        labels = rng.integers(0, 10, count)
        images = np.zeros((count, 28, 28), np.uint8)
        for k in range(10):
            images[labels == k, 2 * k + 2:2 * k + 6, 4:24] = 255  # a bar whose height is the digit
        idx(data / "mnist" / f"{name}-images-idx3-ubyte.gz", images, 0x803)
        idx(data / "mnist" / f"{name}-labels-idx1-ubyte.gz", labels, 0x801)
    return work


def readers_files(project):
    """What a reader brings: photos of their own, Kaggle's test1/ and sample submission, new rows."""
    jpeg(project / "my-photo.jpg", (200, 90, 60), seed=7)
    jpeg(project / "photo.jpg", (60, 90, 200), seed=8)
    for i in range(3):
        jpeg(project / "holiday" / f"IMG_{i}.jpg", (120, 120, 120), seed=20 + i)
    for i in range(1, 13):
        jpeg(project / "test1" / f"{i}.jpg", (200, 90, 60) if i % 2 else (60, 90, 200), seed=40 + i)
    (project / "sample_submission.csv").write_text("id,label\n" + "".join(f"{i},0.5\n" for i in range(1, 13)))
    header, rows = creditcard_rows(30, seed=5, label=False)
    write_csv(project / "new-transactions.csv.gz", header, rows, opener=gzip.open)
    write_csv(project / "new-trips.csv", *taxis_rows(20, seed=5, label=False))
    write_csv(project / "labelled-trips.csv", *taxis_rows(40, seed=6))
    header, rows = creditcard_rows(20, seed=9, label=False)
    write_csv(project / "test.csv", ["Id"] + header, [[f"t{i}"] + row for i, row in enumerate(rows)])


# ---- what a document's commands need before they run ----------------------------------------------

def newest(folder, pattern="*"):
    return max((p for p in folder.glob(pattern) if p.is_dir()), key=lambda p: p.stat().st_mtime)


def copy_models(project):
    """docs/infer.md's a.nnrun, b.nnrun (an ensemble) and old/best.nnrun: checkpoints of the reader's."""
    (project / "old").mkdir()
    for name in ("a.nnrun", "b.nnrun", "old/best.nnrun"):
        shutil.copy(project / "runs" / "catsdogs" / "best.nnrun", project / name)


PREPARE_FRAUD = ("nnrun prepare csv ../shared/data/creditcard/creditcard-10k.csv.gz data/fraud --label-column Class "
                 "--drop Time --test-size 0.2 --validation-size 0.2")
# Per document: what its commands take as made already (commands of the other documents, run the same way).
SETUP = {
    "docs/config.md": ["nnrun prepare csv ../shared/data/creditcard/creditcard-10k.csv.gz data/cc --label-column Class "
                       "--drop Time --test-size 0.2 --validation-size 0.2"],
    "docs/infer.md": [PREPARE_FRAUD, "nnrun train configs/fraud.yaml --run-dir runs/fraud",
                      "nnrun prepare images ../shared/data/dogs-vs-cats/train data/catsdogs --size 52 --test-size 0.2 "
                      "--validation-size 0.2",
                      "nnrun train configs/catsdogs.yaml --run-dir runs/catsdogs", copy_models],
    "docs/sweep.md": [PREPARE_FRAUD],
    "docs/train.md": ["nnrun prepare demo fraud other/folder"],
}
# Before a command: what the reader has by then that the commands above do not make.
HOOKS = {
    ("README.md", "nnrun runs --diff runs/fraud-1 runs/fraud-2"):  # a second run to compare
        "nnrun train configs/fraud.yaml --set data=data/fraud --run-dir runs/fraud-2 --set train.seed=2",
    ("docs/sweep.md", "nnrun runs runs/fraud-sweep/sweep-2026-12-02_05-30-00"):  # the dated folder the docs show
        lambda project: newest(project / "runs" / "fraud-sweep", "sweep-*").rename(
            project / "runs" / "fraud-sweep" / "sweep-2026-12-02_05-30-00"),
    ("docs/train.md", "nnrun watch runs/fraud/2026-11-23_04-02-01"):
        lambda project: shutil.copytree(newest(project / "runs" / "fraud"),
                                        project / "runs" / "fraud" / "2026-11-23_04-02-01"),
}


def adjusted(words):
    """The command as run: one short epoch for train and sweep (two trials), a free port for a
    live page (8091 may be taken on a shared machine)."""
    words = list(words)
    if words[:2] == ["nnrun", "train"] or (words[:1] == ["torchrun"] and "train" in words):
        words += TINY
    if words[:2] == ["nnrun", "sweep"] and "--resume" not in words:
        words += ["--trials", "2"] + TINY
    if ("--live" in words or words[:2] == ["nnrun", "watch"]) and "--bind" not in words:
        words += ["--bind", "0"]
    return words


def run(project, step):
    """Run one step (a command line, or a function of the project folder); '' or what went wrong."""
    if callable(step):
        step(project)
        return ""
    words = step.split()
    if words[0] == "nnrun" and len(words) == 2:  # the README's list of commands: each answers --help
        return run_help(words)
    words = adjusted(words)
    if words[:2] == ["nnrun", "watch"]:
        return serve(project, words)
    if words[0] in ("torchrun", "python") or "--nproc" in words:  # a process of its own
        command = {"torchrun": [sys.executable, "-m", "torch.distributed.run"], "python": [sys.executable],
                   "nnrun": [sys.executable, "-m", "nnrun"]}[words[0]] + words[1:]
        done = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=600)
        return "" if done.returncode == 0 else f"exit {done.returncode}: {done.stderr[-2000:]}"
    result = run_cli(*words[1:])
    return "" if result.code == 0 else f"exit {result.code}: {result.output[-2000:]}"


def run_help(words):
    result = run_cli(words[1], "--help")
    return "" if result.code == 0 else f"exit {result.code}: {result.output[-2000:]}"


def serve(project, words):
    """`nnrun watch`: it serves until Ctrl-C, so in its own process: the page answers, Ctrl-C ends it (exit 0)."""
    process = subprocess.Popen([sys.executable, "-m", "nnrun"] + words[1:], cwd=project, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = process.stdout.readline()
        if " at http" not in line:
            process.kill()
            return f"no page served: {line}{process.communicate(timeout=30)[1]}"
        url = line.split(" at ", 1)[1].split()[0]
        with urllib.request.urlopen(url, timeout=10) as page:
            answered = page.status
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    if answered != 200 or process.returncode != 0:
        return f"page {answered}, exit {process.returncode}: {err[-2000:]}"
    return ""


def project_for(doc, shared_data, tier):
    project = shared_data / f"{Path(doc).stem}-{tier}"
    project.mkdir()
    for shipped in ("configs", "docs"):  # docs/examples/ holds scripts the docs run
        (project / shipped).symlink_to(ROOT / shipped)
    readers_files(project)
    return project


def run_document(doc, shared_data, monkeypatch, tier, setup=()):
    """Run `doc`'s commands of this tier ("default" or "slow"); returns the failures, one line
    each, and how many commands ran."""
    project = project_for(doc, shared_data, tier)
    monkeypatch.chdir(project)
    for step in [*SETUP.get(doc, []), *setup]:
        problem = run(project, step)
        assert not problem, f"setting up {doc}: {step}: {problem}"
    failures, ran = [], 0
    for command in doc_commands(doc):
        if lookup(NOT_RUN, doc, command.text):
            continue
        slow = lookup(SLOW, doc, command.text)
        concrete = lookup(RUN_AS, doc, command.text) or (None if is_template(command.text) else command.text)
        if concrete is None or (tier == "slow") != bool(slow):
            continue
        hook = lookup(HOOKS, doc, command.text)
        if hook:
            problem = run(project, hook)
            assert not problem, f"before {command}: {problem}"
        started = time.monotonic()
        problem = run(project, concrete)
        ran += 1
        if problem:
            failures.append(f"{command}\n    {problem}")
        elif tier == "default" and time.monotonic() - started > 30:
            failures.append(f"{command}\n    took {time.monotonic() - started:.0f} s: make it smaller in adjusted()")
    return failures, ran


@pytest.mark.parametrize("doc", DOCS)
def test_the_commands_of_the_document_run(doc, shared_data, monkeypatch):
    failures, ran = run_document(doc, shared_data, monkeypatch, "default")
    assert not failures, f"{len(failures)} of {ran} commands of {doc} failed:\n" + "\n".join(failures)


@pytest.mark.slow
def test_the_distributed_commands_of_the_documents_run(shared_data, monkeypatch):
    """`nnrun train --nproc 4` and torchrun on one machine: four processes each, on the CPU (gloo)."""
    failures, ran = run_document("docs/train.md", shared_data, monkeypatch, "slow",
                                 setup=["nnrun prepare mnist ../shared/data/mnist data/mnist --validation-size 10000"])
    assert ran == len(SLOW) and not failures, "\n".join(failures)
