"""`nnrun export CHECKPOINT -o FILE [--format onnx|safetensors|torchscript|nnrun]`.

A thin wrapper over nnrun.export.formats: the format comes from --format, or from FILE's
extension (.onnx, .safetensors, .pt/.ts, .nnrun).
"""
import click


@click.command()
@click.argument("checkpoint", type=click.Path(dir_okay=False, path_type=str))
@click.option("--output", "-o", "out", required=True, type=click.Path(dir_okay=False, path_type=str),
              help="The file to write (atomically).")
@click.option("--format", "fmt", type=click.Choice(["onnx", "safetensors", "torchscript", "nnrun"]), default=None,
              help="onnx: the network with its weights and nnrun's metadata, for any ONNX consumer. "
                   "safetensors: the weights, metadata as JSON. torchscript: for libtorch. nnrun: the "
                   "checkpoint with its ONNX graph added (for files from an older nnrun) "
                   "[default: from FILE's extension].")
def export(checkpoint, out, fmt):
    """Write the network of CHECKPOINT (a best.nnrun or last.nnrun) in another format."""
    from nnrun.export.formats import export_model, format_for

    fmt = fmt or format_for(out)
    size = export_model(checkpoint, out, fmt)
    click.echo(f"wrote {out} ({fmt}, {size:,} bytes)")
