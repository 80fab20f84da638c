"""One module per model, each building that model's set of Programs.

Each module has ``Config`` (its settings, a :class:`paddle_gan.config.ModelConfig`),
``latent_of(config)`` (its latent input and grids) and ``build(config) -> ModelPrograms``.
``programs`` is built on ``paddle_gan``; nothing in ``paddle_gan`` imports it.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import paddle
from paddle.utils import unique_name

from paddle_gan import config
from paddle_gan.static import onednn
from paddle_gan.training import checkpoint
from paddle_gan.cli import UserError
from paddle_gan.config import ModelConfig
from paddle_gan.static.graph import ModelPrograms
from paddle_gan.static.session import Session
from programs import gan, infogan

MODELS = {"infogan": infogan, "gan": gan}
DEFAULT_MODEL = "infogan"
CONFIGS = [module.Config for module in MODELS.values()]


def default_epochs() -> str:
    """Each model's default length in epochs, for --help: ``gan 30, infogan 10``."""
    return ", ".join(f"{kind} {MODELS[kind].Config.default_epochs}" for kind in sorted(MODELS))


def model_config(kind: str, **given: float | str | bool) -> ModelConfig:
    """The model's config: its defaults, with the settings ``given`` (checked)."""
    if kind not in MODELS:
        raise UserError(f"unknown model {kind!r}; choose one of: {', '.join(MODELS)}")
    names = {f.name for f in config.settings(MODELS[kind].Config)}
    for key in given:
        if key not in names:
            raise UserError(f"{config.flag(key)} does not apply to --model {kind}")
    return MODELS[kind].Config(**given)


def given(args: argparse.Namespace) -> dict[str, float | str | bool]:
    """The model settings a command line gave, of whichever model (a setting foreign to the
    model is refused by :func:`model_config`)."""
    settings = {}
    for model_settings in CONFIGS:
        settings.update(config.given(args, model_settings))
    return settings


def saved_config(saved: dict, what: str) -> ModelConfig:
    """The model config a checkpoint recorded (``Config.to_dict``), exactly as recorded."""
    values = dict(saved)
    kind = values.pop("kind", None)
    if kind not in MODELS:
        raise UserError(f"{what}: unknown model {kind!r}; it was written by another version "
                        "of paddle-gan")
    return config.strict(MODELS[kind].Config, values, what)


def resumed_config(saved: dict, args: argparse.Namespace, where: str) -> ModelConfig:
    """The model a resumed run's checkpoint at ``where`` recorded (``saved``); a model flag
    given must agree with it, since a model cannot change under its weights."""
    model = saved_config(saved, where)
    if args.model is not None:
        config.refuse_change("--model", args.model, model.kind)
    model_settings = given(args)
    model_config(model.kind, **model_settings)  # the checks a new run's flags get
    for key, value in model_settings.items():
        config.refuse_change(config.flag(key), value, getattr(model, key))
    return model


def build(model_config: ModelConfig, onednn_convolutions: bool = False) -> ModelPrograms:
    """Build a model's Programs under a fresh unique-name generator, then, if asked, move
    their convolutions to oneDNN (a rewrite of the built Programs; CPU only).

    Paddle names optimizer state with a process-wide counter (``learning_rate_0``, ...); a fresh
    generator makes those names the same in every process, which checkpoints rely on.
    """
    with unique_name.guard():
        model = MODELS[model_config.kind].build(model_config)
    if onednn_convolutions:
        onednn.rewrite(model)
    return model


def build_for(model_config: ModelConfig,
              place: paddle.CPUPlace | paddle.CUDAPlace) -> ModelPrograms:
    """The model built for ``place``: oneDNN convolutions on the CPU."""
    return build(model_config, onednn_convolutions=isinstance(place, paddle.CPUPlace))


def new_session(model_config: ModelConfig, place: paddle.CPUPlace | paddle.CUDAPlace,
                seed: int = 0) -> Session:
    """The model built for ``place`` and initialised."""
    return Session(build_for(model_config, place), place, seed)


def restore_session(path: str | Path, place: paddle.CPUPlace | paddle.CUDAPlace,
                    seed: int = 0) -> tuple[Session, checkpoint.Checkpoint]:
    """Rebuild the model the newest intact checkpoint at ``path`` was saved from, and load it."""
    ckpt = checkpoint.find(path)
    session = new_session(saved_config(ckpt.state["model"], str(ckpt.path)), place, seed)
    checkpoint.restore(session, ckpt)
    return session, ckpt
