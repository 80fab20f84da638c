#!/usr/bin/env python3
"""Throughput peer in Paddle's own eager mode: the MLP-GAN and InfoGAN of the PyTorch peer
(``../shared/peers/torch_gan_peer.py``), layer for layer and loss for loss, as ``paddle.nn``
Layers run in dygraph, or with ``--to-static`` their forward passes compiled by
``paddle.jit.to_static`` (backward and Adam stay eager, as in a typical to_static training
loop). What a Paddle user would write instead of this project's static Programs.

``python benchmarks/paddle_peer.py infogan [--to-static] [--infer]``; prints one JSON line:
{"model", "mode", "batch", "threads", "it_per_s", "samples_per_s", "peak_rss_mb"}.
"""
from __future__ import annotations

import argparse
import json
import resource
import time

from paddle_gan import runtime

runtime.configure()  # the process set-up every side gets; it leaves Paddle in static mode

import paddle  # noqa: E402
import paddle.nn as nn  # noqa: E402
import paddle.nn.functional as F  # noqa: E402

from paddle_gan.device import add_threads_argument, set_cpu_threads  # noqa: E402

paddle.disable_static()  # this peer is Paddle's eager mode


class MlpGenerator(nn.Layer):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(100, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid())

    def forward(self, z):
        return self.net(z)


class MlpDiscriminator(nn.Layer):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 1))

    def forward(self, x):
        return self.net(x)


class InfoGenerator(nn.Layer):
    """The InfoGAN paper's MNIST generator (Table 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(74, 1024), nn.BatchNorm1D(1024), nn.ReLU(),
                                nn.Linear(1024, 7 * 7 * 128), nn.BatchNorm1D(7 * 7 * 128), nn.ReLU())
        self.up = nn.Sequential(nn.Conv2DTranspose(128, 64, 4, 2, 1), nn.BatchNorm2D(64), nn.ReLU(),
                                nn.Conv2DTranspose(64, 1, 4, 2, 1), nn.Sigmoid())

    def forward(self, z):
        return self.up(self.fc(z).reshape([-1, 128, 7, 7]))


class InfoDiscriminator(nn.Layer):
    """D's trunk shared with the D head and the Q head: (D logit, Q's 14 outputs)."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Conv2D(1, 64, 4, 2, 1), nn.LeakyReLU(0.1),
                                   nn.Conv2D(64, 128, 4, 2, 1), nn.BatchNorm2D(128), nn.LeakyReLU(0.1),
                                   nn.Flatten(), nn.Linear(6272, 1024), nn.BatchNorm1D(1024),
                                   nn.LeakyReLU(0.1))
        self.d = nn.Linear(1024, 1)
        self.q = nn.Sequential(nn.Linear(1024, 128), nn.BatchNorm1D(128), nn.LeakyReLU(0.1),
                               nn.Linear(128, 10 + 2 + 2))

    def forward(self, x):
        h = self.trunk(x)
        return self.d(h), self.q(h)


def uniform(shape: list[int]):
    return paddle.rand(shape) * 2 - 1


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", choices=["gan", "infogan"])
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    add_threads_argument(p)
    p.add_argument("--infer", action="store_true", help="time the generator alone, eval mode")
    p.add_argument("--to-static", action="store_true",
                   help="compile the networks' forward passes with paddle.jit.to_static")
    a = p.parse_args(argv)
    paddle.set_device("cpu")
    threads = set_cpu_threads(a.threads)
    paddle.seed(0)
    B = a.batch_size
    bce = F.binary_cross_entropy_with_logits
    ones, zeros = paddle.ones([B, 1]), paddle.zeros([B, 1])

    if a.model == "gan":
        G, D = MlpGenerator(), MlpDiscriminator()
        oD = paddle.optimizer.Adam(1e-3, parameters=D.parameters())
        oG = paddle.optimizer.Adam(1e-3, parameters=G.parameters())
        x = paddle.rand([B, 784])
        z_dim = 100
    else:
        G, D = InfoGenerator(), InfoDiscriminator()
        oD = paddle.optimizer.Adam(2e-4, beta1=0.5, parameters=D.parameters())
        # Q is in both optimisers, as in the PyTorch peer; gradients are cleared to unset (not
        # zero, Paddle's default), so D's Adam skips Q, whose D-step gradient is never set
        oG = paddle.optimizer.Adam(1e-3, beta1=0.5,
                                   parameters=G.parameters() + D.q.parameters())
        x = paddle.rand([B, 1, 28, 28])
        z_dim = 74
    if a.to_static:
        G, D = paddle.jit.to_static(G), paddle.jit.to_static(D)

    if a.infer:  # generator forward only, eval mode (BN uses running statistics), no autograd
        G.eval()
        z_inf = uniform([B, z_dim])

        def step() -> None:
            with paddle.no_grad():
                G(z_inf).numpy()  # the copy out waits for the work
    elif a.model == "gan":
        def step() -> None:
            z = uniform([B, 100])
            fake = G(z)
            d_loss = bce(D(x), ones) + bce(D(fake.detach()), zeros)
            oD.clear_grad(set_to_zero=False)
            d_loss.backward()
            oD.step()
            g_loss = bce(D(G(z)), ones)
            oG.clear_grad(set_to_zero=False)
            g_loss.backward()
            oG.step()
    else:
        def step() -> None:
            c = paddle.randint(0, 10, [B])
            cont = uniform([B, 2])
            z = paddle.concat([uniform([B, 62]), F.one_hot(c, 10), cont], axis=1)
            fake = G(z)
            d_real, _ = D(x)
            d_fake, _ = D(fake.detach())
            d_loss = bce(d_real, ones) + bce(d_fake, zeros)
            oD.clear_grad(set_to_zero=False)
            d_loss.backward()
            oD.step()
            d_fake, q = D(fake)
            mu, log_sigma = q[:, 10:12], q[:, 12:14]
            nll = (((cont - mu) / log_sigma.exp()) ** 2 / 2 + log_sigma).sum(axis=1).mean()
            g_loss = bce(d_fake, ones) + F.cross_entropy(q[:, :10], c) + 0.1 * nll
            oG.clear_grad(set_to_zero=False)
            g_loss.backward()
            oG.step()

    for _ in range(a.warmup):
        step()
    start = time.perf_counter()
    for _ in range(a.steps):
        step()
    elapsed = time.perf_counter() - start
    print(json.dumps({"model": a.model, "mode": "infer" if a.infer else "train", "batch": B,
                      "threads": threads, "to_static": a.to_static,
                      "paddle": paddle.__version__,
                      "it_per_s": round(a.steps / elapsed, 3),
                      "samples_per_s": round(a.steps * B / elapsed, 1),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                                           1)}))


if __name__ == "__main__":
    main()
