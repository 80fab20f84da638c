"""Training curves drawn from runs' metrics.jsonl.

``python -m paddle_gan.plots li --runs RUN_DIR [RUN_DIR ...]`` draws the categorical L_I of
several runs on one figure, e.g. InfoGAN against its ``--lambda-cat 0 --lambda-cont 0``
baseline (the InfoGAN paper's Figure 1).
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from paddle_gan import latent
from paddle_gan.cli import HelpFormatter, UserError, run_cli


def read_metrics(path: str | Path) -> list[dict]:
    """The rows of a JSON-lines log; a last line cut short by a crash is skipped."""
    rows = []
    with open(path) as f:
        for line in f:
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return rows


def _figure():
    """A figure of its own, outside pyplot: drawing it changes no backend and no pyplot state
    of the caller's (a notebook's, say)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    return fig, ax


def _save(fig, ax, out_path: str | Path) -> Path:
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)
    return Path(out_path)


def loss_curve(metrics_path: str | Path, out_path: str | Path) -> Path:
    """D and G losses against step."""
    rows = read_metrics(metrics_path)
    fig, ax = _figure()
    steps = [r["step"] for r in rows]
    for key, label in (("d_loss", "D loss"), ("g_loss", "G loss")):
        ax.plot(steps, [r[key] for r in rows], label=label, linewidth=1)
    ax.set_ylabel("loss (nats)")
    return _save(fig, ax, out_path)


def li_curves(runs: dict[str, str | Path], out_path: str | Path,
              categories: int = latent.CATEGORIES) -> Path:
    """Categorical L_I = H(c1) - CE (nats) of each run against step, with its ceiling ln K for
    a c1 of K values."""
    fig, ax = _figure()
    for label, metrics_path in runs.items():
        rows = [r for r in read_metrics(metrics_path) if "li_cat" in r]
        ax.plot([r["step"] for r in rows], [r["li_cat"] for r in rows], label=label, linewidth=1)
    ax.axhline(math.log(categories), color="gray", linestyle="--", linewidth=1,
               label=f"ln {categories} = H(c1)")
    ax.set_ylabel("L_I, categorical part (nats)")
    return _save(fig, ax, out_path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m paddle_gan.plots", description=__doc__,
                                     formatter_class=HelpFormatter)
    parser.add_argument("curve", choices=["li"], help="which figure to draw")
    parser.add_argument("--runs", nargs="+", required=True, help="InfoGAN run directories")
    parser.add_argument("--output", default="li_curves.png", help="PNG file to write")
    args = parser.parse_args(argv)
    runs, categories = {}, set()
    for run in map(Path, args.runs):
        metrics = run / "metrics.jsonl"
        if not metrics.is_file():
            raise UserError(f"{metrics}: not found; pass run directories written by train.py")
        config = json.loads((run / "config.json").read_text())["model"]
        runs[f"{run.name} (lambda_cat {config['lambda_cat']}, lambda_cont {config['lambda_cont']})"] = metrics
        categories.add(config["categories"])
    if len(categories) > 1:
        raise UserError(f"the runs' c1 have different sizes ({sorted(categories)}): "
                        "plot runs of one --categories together")
    print(f"wrote {li_curves(runs, args.output, categories.pop())}")


if __name__ == "__main__":
    run_cli(main)
