"""`nnrun check CONFIG`: the layer table (index, id, layer, output shape, parameters), no training."""
import json

import click

from nnrun.commands.options import set_option


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@set_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def check(config, overrides, fmt):
    """Validate CONFIG and show its layers, output shapes and parameter counts."""
    from nnrun.config.spec import load_spec

    spec = load_spec(config, overrides, unresolved_ok=True)  # a bad config is refused here, before torch
    if spec.plan is None:
        _unresolved(spec, config, fmt)
        return
    from nnrun.network.build import count_parameters  # imports torch (seconds)
    counts = count_parameters(spec.plan, f"{config}: network")
    rows = [{"index": node.index, "id": node.id, "layer": node.layer, "parents": node.parents,
             "output-shape": node.out_shape.to_list(), "parameters": counts[node.id]}
            for node in spec.plan.nodes]
    total = sum(counts.values())
    trainable = sum(counts[n.id] for n in spec.plan.nodes if not n.options.get("non-trainable?")
                    and n.options.get("learning-attenuation", 1) != 0)
    if fmt == "json":
        click.echo(json.dumps({"config": config, "name": spec.name, "layers": rows,
                               "total-parameters": total, "trainable-parameters": trainable}, indent=2))
        return
    table = [("#", "id", "layer", "output", "params")]
    for row, node in zip(rows, spec.plan.nodes):
        table.append((str(row["index"]), row["id"], row["layer"], str(node.out_shape), f"{row['parameters']:,}"))
    widths = [max(len(r[i]) for r in table) for i in range(5)]
    for i, row in enumerate(table):
        click.echo("  ".join(cell.rjust(w) if c in (0, 4) else cell.ljust(w)
                             for c, (cell, w) in enumerate(zip(row, widths))).rstrip())
        if i == 0:
            click.echo("  ".join("-" * w for w in widths))
    losses = ", ".join(f"{leaf.id}: {spec.plan.loss(leaf)}"
                       + (f" reconstructing {spec.plan.target(leaf)}" if spec.plan.target(leaf) else " against labels")
                       for leaf in spec.plan.leaves)
    click.echo(f"total parameters: {total:,} ({trainable:,} trainable); loss: {losses}")
    for node in spec.plan.nodes:
        if node.layer == "embedding":
            click.echo(_embedding_line(node))
    from nnrun.config.auto_input import auto_input_indices

    if auto_input_indices(spec.raw["network"]):
        click.echo(f"input shape {spec.plan.inputs[0].out_shape}: width auto, from {spec.data['path']}")


def _embedding_line(node):
    """What an embedding layer does with each column: its categories' codes and sizes, its numbers."""
    from nnrun.network.layers.tabular import category_sizes

    p = node.args
    names = p["features"] or [str(j + 1) for j in range(len(p["levels"]))]
    categories = [f"{names[j]} {codes}→{size}" for j, codes, size in category_sizes(p)]
    numbers = sum(1 for codes in p["levels"] if codes == 0)
    how = (f"periodic ({p['frequencies']} frequencies → {p['number-size']})" if p["numbers"] == "periodic"
           else "as they are") + (f", clipped smoothly at {p['clip']:g}" if p["clip"] else "")
    shown = ", ".join(categories) if categories else "none"
    return (f"{node.id}: {len(categories)} categor{'y' if len(categories) == 1 else 'ies'} (codes→size): {shown}; "
            f"{numbers} number{'s' if numbers != 1 else ''} {how}")


def _unresolved(spec, config, fmt):
    """An input of width auto and no dataset: the layers as written, and what shapes wait for."""
    from nnrun.network.plan import parse_layer

    calls = [parse_layer(entry, index) for index, entry in enumerate(spec.raw["network"])]
    if fmt == "json":
        click.echo(json.dumps({"config": config, "name": spec.name, "unresolved": spec.unresolved,
                               "layers": [{"index": c.index, "layer": c.name} for c in calls]}, indent=2))
        return
    click.echo(f"note: {spec.unresolved}")
    for call in calls:
        click.echo(f"  {call.index:>3}  {call.place()}")
    click.echo("shapes and parameter counts: when the dataset is known")
