"""VisualDL logging: training curves and sample grids in Paddle's dashboard, which AI Studio
shows natively. Optional: only ``train.py --visualdl`` needs the ``visualdl`` package, and
``metrics.jsonl``/``eval.jsonl`` stay the record either way.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from paddle_gan.cli import UserError
from paddle_gan.grids import tile


class VisualDL:
    """A VisualDL log directory; scalars go under ``train/`` and ``eval/``, grids under
    ``samples``. A resumed run appends to the same directory: steps trained again after a
    resume from an earlier checkpoint then appear twice."""

    def __init__(self, logdir: str | Path):
        try:
            from visualdl import LogWriter
        except ImportError:
            raise UserError("--visualdl needs VisualDL: pip install visualdl "
                            "(or train without --visualdl)") from None
        self.logdir = Path(logdir)
        self._writer = LogWriter(logdir=str(self.logdir))

    def scalars(self, group: str, step: int, values: dict[str, object]) -> None:
        """Every real number of ``values`` as ``group/name``; anything else (lists, mappings)
        is skipped."""
        for name, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self._writer.add_scalar(f"{group}/{name}", float(value), step)
        self._writer.flush()

    def grid(self, tag: str, step: int, images: np.ndarray, rows: int, cols: int) -> None:
        """Images in [0, 1] as one grid image, as ``save_grid`` tiles them."""
        canvas = (np.clip(tile(images, rows, cols), 0.0, 1.0) * 255).round().astype(np.uint8)
        self._writer.add_image(tag, np.repeat(canvas[..., None], 3, axis=2), step)
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> "VisualDL":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
