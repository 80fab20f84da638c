"""Layers whose parameters have global names and exist once per Program.

The article's recipe shares weights between Programs (D step, G step, inference) by giving
them the same global names; the Executor's Scope then holds one variable per name. Paddle 3.x
(PIR) broke the two ways the article relied on to get there: auto-named layers called twice in
one Program create new weights on each call, and one explicit name created twice makes two
parameter values that Adam then updates twice per step. The fix is to create every parameter
once per Program and apply it with ``paddle.nn.functional`` ops as often as needed, which is
what :class:`Layers` does: it is a per-Program store keyed by global name.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import paddle
import paddle.nn.functional as F

Initializer = paddle.nn.initializer.Initializer


class Layers:
    """Creates and caches one Program's named parameters; one instance per Program.

    Names are ``<prefix><layer>.<w|b|g|mean|var|u>``, with the prefix set by :meth:`prefix`, so
    a layer helper takes one name and derives every parameter name from it.

    Batch norm: with ``training=False`` it normalises with the running statistics (inference).
    With ``training=True`` it normalises with batch statistics, and the running statistics of
    networks whose prefix is in ``update_stats`` move; other networks' statistics are left alone,
    so, e.g., the G step runs D in training mode without touching D's running averages.

    Spectral norm: the weights of networks whose prefix is in ``spectral_norm`` are divided by
    their largest singular value, estimated by one power iteration per Program run from a
    persistable vector ``<layer>.u``; like BN statistics, ``u`` moves only in training Programs
    whose ``update_stats`` include the network.

    ``second_order``: the Program differentiates its gradients (the R1 penalty), so training
    batch norm is built from elementary ops, whose second derivatives Paddle computes fast.
    """

    def __init__(self, training: bool = True, update_stats: tuple[str, ...] = (),
                 spectral_norm: tuple[str, ...] = (), second_order: bool = False) -> None:
        self.training = training
        self.second_order = second_order
        self.update_stats = update_stats
        self.spectral_norm = spectral_norm
        self._normalized: dict[str, paddle.pir.Value] = {}
        self._values: dict[str, paddle.pir.Value] = {}
        self._by_prefix: dict[str, list[str]] = {}
        self._prefix: str | None = None

    @contextlib.contextmanager
    def prefix(self, prefix: str) -> Iterator[None]:
        """Prefix the names of the parameters created inside, e.g. ``D_``.

        Deliberately not the article's ``unique_name.guard(prefix)`` around each network call:
        a fresh guard restarts the name counter, so under Paddle 2.6's legacy IR D(real) and
        D(fake) got identical *temporary* variable names and the second call overwrote the
        first's activations (tests/test_sharing.py's numpy reference checks it).
        """
        outer, self._prefix = self._prefix, prefix
        try:
            yield
        finally:
            self._prefix = outer

    def parameter(self, name: str, shape: list[int], init: Initializer,
                  trainable: bool = True) -> paddle.pir.Value:
        """The Program's parameter ``<prefix><name>``, created on first use."""
        if self._prefix is None:
            raise RuntimeError(f"parameter {name!r} requested outside Layers.prefix()")
        full = self._prefix + name
        if full not in self._values:
            attr = paddle.ParamAttr(name=full, initializer=init, trainable=trainable)
            self._values[full] = paddle.static.create_parameter(shape, "float32", attr=attr)
            self._by_prefix.setdefault(self._prefix, []).append(full)
        value = self._values[full]
        if list(value.shape) != list(shape):
            raise RuntimeError(f"parameter {full} reused with shape {shape}, created {value.shape}")
        return value

    def trainable(self, *prefixes: str) -> list[paddle.pir.Value]:
        """Trainable parameters this Program created under the given prefixes, in creation order.

        Exact registry lookup rather than ``name.startswith``: a ``D`` prefix test would also
        catch a ``Dx_`` network, and parameters of another Program are never candidates.
        """
        return [self._values[n] for p in prefixes for n in self._by_prefix.get(p, [])
                if self._values[n].trainable]

    def freeze_all_but(self, keep: list[paddle.pir.Value]) -> None:
        """Mark every parameter not in ``keep`` stop_gradient for this Program only."""
        kept = {id(v) for v in keep}
        for value in self._values.values():
            if id(value) not in kept:
                value.stop_gradient = True

    @property
    def names(self) -> list[str]:
        return list(self._values)

    def _weight(self, name: str, shape: list[int], init: Initializer) -> paddle.pir.Value:
        """``<name>.w``, spectrally normalised (once per Program) if its network asks for it."""
        w = self.parameter(f"{name}.w", shape, init)
        if self._prefix not in self.spectral_norm:
            return w
        key = self._prefix + name
        if key not in self._normalized:
            self._normalized[key] = w / self._largest_singular_value(name, w)
        return self._normalized[key]

    def _largest_singular_value(self, name: str, w: paddle.pir.Value) -> paddle.pir.Value:
        """sigma(W) = u^T W v after one power iteration on W as a [rows, rest] matrix (Miyato
        et al. 2018); u and v are constants for the gradient, which flows through W only."""
        matrix = paddle.reshape(w, [w.shape[0], -1])
        u = self.parameter(f"{name}.u", [1, matrix.shape[0]], paddle.nn.initializer.Normal(0.0, 1.0),
                           trainable=False)
        fixed = matrix.detach()
        v = F.normalize(paddle.matmul(u, fixed), axis=1)
        u_next = F.normalize(paddle.matmul(v, fixed, transpose_y=True), axis=1)
        if self.training and self._prefix in self.update_stats:
            paddle.assign(u_next, output=u)
        return paddle.sum(paddle.matmul(u_next, matrix) * v)

    def _bias(self, name: str, size: int, bias: bool) -> paddle.pir.Value | None:
        """``<name>.b``, or None for a layer feeding batch norm, whose shift makes a bias
        redundant: the batch mean cancels it, so its gradient is zero on paper and in float32
        rounding noise, which Adam turns into learning-rate-sized random steps."""
        return self.parameter(f"{name}.b", [size], paddle.nn.initializer.Constant(0.0)) if bias else None

    def linear(self, name: str, x: paddle.pir.Value, size: int,
               w_init: Initializer | None = None, bias: bool = True) -> paddle.pir.Value:
        """Fully connected layer ``x @ w (+ b)``; default init is Paddle's fc default (Xavier)."""
        w = self._weight(name, [x.shape[-1], size], w_init or paddle.nn.initializer.XavierUniform())
        return F.linear(x, w, self._bias(name, size, bias))

    def conv2d(self, name: str, x: paddle.pir.Value, filters: int, size: int, stride: int,
               padding: int, w_init: Initializer, bias: bool = True) -> paddle.pir.Value:
        """NCHW convolution."""
        w = self._weight(name, [filters, x.shape[1], size, size], w_init)
        y = F.conv2d(x, w, stride=stride, padding=padding)
        return add_channel_bias(y, self._bias(name, filters, bias))

    def conv2d_transpose(self, name: str, x: paddle.pir.Value, filters: int, size: int,
                         stride: int, padding: int, w_init: Initializer,
                         bias: bool = True) -> paddle.pir.Value:
        """NCHW transposed convolution (the weight is ``[in, out, k, k]``)."""
        w = self._weight(name, [x.shape[1], filters, size, size], w_init)
        y = F.conv2d_transpose(x, w, stride=stride, padding=padding)
        return add_channel_bias(y, self._bias(name, filters, bias))

    def batch_norm(self, name: str, x: paddle.pir.Value, momentum: float = 0.9,
                   epsilon: float = 1e-5) -> paddle.pir.Value:
        """Batch norm over the channel axis (axis 1), with persistable running statistics.

        ``paddle.static.nn.batch_norm`` rejects PIR values in Paddle 3.x; the functional op
        with explicit running mean and variance works on both IRs.
        """
        const = paddle.nn.initializer.Constant
        channels = x.shape[1]
        gamma = self.parameter(f"{name}.g", [channels], const(1.0))
        beta = self.parameter(f"{name}.b", [channels], const(0.0))
        mean = self.parameter(f"{name}.mean", [channels], const(0.0), trainable=False)
        var = self.parameter(f"{name}.var", [channels], const(1.0), trainable=False)
        if self.training and self.second_order:
            return _elementary_batch_norm(x, mean, var, gamma, beta, momentum, epsilon,
                                          update=self._prefix in self.update_stats)
        if self.training and self._prefix not in self.update_stats:
            # F.batch_norm updates the statistics it is given in place: give it copies.
            mean, var = paddle.assign(mean), paddle.assign(var)
        return F.batch_norm(x, mean, var, gamma, beta, training=self.training,
                            momentum=momentum, epsilon=epsilon)


def _elementary_batch_norm(x: paddle.pir.Value, running_mean: paddle.pir.Value,
                           running_var: paddle.pir.Value, gamma: paddle.pir.Value,
                           beta: paddle.pir.Value, momentum: float, epsilon: float,
                           update: bool) -> paddle.pir.Value:
    """Training-mode batch norm from means, products and rsqrt, as F.batch_norm computes it
    (biased batch variance; running = momentum * running + (1 - momentum) * batch). Only for
    Programs that differentiate twice: Paddle's fused batch_norm_double_grad CPU kernel is
    orders of magnitude slower than these ops' second derivatives (BENCHMARKS.md)."""
    n_c_rest = paddle.reshape(x, [-1, x.shape[1], 1 if len(x.shape) == 2 else x.shape[2] * x.shape[3]])
    mean = paddle.mean(n_c_rest, axis=[0, 2], keepdim=True)
    centered = n_c_rest - mean
    var = paddle.mean(centered * centered, axis=[0, 2], keepdim=True)
    scale = paddle.rsqrt(var + epsilon) * paddle.reshape(gamma, [1, -1, 1])
    y = paddle.reshape(centered * scale + paddle.reshape(beta, [1, -1, 1]), [-1, *x.shape[1:]])
    if update:
        for running, batch in ((running_mean, mean), (running_var, var)):
            paddle.assign(momentum * running + (1 - momentum) * paddle.reshape(batch, [-1]).detach(),
                          output=running)
    return y


def add_channel_bias(y: paddle.pir.Value, b: paddle.pir.Value | None) -> paddle.pir.Value:
    """``y + b`` over the channels of an NCHW ``y``. Not the conv ops' own bias argument: that
    broadcasts ``b`` as [1, C, 1, 1], which Paddle's CPU add and add_grad handle several times
    slower than the same sum over [N, C, H*W] + [C, 1] (BENCHMARKS.md)."""
    if b is None:
        return y
    n_c_hw = paddle.reshape(y, [-1, y.shape[1], y.shape[2] * y.shape[3]])
    return paddle.reshape(n_c_hw + paddle.reshape(b, [-1, 1]), [-1, *y.shape[1:]])
