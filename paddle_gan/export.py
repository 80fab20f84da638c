"""The trained generator as a Paddle inference model (latent z in, images out), for deployment.

``export`` writes the inference Program with ``paddle.static.save_inference_model`` plus a
``model.json`` naming the model; :class:`ExportedGenerator` serves it with a
``paddle.inference`` predictor.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import paddle

from paddle_gan import onednn
from paddle_gan.cli import UserError
from paddle_gan.device import current_cpu_threads, reapply_cpu_threads
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
    """An exported generator served by Paddle Inference, as a deployment would run it:
    ``generator(z) -> images [n, 1, 28, 28]``. No Layers, no Programs of ours, no checkpoint.

    On the CPU the predictor runs on oneDNN, with this process's thread count, after its IR passes (fc fusion, batch norm folded
    into the (transposed) convolutions before it). The oneDNN transposed-convolution kernel
    that kept stale weights while training is safe here, where the weights never change.
    """

    def __init__(self, directory: Path, place: paddle.CPUPlace | paddle.CUDAPlace) -> None:
        try:
            self.meta = json.loads((directory / META).read_text())
        except (OSError, ValueError) as err:
            raise UserError(f"{directory}: not an exported model ({META}: {err}); "
                            "export one with infer.py --export DIR") from None
        # save_inference_model writes generator.json under PIR, generator.pdmodel before it
        graphs = [directory / f"{PREFIX}{ext}" for ext in (".json", ".pdmodel")]
        graph = next((g for g in graphs if g.is_file()), None)
        if graph is None:
            raise UserError(f"{directory}: no {PREFIX}.json or {PREFIX}.pdmodel; "
                            "export again with infer.py --export DIR")
        config = paddle.inference.Config(str(graph), str(directory / f"{PREFIX}.pdiparams"))
        if isinstance(place, paddle.CUDAPlace):
            config.enable_use_gpu(256, place.get_device_id())
        else:
            config.disable_gpu()
            config.enable_mkldnn()
            config.set_cpu_math_library_num_threads(current_cpu_threads())
        config.switch_ir_optim(True)
        config.disable_glog_info()
        self.predictor = paddle.inference.create_predictor(config)
        self._input = self.predictor.get_input_names()[0]  # z
        self._output = self.predictor.get_output_names()[0]  # the images

    @property
    def kind(self) -> str:
        return self.meta["model"]["kind"]

    def __call__(self, z: np.ndarray) -> np.ndarray:
        feed = self.predictor.get_input_handle(self._input)
        feed.reshape(list(z.shape))
        feed.copy_from_cpu(np.ascontiguousarray(z, dtype=np.float32))
        self.predictor.run()
        images = self.predictor.get_output_handle(self._output).copy_to_cpu()
        reapply_cpu_threads()
        return images
