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
from paddle.utils import unique_name

Initializer = paddle.nn.initializer.Initializer


class Layers:
    """Creates and caches one Program's named parameters; one instance per Program.

    Names are ``<prefix><layer>.<w|b>``, with the prefix set by :meth:`prefix`, so a layer
    helper takes one name and derives every parameter name from it.
    """

    def __init__(self) -> None:
        self._values: dict[str, paddle.pir.Value] = {}
        self._by_prefix: dict[str, list[str]] = {}
        self._prefix: str | None = None

    @contextlib.contextmanager
    def prefix(self, prefix: str) -> Iterator[None]:
        """Name everything built inside ``<prefix>...``, as the article's unique_name.guard did."""
        outer, self._prefix = self._prefix, prefix
        try:
            with unique_name.guard(prefix):
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

    @property
    def names(self) -> list[str]:
        return list(self._values)

    def linear(self, name: str, x: paddle.pir.Value, size: int,
               w_init: Initializer | None = None) -> paddle.pir.Value:
        """Fully connected layer ``x @ w + b``; default init is Paddle's fc default (Xavier)."""
        w = self.parameter(f"{name}.w", [x.shape[-1], size],
                           w_init or paddle.nn.initializer.XavierUniform())
        b = self.parameter(f"{name}.b", [size], paddle.nn.initializer.Constant(0.0))
        return F.linear(x, w, b)
