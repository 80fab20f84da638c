#!/usr/bin/env python3
"""How near the machine's limit an InfoGAN iteration runs: ``python benchmarks/flops.py``.

Counts the floating-point operations of one training iteration from the weight shapes of the
built model (the paper's Table 1, ``paddle_gan/nn/networks.py``), as the default InfoGAN trains
it (Q in the D step), and measures the fp32 GEMM rate of this machine through Paddle's CPU matmul, with its
native kernel (MKL) and with oneDNN's. Given a measured iteration rate (``--it-per-s``, from
``benchmarks/bench.py``), prints the achieved GFLOP/s and its fraction of each GEMM rate.

Counting: a multiply-add is 2 FLOPs; a layer's backward costs one forward for the input
gradient and one for the weight gradient; batch norm, activations, losses and Adam are left
out (they are memory-bound and small next to the GEMMs and convolutions).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from paddle_gan import runtime

runtime.configure()  # first: it sets what Paddle reads when it is imported

import paddle  # noqa: E402

from paddle_gan.device import add_threads_argument, set_cpu_threads  # noqa: E402
import programs  # noqa: E402


# (weight, the spatial positions it is applied at, whether its input needs a gradient when
# the network is trained): a convolution's weight at each output position, a transposed
# convolution's at each input position (each spreads k x k), a linear layer's once
GENERATOR = [("G_fc1.w", 1, False), ("G_fc2.w", 1, True), ("G_up1.w", 7 * 7, True),
             ("G_up2.w", 14 * 14, True)]
TRUNK = [("D_conv1.w", 14 * 14, False), ("D_conv2.w", 7 * 7, True), ("D_fc3.w", 1, True)]
D_HEAD = [("D_out.w", 1, True)]
Q_HEAD = [("Q_fc1.w", 1, True), ("Q_out.w", 1, True)]


def iteration_flops_per_image(weights: dict[str, tuple[int, ...]]) -> dict[str, float]:
    """FLOPs per image of the default InfoGAN iteration, from the model's weight shapes. The
    D step trains D's trunk and head and Q on a real and a fake batch (G runs forward only);
    the G step trains G through the frozen trunk, D head and Q, which pass gradients back."""
    def forward(layers) -> float:
        return sum(2.0 * np.prod(weights[name]) * positions for name, positions, _ in layers)

    def trained(layers) -> float:  # forward, weight gradients, input gradients where needed
        return sum(2.0 * np.prod(weights[name]) * positions * (3 if input_grad else 2)
                   for name, positions, input_grad in layers)

    def passed_through(layers) -> float:  # forward and input gradients
        return 2 * forward(layers)

    real = trained(TRUNK) + trained(D_HEAD)
    fake = trained(TRUNK) + trained(D_HEAD) + trained(Q_HEAD)
    d_step = forward(GENERATOR) + real + fake
    g_step = trained(GENERATOR) + passed_through(TRUNK + D_HEAD + Q_HEAD)
    return {"d_step": d_step, "g_step": g_step, "iteration": d_step + g_step}


def weight_shapes() -> dict[str, tuple[int, ...]]:
    """The default InfoGAN's weights, as built (networks.py), by name."""
    session = programs.new_session(programs.model_config("infogan"), paddle.CPUPlace())
    names = [name for layers in (GENERATOR, TRUNK, D_HEAD, Q_HEAD) for name, _, _ in layers]
    return {name: value.shape for name, value in session.read(names).items()}


def gemm_rate(n: int, onednn: bool, repeats: int) -> float:
    """GFLOP/s of an n x n x n fp32 matmul through Paddle's CPU kernel (dygraph)."""
    paddle.set_flags({"FLAGS_use_mkldnn": onednn})
    rng = np.random.default_rng(0)
    a = paddle.to_tensor(rng.random((n, n), dtype=np.float32))
    b = paddle.to_tensor(rng.random((n, n), dtype=np.float32))
    for _ in range(2):
        paddle.matmul(a, b).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        paddle.matmul(a, b).numpy()
        times.append(time.perf_counter() - start)
    paddle.set_flags({"FLAGS_use_mkldnn": False})
    return 2.0 * n ** 3 / float(np.median(times)) / 1e9


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--it-per-s", type=float, default=None,
                   help="a measured InfoGAN iteration rate (bench.py's it_per_s)")
    add_threads_argument(p)
    p.add_argument("--gemm-size", type=int, default=2048)
    p.add_argument("--repeats", type=int, default=10)
    args = p.parse_args(argv)
    paddle.set_device("cpu")
    threads = set_cpu_threads(args.threads)
    per_image = iteration_flops_per_image(weight_shapes())
    paddle.disable_static()
    result = {"batch": args.batch_size, "threads": threads,
              "gflop_per_iteration": per_image["iteration"] * args.batch_size / 1e9,
              "gflop_per_image": {k: v / 1e9 for k, v in per_image.items()},
              "gemm_gflops_native": gemm_rate(args.gemm_size, False, args.repeats),
              "gemm_gflops_onednn": gemm_rate(args.gemm_size, True, args.repeats),
              "paddle": paddle.__version__}
    if args.it_per_s is not None:
        achieved = result["gflop_per_iteration"] * args.it_per_s
        result["achieved_gflops"] = achieved
        result["fraction_of_native_gemm"] = achieved / result["gemm_gflops_native"]
        result["fraction_of_onednn_gemm"] = achieved / result["gemm_gflops_onednn"]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
