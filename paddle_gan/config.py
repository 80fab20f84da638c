"""Every setting, defined once: its default, the values it accepts, its help text and its group.

A model's settings are one frozen dataclass, a :class:`ModelConfig` defined with its model in
``programs/``; how to train is :class:`RunConfig`. train.py's flags, their ``--help``
defaults, the ``--config`` keys and the resume rules are all read from these fields
(:func:`add_settings`), so adding a setting means adding a field and the code that uses it.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from paddle_gan.cli import UserError
from paddle_gan.data import DATASETS

# argparse groups, in the order --help shows them
DATA, RUN, DEVICE = "data", "run", "device"
OPTIMISER = "model and optimiser"
STABILISATION = ("stabilisation (off by default but for the MLP-GAN's R1 penalty; TTUR is "
                 "--lr-d/--lr-g, momentum is --beta1)")
LOGGING = "logging and checkpoints"
CODES = "infogan: codes that are the digits (all off by default: the paper's model)"


@dataclass(frozen=True)
class Rule:
    """The values a setting accepts, and how an error message says so."""
    accepts: Callable[[Any], bool]
    says: str


POSITIVE = Rule(lambda v: 0 < v < math.inf, "> 0")
NON_NEGATIVE = Rule(lambda v: 0 <= v < math.inf, ">= 0 and finite")
UNIT_INTERVAL = Rule(lambda v: 0 <= v <= 1, "in [0, 1]")
BELOW_ONE = Rule(lambda v: 0 <= v < 1, "in [0, 1)")
AT_LEAST_TWO = Rule(lambda v: 2 <= v < math.inf, ">= 2")
ANY = Rule(lambda v: True, "anything")


def setting(default: Any, help: str, group: str, rule: Rule = ANY,
            choices: tuple[str, ...] | None = None, fixed_on_resume: bool = False) -> Any:
    """A config field that is also a command-line setting.

    ``fixed_on_resume``: a resumed run must keep the value it started with (exact resume
    needs the same data, batches and noise draws); other settings may be changed on resume."""
    if choices is not None:
        rule = Rule(lambda v: v in choices, " or ".join(choices))
    return field(default=default, metadata=dict(help=help, group=group, rule=rule,
                                                choices=choices, fixed_on_resume=fixed_on_resume))


def redefault(config: type, name: str, default: Any) -> Any:
    """``config``'s setting ``name`` with another default (a per-model default)."""
    return field(default=default, metadata=config.__dataclass_fields__[name].metadata)


def flag(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def settings(config: type) -> list[dataclasses.Field]:
    """The fields of a config class that are command-line settings."""
    return [f for f in dataclasses.fields(config) if "help" in f.metadata]


def value_type(config: type, name: str) -> type:
    """The type a setting's values have (``int`` for ``int | None``)."""
    hint = typing.get_type_hints(config)[name]
    if isinstance(hint, types.UnionType):
        (hint,) = [t for t in typing.get_args(hint) if t is not type(None)]
    return hint


def check(config: object) -> None:
    """Every setting of ``config`` against its rule; a UserError names the first that fails."""
    for f in settings(type(config)):
        value = getattr(config, f.name)
        expected = value_type(type(config), f.name)
        if value is None and f.default is None:
            continue
        if expected is bool:
            wrong_type = not isinstance(value, bool)
        elif expected is int:
            wrong_type = isinstance(value, bool) or not isinstance(value, int)
        elif expected is float:
            wrong_type = isinstance(value, bool) or not isinstance(value, (int, float))
        else:
            wrong_type = not isinstance(value, expected)
        if wrong_type:
            raise UserError(f"{flag(f.name)} takes a {expected.__name__}, got {value!r}")
        if not f.metadata["rule"].accepts(value):
            raise UserError(f"{flag(f.name)} {value} is out of range "
                            f"(must be {f.metadata['rule'].says})")


@dataclass(frozen=True)
class ModelConfig:
    """What a model's Programs are built from: each model in ``programs/`` defines its own
    (``Config``), with its settings as fields. Stored in every checkpoint."""
    kind: ClassVar[str]
    default_epochs: ClassVar[int]  # RunConfig.epochs when not given

    def __post_init__(self) -> None:
        check(self)

    def to_dict(self) -> dict:
        return {"kind": self.kind, **dataclasses.asdict(self)}


@dataclass(frozen=True)
class RunConfig:
    """How to train, as opposed to what (the model's config); stored in every checkpoint."""
    output: str
    dataset: str = setting("mnist", "what to train on, in MNIST's IDX format", DATA,
                           choices=tuple(DATASETS), fixed_on_resume=True)
    epochs: int | None = setting(None, "passes over the training set", RUN, POSITIVE)
    max_steps: int | None = setting(None, "stop after this many total iterations (one D + one G "
                                          "step each); pass a larger one on --resume to extend "
                                          "a run", RUN, POSITIVE)
    batch_size: int = setting(128, "images per D step and per G step", RUN, POSITIVE,
                              fixed_on_resume=True)
    seed: int = setting(0, "seeds initialisation, data order and noise; CPU runs repeat exactly "
                           "at the same --threads", RUN, NON_NEGATIVE, fixed_on_resume=True)
    g_noise: str = setting("same", "the G step's noise batch: the D step's (same) or a new one "
                                   "(fresh, as the official InfoGAN code draws)", RUN,
                           choices=("same", "fresh"), fixed_on_resume=True)
    restarts: int = setting(1, "infogan: train this many short trials from seeds derived from "
                               "--seed and continue the one whose Q tells unlabelled training "
                               "images apart best (highest I(c1; x), no labels); 1: no restarts",
                            RUN, POSITIVE, fixed_on_resume=True)
    restart_steps: int = setting(500, "iterations of each --restarts trial; the chosen trial "
                                      "continues from there", RUN, POSITIVE,
                                 fixed_on_resume=True)
    threads: int = setting(0, "CPU threads of Paddle's math libraries (MKL, oneDNN); 0: one per "
                              "core this process may use; a seeded CPU run repeats exactly "
                              "only at the same count", DEVICE, NON_NEGATIVE)
    log_every: int = setting(50, "steps between metrics lines and NaN checks", LOGGING, POSITIVE)
    sample_every: int = setting(500, "steps between fixed-noise sample grids", LOGGING, POSITIVE)
    save_every: int = setting(1000, "steps between checkpoints", LOGGING, POSITIVE)
    keep: int = setting(3, "how many checkpoints to keep", LOGGING, POSITIVE)

    def __post_init__(self) -> None:
        check(self)


def fixed_on_resume(config: type) -> list[str]:
    """The flags of ``config`` a resumed run must keep."""
    return [flag(f.name) for f in settings(config) if f.metadata["fixed_on_resume"]]


def refuse_change(name: str, value: object, run_value: object) -> None:
    """On resume, a flag given with a value other than the run's is an error, not an override."""
    if value != run_value:
        raise UserError(f"{name} {value} differs from the run's {run_value}; "
                        f"drop {name} to resume (or start a new run in another --output)")


def new_run(args: argparse.Namespace, default_epochs: int) -> RunConfig:
    """A new run's settings: those the command line gave, else their defaults (the model's
    ``default_epochs``)."""
    if args.restart_steps is not None and (args.restarts or 1) == 1:
        raise UserError("--restart-steps is the length of each --restarts trial: "
                        "give --restarts N (N > 1) too")
    run_settings = given(args, RunConfig)
    if "epochs" not in run_settings:
        run_settings["epochs"] = default_epochs
    return RunConfig(output=args.output, **run_settings)


def resumed_run(args: argparse.Namespace, saved: dict, where: str) -> RunConfig:
    """A resumed run's settings, as its checkpoint at ``where`` recorded them (``saved``):
    flags given override them (length, logging, threads), except those the run must keep,
    which must match."""
    run = strict(RunConfig, saved, where)
    changes = {"output": args.output}
    for f in settings(RunConfig):
        value = getattr(args, f.name)
        if value is None:
            continue
        if f.metadata["fixed_on_resume"]:
            refuse_change(flag(f.name), value, getattr(run, f.name))
        changes[f.name] = value
    return dataclasses.replace(run, **changes)


def strict(config: type, saved: dict, what: str, **extra: Any) -> Any:
    """``config`` built from a checkpoint's recorded settings, which must be exactly its fields:
    a checkpoint written by another version of the project is refused, naming the difference."""
    names = {f.name for f in dataclasses.fields(config)} - set(extra)
    missing, unknown = sorted(names - set(saved)), sorted(set(saved) - names)
    if missing or unknown:
        raise UserError(f"{what} was written by another version of paddle-gan (settings "
                        f"missing: {missing or 'none'}, unknown: {unknown or 'none'}); "
                        "train anew with this version")
    return config(**saved, **extra)


def argument_groups(parser: argparse.ArgumentParser) -> dict[str, argparse._ArgumentGroup]:
    """The parser's groups of settings, by name, in the order --help shows them."""
    return {name: parser.add_argument_group(name)
            for name in (DATA, RUN, DEVICE, OPTIMISER, STABILISATION, CODES, LOGGING)}


def add_settings(parser: argparse.ArgumentParser, configs: list[type],
                 groups: dict[str, argparse._ArgumentGroup], on_resume: str = "",
                 shown: dict[str, str] | None = None) -> None:
    """One flag per setting of ``configs``, in the group its field names, with the default of
    each config that has it in its help. Flags default to None (not given), so a caller can
    tell a given value from a default. ``on_resume`` is appended to each default shown;
    ``shown`` gives the default to show for a setting whose default is None (decided later,
    e.g. by the model)."""
    shown = shown or {}
    seen: dict[str, list[type]] = {}
    for config in configs:
        for f in settings(config):
            seen.setdefault(f.name, []).append(config)
    for name, having in seen.items():
        f = having[0].__dataclass_fields__[name]
        defaults = {getattr(c, "kind", c.__name__): c.__dataclass_fields__[name].default
                    for c in having}
        if len(set(map(repr, defaults.values()))) == 1:
            shown_default = str(next(iter(defaults.values())))
        else:
            shown_default = ", ".join(f"{kind} {default}" for kind, default in defaults.items())
        if len(having) < len(configs):
            owners = "/".join(c.kind for c in having)
            text = f"{owners} only: {f.metadata['help']}"
        else:
            text = f.metadata["help"]
        if f.default is not None and f.default is not False:
            text += f" (default: {shown_default}{on_resume})"
        elif name in shown:
            text += f" (default: {shown[name]}{on_resume})"
        elif on_resume:
            text += " (on --resume, the run's)"
        group = groups.get(f.metadata["group"]) or parser
        kind = value_type(having[0], name)
        if kind is bool:
            group.add_argument(flag(name), action="store_true", default=None, help=text)
        elif f.metadata["choices"] is not None:
            group.add_argument(flag(name), choices=list(f.metadata["choices"]), default=None,
                               help=text)
        else:
            group.add_argument(flag(name), type=kind, default=None, help=text)


def given(args: argparse.Namespace, config: type) -> dict[str, Any]:
    """The settings of ``config`` that the command line (or --config file) gave."""
    return {f.name: getattr(args, f.name) for f in settings(config)
            if getattr(args, f.name, None) is not None}
