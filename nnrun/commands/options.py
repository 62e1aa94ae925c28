"""Options shared by several commands."""
import click

set_option = click.option(
    "--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
    help="Override a config value (the value is read as YAML), e.g. --set train.batch-size=64.")
