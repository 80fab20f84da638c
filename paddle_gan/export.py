"""The trained generator as a Paddle inference model (latent z in, images out), for deployment.

``export`` writes the inference Program with ``paddle.static.save_inference_model`` plus a
``model.json`` naming the model; :class:`ExportedGenerator` runs it back with
``paddle.static.load_inference_model``: no Layers, no Programs of ours, no checkpoint.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import paddle

from paddle_gan import onednn
from paddle_gan.cli import UserError
from paddle_gan.session import Session

PREFIX, META = "generator", "model.json"


def export(session: Session, directory: Path, step: int) -> Path:
    """Save ``session``'s inference Program and the generator weights it reads."""
    infer = session.programs.steps["infer"]
    if onednn.has_rewritten_ops(infer.program):
        raise RuntimeError("the inference Program holds oneDNN-only ops (the oneDNN rewrite "
                           "changed its convolutions); build it without the rewrite to export")
    directory.mkdir(parents=True, exist_ok=True)
    # save_inference_model reads parameter values from the global scope: point it at ours.
    with paddle.static.scope_guard(session.scope):
        paddle.static.save_inference_model(str(directory / PREFIX), [infer.feeds["z"]],
                                           [infer.fetches["images"]], session.executor,
                                           program=infer.program)
    meta = {"model": session.programs.config.to_dict(), "step": step,
            "z_dim": int(infer.feeds["z"].shape[1]), "paddle": paddle.__version__}
    (directory / META).write_text(json.dumps(meta, indent=1))
    return directory


class ExportedGenerator:
    """An exported generator loaded for inference: ``generator(z) -> images [n, 1, 28, 28]``."""

    def __init__(self, directory: Path, place: paddle.CPUPlace | paddle.CUDAPlace) -> None:
        try:
            self.meta = json.loads((directory / META).read_text())
        except (OSError, ValueError) as err:
            raise UserError(f"{directory}: not an exported model ({META}: {err}); "
                            "export one with infer.py --export DIR") from None
        paddle.enable_static()
        self.scope = paddle.static.Scope()
        self.executor = paddle.static.Executor(place)
        with paddle.static.scope_guard(self.scope):
            self.program, self.feeds, self.fetches = paddle.static.load_inference_model(
                str(directory / PREFIX), self.executor)

    @property
    def kind(self) -> str:
        return self.meta["model"]["kind"]

    def __call__(self, z: np.ndarray) -> np.ndarray:
        (images,) = self.executor.run(self.program, feed={self.feeds[0]: z},
                                      fetch_list=self.fetches, scope=self.scope)
        return images
