"""Evaluate a checkpoint: ``python -m paddle_gan.evaluate --checkpoint PATH --json``.

For InfoGAN: ``cat_accuracy``, Q's categorical head as a classifier of the 10,000 MNIST test
images, each code matched to a digit by the Hungarian method, with ``cat_mapping`` (code ->
digit). Models without an encoder report only what identifies the checkpoint.
"""
from __future__ import annotations

import argparse
import json

from paddle_gan.cli import HelpFormatter, run_cli
from paddle_gan.data import load_mnist
from paddle_gan.metrics import categorical_accuracy
from paddle_gan.session import select_place


def main() -> None:
    import programs

    p = argparse.ArgumentParser(prog="python -m paddle_gan.evaluate", description=__doc__,
                                formatter_class=HelpFormatter)
    p.add_argument("--checkpoint", required=True,
                   help="a run's output directory, its checkpoints/ or one step_* directory")
    p.add_argument("--data-dir", default=None, help="MNIST directory (as for train.py)")
    p.add_argument("--no-verify", action="store_true", help="skip the MNIST checksum check")
    p.add_argument("--device", default="auto", choices=["auto", "gpu", "cpu"])
    p.add_argument("--json", action="store_true", help="print one JSON object (default: lines)")
    args = p.parse_args()
    session, state, ckpt = programs.restore_session(args.checkpoint, select_place(args.device))
    result = {"checkpoint": str(ckpt), "model": session.programs.config.kind, "step": state["step"]}
    if "encode" in session.programs.steps:
        images, labels = load_mnist(args.data_dir, "test", verify=not args.no_verify)
        result.update(categorical_accuracy(session, images, labels))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


if __name__ == "__main__":
    run_cli(main)
