"""Whether a planned network can fit in this machine's memory at all, asked before anything is
allocated: a layer of a billion units would otherwise make torch try (and fail, or swap for
minutes) to allocate terabytes. The test is deliberately loose - it refuses only networks whose
float32 weights alone, or the values one single example makes flowing through it, exceed the
machine's memory - so everything that could possibly run is left to run.
"""
import os

from nnrun.errors import UserError

FLOAT_BYTES = 4


def machine_memory():
    """This machine's physical memory in bytes, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def size_text(count):
    """12_000_000_000 -> '12.0 GB' (decimal units, as disks and the issue reports use)."""
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB", "EB"):
        if count < 1000 or unit == "EB":
            return f"{count:,} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} EB"  # unreachable; keeps the function total


def require_fit(plan, counts, where="network", memory=None):
    """UserError when `plan` (with `counts`: {node id: parameter count}) cannot fit in memory."""
    memory = machine_memory() if memory is None else memory
    if not memory:
        return
    parameters = sum(counts.values())
    weights = parameters * FLOAT_BYTES
    if weights > memory:
        raise UserError(f"{where}: its {parameters:,} parameters need {size_text(weights)} as float32 "
                        f"weights alone; this machine has {size_text(memory)} of memory")
    values = sum(node.out_shape.size for node in plan.nodes) * FLOAT_BYTES
    if values > memory:
        raise UserError(f"{where}: one example's values through its layers need {size_text(values)}; "
                        f"this machine has {size_text(memory)} of memory")
