"""Every command's options side by side: one concept has one spelling in all of them, and the
spellings retired for it appear in no --help (they still parse where they shipped: see
test_prepare_csv, test_submit and test_live_http)."""
import click
import pytest

from conftest import run_cli

# concept: (its one spelling, the commands that take it)
SPELLINGS = {
    "the file a command writes": ("--output", {"infer", "kaggle-submit", "export", "report"}),
    "the CSV column of true labels": ("--label-column", {"prepare csv", "infer", "evaluate"}),
    "the CSV column of ids": ("--id-column", {"prepare csv", "infer", "kaggle-submit"}),
    "where the live page is served": ("--bind", {"watch", "train"}),
}
RETIRED = {"--out": "--output", "--label": "--label-column", "--id": "--id-column"}


def every_command():
    """{"prepare csv": click.Command, ...}: each command that runs, subcommands by their path."""
    from nnrun.cli import cli

    found = {}

    def walk(group, path):
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if isinstance(command, click.Group):
                walk(command, path + [name])
            else:
                found[" ".join(path + [name])] = command

    walk(cli, [])
    return found


def shown_options(command):
    """The option spellings --help shows for `command` (old spellings kept for old command lines
    are left out of it)."""
    return {o for p in command.params if isinstance(p, click.Option)
            for o in p.opts if o not in getattr(p, "old", ())}


def test_every_command_is_found():
    assert {"check", "train", "infer", "kaggle-submit", "prepare csv", "prepare demo fraud", "watch"} \
        <= set(every_command())


@pytest.mark.parametrize("concept", SPELLINGS)
def test_one_concept_one_spelling(concept):
    spelling, commands = SPELLINGS[concept]
    found = every_command()
    for name in commands:
        assert spelling in shown_options(found[name]), (concept, name, sorted(shown_options(found[name])))


def test_o_is_output_wherever_it_is_taken():
    for name, command in every_command().items():
        for param in command.params:
            if "-o" in getattr(param, "opts", ()):
                assert "--output" in param.opts, name


@pytest.mark.parametrize("name", sorted(every_command()))
def test_no_help_shows_a_retired_spelling(name):
    command = every_command()[name]
    assert not shown_options(command) & set(RETIRED), (name, shown_options(command) & set(RETIRED))
    shown = run_cli(*name.split(), "--help")
    assert shown.code == 0, shown
    words = set(shown.stdout.replace(",", " ").split())
    assert not words & set(RETIRED), (name, words & set(RETIRED))
