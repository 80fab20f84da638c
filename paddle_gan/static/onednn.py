"""Run a Program's convolutions with oneDNN on the CPU, and nothing else.

Paddle's native CPU conv2d (an im2col and a small GEMM per sample) ran InfoGAN's 4x4 stride-2
convolutions several times slower than oneDNN's (BENCHMARKS.md). Paddle 3.x offers oneDNN only
for a whole process (``FLAGS_use_mkldnn``), and that breaks training here: its transposed
convolution refuses training mode and its matmul_grad crashes when one of the two gradients is
not wanted. Per-op attributes are ignored by the PIR lowering, and the ``onednn_placement_pass``
moves every supported op and forces inference mode. What works is a pattern-rewrite pass
(Paddle's DRR, from Python) that swaps ``pd_op.conv2d``/``conv2d_grad`` for their ``onednn_op``
twins in training mode; the executor inserts the layout conversions native consumers need. The
legacy IR (Paddle 2.6) has no such pass and keeps native kernels.
"""
from __future__ import annotations

import paddle

from paddle_gan.static import paddle_api
from paddle_gan.static.graph import ProgramSet

_ATTRS = ("strides", "paddings", "padding_algorithm", "dilations", "groups", "data_format")
_REWRITTEN = ("pd_op.conv2d", "pd_op.conv2d_grad")


def applies_to(program: paddle.static.Program) -> bool:
    """True where the rewrite works: a oneDNN build with Paddle's DRR API, and a PIR Program."""
    return paddle_api.onednn_rewrites() and paddle_api.is_pir(program)


def _swap(source: str, target: str, inputs: list[str], outputs: list[str],
          extra: dict[str, bool | str]) -> paddle.pir.DrrPatternContext:
    """A DRR rule replacing op ``source`` by ``target`` with the same operands and conv
    attributes, plus the constant attributes in ``extra``."""
    ctx = paddle.pir.DrrPatternContext()
    pattern = ctx.SourcePattern()
    pattern.Op(source, {k: pattern.Attr(k) for k in _ATTRS})(
        [pattern.Tensor(n) for n in inputs], [pattern.Tensor(n) for n in outputs])
    result = pattern.ResultPattern()
    kept = {k: pattern.Attr(k) for k in _ATTRS}
    kept.update({k: result.BoolAttr(v) if isinstance(v, bool) else result.StrAttr(v)
                 for k, v in extra.items()})
    result.Op(target, kept)([result.Tensor(n) for n in inputs],
                            [result.Tensor(n) for n in outputs])
    return ctx


def rewrite(programs: ProgramSet) -> None:
    """Move the convolutions of every Program in ``programs`` to oneDNN, where the rewrite
    works (a oneDNN build and PIR); elsewhere they keep Paddle's native kernels."""
    for step in programs.steps.values():
        if applies_to(step.program):
            use_onednn_convolutions(step.program, list(step.fetches.values()))


def use_onednn_convolutions(program: paddle.static.Program,
                            keep: list[paddle.pir.Value]) -> int:
    """Rewrite ``program``'s conv2d and conv2d_grad ops to oneDNN kernels, in place; returns
    how many were rewritten. Values produced by a rewritten op go stale (fetching one can
    crash), so ``keep`` (the values the caller will fetch) must not be convolution outputs;
    this is checked before rewriting."""
    def count() -> int:
        return sum(op.name() in _REWRITTEN for op in program.global_block().ops)

    if any(v.get_defining_op().name() in _REWRITTEN for v in keep):
        raise RuntimeError("a value to fetch is a convolution's output; fetch a copy")
    before = count()
    if before == 0:
        return 0
    passes = paddle.pir.PassManager()
    passes.register_pass("paddle_gan_onednn_conv2d", _swap(
        "pd_op.conv2d", "onednn_op.conv2d", ["x", "w"], ["out"],
        {"is_test": False, "force_fp32_output": False, "mkldnn_data_type": "float32",
         "onednn_data_type": ""}))
    passes.register_pass("paddle_gan_onednn_conv2d_grad", _swap(
        "pd_op.conv2d_grad", "onednn_op.conv2d_grad", ["x", "w", "out_grad"],
        ["x_grad", "w_grad"], {"is_test": False}))
    skipped = _skipped_gradients(program, "pd_op.conv2d_grad")
    passes.run(program)
    ops = program.global_block().ops
    if count() or any(not op.name() for op in ops):
        raise RuntimeError("oneDNN convolution rewrite left the Program incomplete (its dialect "
                           "is registered by paddle_gan.runtime.configure(): call it first)")
    _skip_again(program, "onednn_op.conv2d_grad", skipped)
    return before


def _skipped_gradients(program: paddle.static.Program, name: str) -> list[list]:
    """For each ``name`` op in order, the null type of each output backward left out
    (a frozen weight's gradient, an input's that nothing needs), else None."""
    return [[None if out.is_dense_tensor_type() else out.type() for out in op.results()]
            for op in program.global_block().ops if op.name() == name]


def _skip_again(program: paddle.static.Program, name: str, skipped: list[list]) -> None:
    """Null again the outputs a DRR rewrite filled in: its result ops build every output,
    and the oneDNN kernel computes each one it is given (in InfoGAN's G step, D's conv
    weight gradients; in its D step, the images' gradients)."""
    ops = [op for op in program.global_block().ops if op.name() == name]
    if len(ops) != len(skipped):
        raise RuntimeError(f"oneDNN rewrite: {len(skipped)} gradient ops became {len(ops)}")
    for op, null_types in zip(ops, skipped):
        for out, null_type in zip(op.results(), null_types):
            if null_type is None:
                continue
            if out.all_used_ops():
                raise RuntimeError(f"oneDNN rewrite: {name} uses an output backward left out")
            out.set_type(null_type)
