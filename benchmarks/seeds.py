#!/usr/bin/env python3
"""InfoGAN over several seeds, the way BENCHMARKS.md reports it: train, evaluate and draw each
seed, then one Markdown table with the median and the worst seed.

``python benchmarks/seeds.py --seeds 10 11 12 13 14 --jobs 2 --threads 1 --output runs/x --
--lambda-real-mi 1`` runs ``train.py --model infogan --seed S --threads 1 --output
runs/x/seed-S --lambda-real-mi 1`` for each seed, two at a time, then ``evaluate.py`` and
``infer.py`` on each run; a run that already has a checkpoint is resumed (a finished one
trains no further). Everything after ``--`` goes to train.py. Writes ``<output>/summary.md`` and
prints it; each run keeps its ``evaluation.json``, ``train.log`` and ``infer/*.png``. Look at
each ``categorical.png``: a table cannot say whether every digit has a code of its own.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from paddle_gan.data import DATASETS

REPO = Path(__file__).resolve().parent.parent


class Failed(Exception):
    """A step of one seed failed; its message says which and where to look."""


def run_seed(seed: int, args: argparse.Namespace, train_flags: list[str]) -> dict:
    """Train (or resume, or skip a finished run), evaluate and draw one seed."""
    out = args.output / f"seed-{seed}"
    data = ["--data-dir", args.data_dir] if args.data_dir else []
    data += ["--no-verify"] if args.no_verify else []
    train = [sys.executable, str(REPO / "train.py"), "--model", "infogan", "--seed", str(seed),
             "--threads", str(args.threads), "--output", str(out), *data, *train_flags]
    saved = [*out.glob("checkpoints/step_*"), *out.glob("restarts/trial_*/checkpoints/step_*")]
    if saved:
        train.append("--resume")  # a finished run resumes to its end at once
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with open(out / "train.log", "a") as log:
        trained = subprocess.run(train, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - started
    if trained.returncode != 0:
        raise Failed(f"seed {seed}: train.py failed, see {out / 'train.log'}")
    evaluate = [sys.executable, str(REPO / "evaluate.py"), "--checkpoint", str(out), "--json",
                "--threads", str(args.threads), "--samples", str(args.samples), *data]
    if args.cache_dir:
        evaluate += ["--cache-dir", args.cache_dir]
    done = subprocess.run(evaluate, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise Failed(f"seed {seed}: evaluate.py failed: {done.stderr.strip()[-500:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    (out / "evaluation.json").write_text(json.dumps(result, indent=1))
    drawn = subprocess.run([sys.executable, str(REPO / "infer.py"), "--checkpoint", str(out),
                            "--threads", str(args.threads)], cwd=REPO, capture_output=True,
                           text=True)
    if drawn.returncode != 0:
        raise Failed(f"seed {seed}: infer.py failed: {drawn.stderr.strip()[-500:]}")
    return {"run_seed": seed, "train_s": wall, "evaluation": result}


def summary(rows: list[dict], command: str) -> str:
    accuracies = [row["evaluation"]["cat_accuracy"] for row in rows]
    lines = [f"`{command}`", "",
             "| seed | c1 accuracy | cat_real_mi | c1 purity | IS (evaluator) | class entropy | "
             "step | train wall (min, this call) |", "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        e = row["evaluation"]
        inception = e[f"{DATASETS[e['dataset']].metric_prefix}_is"]
        lines.append(f"| {row['run_seed']} | {e['cat_accuracy']:.4f} | {e['cat_real_mi']:.4f} | "
                     f"{e['cat_purity']:.4f} | {inception:.2f} | {e['class_entropy']:.3f} | "
                     f"{e['step']} | {row['train_s'] / 60:.1f} |")
    lines += ["", f"median c1 accuracy {statistics.median(accuracies):.4f}, worst "
                  f"{min(accuracies):.4f}, over {len(rows)} seeds"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    train_flags: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, train_flags = argv[:split], argv[split + 1:]
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", required=True)
    p.add_argument("--output", type=Path, required=True, help="one run directory per seed in it")
    p.add_argument("--jobs", type=int, default=1, help="seeds trained at once")
    p.add_argument("--threads", type=int, default=1,
                   help="--threads of every run (recorded: it changes a seed's trajectory)")
    p.add_argument("--samples", type=int, default=10000, help="evaluate.py --samples")
    p.add_argument("--data-dir", default=None, help="train.py and evaluate.py --data-dir")
    p.add_argument("--no-verify", action="store_true", help="skip the dataset checksum check")
    p.add_argument("--cache-dir", default=None, help="evaluate.py --cache-dir")
    args = p.parse_args(argv)
    if args.jobs < 1 or args.threads < 1:
        p.error("--jobs and --threads must be positive")
    args.output.mkdir(parents=True, exist_ok=True)
    try:
        with ThreadPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(lambda seed: run_seed(seed, args, train_flags), args.seeds))
    except Failed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    command = " ".join(["python benchmarks/seeds.py", *argv, "--", *train_flags])
    table = summary(rows, command)
    (args.output / "summary.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
