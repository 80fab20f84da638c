"""One module per model, each building that model's set of Programs."""
from __future__ import annotations

import paddle
from paddle.utils import unique_name

from paddle_gan.cli import UserError
from paddle_gan.graph import ModelConfig, ModelPrograms
from programs import gan

MODELS = {"gan": gan}


def model_config(kind: str, **overrides: float | None) -> ModelConfig:
    """The model's config: its defaults, with any non-None override applied."""
    if kind not in MODELS:
        raise UserError(f"unknown model {kind!r}; choose one of: {', '.join(MODELS)}")
    values = dict(MODELS[kind].DEFAULTS)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return ModelConfig(kind=kind, **values)


def model_config_from(saved: dict) -> ModelConfig:
    """The ModelConfig recorded in a checkpoint's state (``ModelConfig.to_dict``)."""
    values = dict(saved)
    return model_config(values.pop("kind"), **values)


def build(config: ModelConfig) -> ModelPrograms:
    """Build a model's Programs under a fresh unique-name generator.

    Paddle names optimizer state with a process-wide counter (``learning_rate_0``, ...); a fresh
    generator makes those names the same in every process, which checkpoints rely on.
    """
    paddle.enable_static()
    with unique_name.guard():
        return MODELS[config.kind].build(config)
