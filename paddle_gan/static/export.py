"""The trained generator as a Paddle inference model (latent z in, images out), for deployment.

``export`` builds the generator again as it is deployed (:class:`DeployLayers`), writes it
with ``paddle.static.save_inference_model`` plus a ``model.json`` naming the model, and
:class:`ExportedGenerator` serves it with a ``paddle.inference`` predictor.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import paddle
import paddle.nn.functional as F

from paddle_gan.cli import UserError
from paddle_gan.device import current_cpu_threads, reapply_cpu_threads
from paddle_gan.static.layers import Initializer, Layers, add_channel_bias
from paddle_gan.static.session import Session

PREFIX, META = "generator", "model.json"

Trained = Callable[[str], np.ndarray]  # a trained parameter's value, by name
_DERIVED = paddle.nn.initializer.Constant(0.0)  # never run: export sets every value


class DeployLayers(Layers):
    """Inference layers rebuilt for a predictor, with the same outputs as ``Layers(training=False)``:

    - batch norm after a bias-free fully connected layer folded into its weights and a bias (the
      predictor's passes fold batch norm into convolutions, not into fully connected layers);
    - a transposed convolution to one channel (the image layer) as a convolution to stride²
      channels and a pixel shuffle: oneDNN's transposed convolution is slow with one output
      channel, and this form is faster although it multiplies zeros too.

    A parameter they change gets a new name, ``<layer>.w_folded`` say, and ``derived`` says how
    its value follows from the trained ones (BENCHMARKS.md has the timings).
    """

    def __init__(self) -> None:
        super().__init__(training=False)
        self.derived: dict[str, Callable[[Trained], np.ndarray]] = {}
        # the output and full name of the bias-free linear layer last built, until its batch norm
        self._unfolded: tuple[paddle.pir.Value, str] | None = None

    def values(self, trained: Trained) -> dict[str, np.ndarray]:
        """Every parameter's value for the deployed Program."""
        self._nothing_to_fold()
        values = {}
        for name in self.names:
            if name in self.derived:
                values[name] = self.derived[name](trained).astype(np.float32)
            else:
                values[name] = trained(name)
        return values

    def _nothing_to_fold(self) -> None:
        """A bias-free linear layer's values are only known once its batch norm follows."""
        if self._unfolded is not None:
            raise RuntimeError(f"{self._unfolded[1]} has no bias and no batch norm after it")

    def linear(self, name: str, x: paddle.pir.Value, size: int,
               w_init: Initializer | None = None, bias: bool = True) -> paddle.pir.Value:
        if bias:
            return super().linear(name, x, size, w_init, bias)
        self._nothing_to_fold()
        w = self.parameter(f"{name}.w_folded", [x.shape[-1], size], _DERIVED)
        b = self.parameter(f"{name}.b_folded", [size], _DERIVED)
        y = F.linear(x, w, b)
        self._unfolded = (y, self._prefix + name)
        return y

    def conv2d_transpose(self, name: str, x: paddle.pir.Value, filters: int, size: int,
                         stride: int, padding: int, w_init: Initializer,
                         bias: bool = True) -> paddle.pir.Value:
        if filters != 1 or size - 2 * padding != stride:  # not an image layer, or other output size
            return super().conv2d_transpose(name, x, filters, size, stride, padding, w_init, bias)
        layer = self._prefix + name
        reach = subpixel_reach(stride, padding)
        taps = 2 * reach + 1
        w = self.parameter(f"{name}.w_subpixel", [stride * stride, x.shape[1], taps, taps], _DERIVED)
        self.derived[f"{layer}.w_subpixel"] = lambda trained: subpixel_weight(
            trained(f"{layer}.w"), stride, padding)
        y = F.conv2d(x, w, padding=reach)
        if bias:
            b = self.parameter(f"{name}.b_subpixel", [stride * stride], _DERIVED)
            self.derived[f"{layer}.b_subpixel"] = lambda trained: np.repeat(
                trained(f"{layer}.b"), stride * stride)
            y = add_channel_bias(y, b)
        return F.pixel_shuffle(y, stride)

    def batch_norm(self, name: str, x: paddle.pir.Value, momentum: float = 0.9,
                   epsilon: float = 1e-5) -> paddle.pir.Value:
        if self._unfolded is None or self._unfolded[0] is not x:
            return super().batch_norm(name, x, momentum, epsilon)
        layer = self._unfolded[1]
        self._unfolded = None
        norm = self._prefix + name

        def scale(trained: Trained) -> np.ndarray:
            """gamma / sqrt(var + eps): BN at inference is x * scale + (beta - mean * scale)"""
            return trained(f"{norm}.g") / np.sqrt(trained(f"{norm}.var") + epsilon)

        self.derived[f"{layer}.w_folded"] = lambda trained: trained(f"{layer}.w") * scale(trained)
        self.derived[f"{layer}.b_folded"] = lambda trained: (
            trained(f"{norm}.b") - trained(f"{norm}.mean") * scale(trained))
        return x


def subpixel_reach(stride: int, padding: int) -> int:
    """How many input pixels on either side of its own each output pixel reads, in a transposed
    convolution whose output is ``stride`` times its input (kernel ``stride + 2 * padding``)."""
    return (stride - 1 + padding) // stride


def subpixel_weight(w: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """A one-channel transposed convolution's weight [in, 1, k, k] as a convolution's weight
    [stride², in, taps, taps]: output channel ``a * stride + b`` computes the output pixels at
    row phase a and column phase b, which the pixel shuffle puts in place. Output pixel
    ``stride * m + a`` takes input pixel ``m + d`` through kernel row ``a + padding - stride * d``."""
    size = w.shape[-1]
    reach = subpixel_reach(stride, padding)
    taps = 2 * reach + 1
    kernel = np.zeros((stride * stride, w.shape[0], taps, taps), w.dtype)
    for a in range(stride):
        for b in range(stride):
            for dy in range(-reach, reach + 1):
                for dx in range(-reach, reach + 1):
                    row, col = a + padding - stride * dy, b + padding - stride * dx
                    if 0 <= row < size and 0 <= col < size:
                        kernel[a * stride + b, :, dy + reach, dx + reach] = w[:, 0, row, col]
    return kernel


def export(session: Session, directory: Path, step: int) -> Path:
    """Save ``session``'s generator, built by :class:`DeployLayers`, with the values it derives
    from the session's weights."""
    z_dim = session.programs.latent.dim
    program = paddle.static.Program()
    layers = DeployLayers()
    with paddle.static.program_guard(program, paddle.static.Program()):
        z = paddle.static.data("z", [None, z_dim], "float32")
        images = session.programs.generator(layers, z)

    trained = session.read(session.programs.parameter_names())
    scope = paddle.static.Scope()
    for name, value in layers.values(trained.__getitem__).items():
        scope.var(name).get_tensor().set(value, session.place)
    directory.mkdir(parents=True, exist_ok=True)
    # save_inference_model reads parameter values from the global scope: point it at this one
    with paddle.static.scope_guard(scope):
        paddle.static.save_inference_model(str(directory / PREFIX), [z], [images],
                                           session.executor, program=program)
    meta = {"model": session.programs.config.to_dict(), "step": step, "z_dim": z_dim,
            "paddle": paddle.__version__}
    (directory / META).write_text(json.dumps(meta, indent=1))
    return directory


class ExportedGenerator:
    """An exported generator served by Paddle Inference, as a deployment would run it:
    ``generator(z) -> images [n, 1, 28, 28]``. No Layers, no Programs of ours, no checkpoint.

    On the CPU the predictor runs on oneDNN, with this process's thread count, after its IR
    passes (fc fusion, batch norm folded into the transposed convolution before it, activations
    fused into the layers before them). The oneDNN transposed-convolution kernel
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
        # Paddle 2.6's fusion of consecutive fc + ReLU runs them slower than unfused
        config.delete_pass("repeated_fc_relu_fuse_pass")
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
