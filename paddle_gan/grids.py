"""Image grids of generated digits, saved as PNG with matplotlib."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from paddle_gan.data import IMAGE_SIDE


def tile(images: np.ndarray, rows: int, cols: int, pad: int = 2) -> np.ndarray:
    """``[rows * cols, 784 | 28 x 28 | 1 x 28 x 28]`` images -> one 2-D array, row-major, white gaps."""
    side = IMAGE_SIDE
    images = np.asarray(images, dtype=np.float32).reshape(rows * cols, side, side)
    cell = side + pad
    canvas = np.ones((rows * cell + pad, cols * cell + pad), dtype=np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        canvas[pad + r * cell: pad + r * cell + side, pad + c * cell: pad + c * cell + side] = img
    return canvas


def save_grid(images: np.ndarray, path: str | Path, rows: int, cols: int,
              scale: int = 2) -> Path:
    """Write a grid PNG (white digits on black, upscaled by ``scale``); returns the path."""
    from matplotlib.image import imsave  # no pyplot: the caller's backend stays as it was

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas = np.clip(tile(images, rows, cols), 0.0, 1.0)
    canvas = canvas.repeat(scale, axis=0).repeat(scale, axis=1)
    imsave(path, canvas, cmap="gray", vmin=0.0, vmax=1.0)
    return path
