#!/usr/bin/env python3
"""Evaluate a checkpoint: ``python evaluate.py --checkpoint PATH [--format md|json|text]``.

Scores come from a classifier trained on the generators' own training set (cached, see
``paddle_gan/evaluation/evaluator.py``), never from Inception-v3; keys are named for that dataset
(``mnist_*``, ``fashion_mnist_*``, read from the checkpoint). ``docs/evaluation.md`` defines
every metric.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from paddle_gan import runtime

runtime.configure()  # first: it sets what Paddle reads when it is imported

from paddle_gan import latent  # noqa: E402
from paddle_gan.cli import HelpFormatter, UserError, run_cli  # noqa: E402
from paddle_gan.data import add_data_arguments, load_dataset  # noqa: E402
from paddle_gan.device import add_device_argument, place_from_args  # noqa: E402
from paddle_gan.evaluation.evaluator import default_cache_dir, load_or_train  # noqa: E402
from paddle_gan.static.export import ExportedGenerator, export  # noqa: E402
from paddle_gan.evaluation.scoring import evaluate, markdown  # noqa: E402
import programs  # noqa: E402


def evaluate_checkpoint(checkpoint: str | Path, place, data_dir: str | None = None,
                        verify: bool = True, samples: int = 10000, seed: int = 0,
                        truncation: float = 1.0, cache_dir: str | Path | None = None,
                        retrain: bool = False) -> dict[str, object]:
    """Every metric of a checkpoint, on the dataset it was trained on, with that dataset's
    (cached) evaluator: what ``--json`` prints. The samples come from the generator exported
    and served by Paddle Inference, as deployed; the weights are fixed here."""
    session, ckpt = programs.restore_session(checkpoint, place)
    dataset = ckpt.state["run"]["dataset"]
    train = load_dataset(data_dir, "train", verify, dataset)
    test = load_dataset(data_dir, "test", verify, dataset)
    cache = default_cache_dir() if cache_dir is None else Path(cache_dir)
    evaluator = load_or_train(*train, *test, cache, place, retrain=retrain, dataset=dataset)
    with tempfile.TemporaryDirectory() as exported:
        export(session, Path(exported), ckpt.step)
        generator = ExportedGenerator(Path(exported), place)
        scores = evaluate(session, evaluator, train, test, samples, seed, truncation,
                          dataset=dataset, generator=generator)
    return {"checkpoint": str(ckpt.path), "model": session.programs.config.kind, "step": ckpt.step,
            **scores}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=HelpFormatter)
    p.add_argument("--checkpoint", required=True,
                   help="a run's output directory, its checkpoints/ or one step_* directory")
    p.add_argument("--samples", type=int, default=10000, help="generated samples to score")
    p.add_argument("--seed", type=int, default=0, help="seeds the generated samples")
    latent.add_truncation_argument(p)
    p.add_argument("--format", default="text", choices=["text", "json", "md"])
    p.add_argument("--json", action="store_true", help="same as --format json")
    add_data_arguments(p)
    p.add_argument("--cache-dir", default=None,
                   help="where the evaluator classifier is cached (default: $PADDLE_GAN_CACHE, "
                        "else ~/.cache/paddle_gan)")
    p.add_argument("--retrain", action="store_true", help="retrain the evaluator classifier")
    add_device_argument(p)
    args = p.parse_args(argv)
    if args.samples < 10:
        raise UserError(f"--samples must be at least 10, got {args.samples}")
    latent.check_truncation(args.truncation)
    result = evaluate_checkpoint(args.checkpoint, place_from_args(args), args.data_dir,
                                 not args.no_verify, args.samples, args.seed, args.truncation,
                                 args.cache_dir, args.retrain)
    fmt = "json" if args.json else args.format
    if fmt == "json":
        print(json.dumps(result))
    elif fmt == "md":
        print(markdown(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    run_cli(main)
