"""matplotlib, set up once for drawing into files (the Agg backend: no display needed), and the
ways a finished figure leaves: PNG bytes, or an RGB array (TensorBoard's images).

Only the commands that draw import this module, so training and inference never load matplotlib.
"""
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402

DPI = 100
BEST_COLOUR = "#d62728"


def figure(width=6.4, height=4.0):
    fig = plt.figure(figsize=(width, height), dpi=DPI)
    return fig


def png_bytes(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def rgb_array(fig):
    """[H, W, 3] uint8 of the drawn figure (closes it)."""
    fig.canvas.draw()
    array = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return array
