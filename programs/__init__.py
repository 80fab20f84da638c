"""One module per model, each building that model's set of Programs."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import paddle
from paddle.utils import unique_name

from paddle_gan import checkpoint
from paddle_gan.cli import UserError
from paddle_gan.graph import ModelConfig, ModelPrograms
from paddle_gan.session import Session
from programs import gan, infogan

MODELS = {"infogan": infogan, "gan": gan}
LOSSES = ("bce", "hinge")
# Settings every model has, at ModelConfig's defaults (the article's setup), and what each
# accepts; any other numeric setting must be >= 0.
COMMON = {f.name: f.default for f in dataclasses.fields(ModelConfig)
          if f.name in ("loss", "r1_gamma", "spectral_norm")}
RANGES = {"lr_d": (lambda v: 0 < v < math.inf, "> 0"), "lr_g": (lambda v: 0 < v < math.inf, "> 0"),
          "beta1": (lambda v: 0 <= v < 1, "in [0, 1)"), "loss": (lambda v: v in LOSSES, "bce or hinge"),
          "q_step": (lambda v: v in ("g", "d"), "g or d"),
          "leaky_slope": (lambda v: 0 <= v <= 1, "in [0, 1]"),
          "spectral_norm": (lambda v: isinstance(v, bool), "true or false")}
NON_NEGATIVE = (lambda v: 0 <= v < math.inf, ">= 0 and finite")


def model_config(kind: str, **overrides: float | str | bool | None) -> ModelConfig:
    """The model's config: its defaults, with any non-None override applied."""
    if kind not in MODELS:
        raise UserError(f"unknown model {kind!r}; choose one of: {', '.join(MODELS)}")
    values = {**COMMON, **MODELS[kind].DEFAULTS}
    for key, value in overrides.items():
        if value is None:
            continue
        flag = f"--{key.replace('_', '-')}"
        if key not in values:
            raise UserError(f"{flag} does not apply to --model {kind}")
        check, allowed = RANGES.get(key, NON_NEGATIVE)
        if not check(value):
            raise UserError(f"{flag} {value} is out of range (must be {allowed})")
        values[key] = value
    return ModelConfig(kind=kind, **values)


def model_config_from(saved: dict) -> ModelConfig:
    """The ModelConfig recorded in a checkpoint's state (``ModelConfig.to_dict``). A setting
    the run predates takes the value it was trained with (the model's ``PREDATED``), which is
    not always today's default."""
    values = dict(saved)
    kind = values.pop("kind")
    return model_config(kind, **{**getattr(MODELS.get(kind), "PREDATED", {}), **values})


def build(config: ModelConfig) -> ModelPrograms:
    """Build a model's Programs under a fresh unique-name generator.

    Paddle names optimizer state with a process-wide counter (``learning_rate_0``, ...); a fresh
    generator makes those names the same in every process, which checkpoints rely on.
    """
    with unique_name.guard():
        return MODELS[config.kind].build(config)


def restore_session(path: str | Path, place: paddle.CPUPlace | paddle.CUDAPlace,
                    seed: int = 0) -> tuple[Session, dict, Path]:
    """Rebuild the model a checkpoint was saved from and load it: (session, state, directory)."""
    ckpt, state = checkpoint.find(path)
    session = Session(build(model_config_from(state["model"])), place, seed)
    checkpoint.restore(session, ckpt, state)
    return session, state, ckpt
