"""paddle-gan against eager execution, side by side: ``python benchmarks/compare.py``.

Runs ``benchmarks/bench.py`` and the peers on the same workloads, interleaved (the order
rotates every round, so drift in machine load hits every side alike), and prints a Markdown
table of each side's median samples/s, the ratio paddle-gan / side (above 1: paddle-gan is
faster) and its peak RSS. Each run is a fresh process, so start-up and building are never
timed. The sides:

- ``paddle-gan``: this project's static Programs (inference: the exported generator served
  by a Paddle Inference predictor);
- ``torch eager``: the PyTorch peer (``--peer``), which needs an interpreter with torch
  (``--torch-python`` or ``$TORCH_PYTHON``); torch is never a dependency of this project, and
  without it that side is skipped with a message;
- ``paddle dygraph`` and ``paddle to_static``: ``benchmarks/paddle_peer.py``, the same models
  as Paddle eager code, and with their forward passes under ``paddle.jit.to_static``.

Every side gets the process set-up of ``paddle_gan.runtime.configure()``: the Paddle sides
call it, and the PyTorch peer runs with the same glibc malloc settings, through glibc's
environment variables (``runtime.GLIBC_MALLOC``), with which PyTorch runs faster too (BENCHMARKS.md).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from paddle_gan.runtime import GLIBC_MALLOC, user_set_malloc

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PEER = REPO.parent / "shared" / "peers" / "torch_gan_peer.py"

# name -> (model, batch size, timed steps, warm-up steps, inference only); paddle-gan serves
# inference as it deploys it: the exported generator through a Paddle Inference predictor
WORKLOADS = {
    "gan": ("gan", 128, 300, 20, False),
    "infogan": ("infogan", 128, 20, 3, False),
    "infer": ("infogan", 512, 20, 3, True),
    "infer-gan": ("gan", 512, 300, 20, True),
}

# model -> bench.py settings that give paddle-gan the peers' math: they train the article's
# MLP-GAN, without the R1 penalty that this project's MLP-GAN adds by default
SAME_MATH_AS_PEERS = {"gan": ["--r1-gamma", "0"]}


def _run(cmd: list[str], env: dict[str, str]) -> tuple[dict, float]:
    """The command's last JSON line and its peak RSS in MB, as the kernel counted it."""
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, cwd=REPO,
                                env=env)
        stdout = proc.stdout.read()
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)  # reaps it, with its resource usage
        proc.returncode = os.waitstatus_to_exitcode(status)  # tells Popen it was reaped
        err.seek(0)
        stderr = err.read()
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"error: {' '.join(cmd)} failed: {tail}")
    return json.loads(lines[-1]), usage.ru_maxrss / 1024  # Linux counts kilobytes


def commands(workload: str, args: argparse.Namespace) -> dict[str, list[str]]:
    """Each side's command for one workload."""
    model, batch, steps, warmup, infer = WORKLOADS[workload]
    common = ["--batch-size", str(batch), "--steps", str(args.steps or steps),
              "--warmup", str(warmup), "--threads", str(args.threads)] + (["--infer"] if infer else [])
    here = Path(__file__).parent
    ours = [sys.executable, str(here / "bench.py"), "--model", model, "--device", "cpu"] + common
    ours += SAME_MATH_AS_PEERS.get(model, [])
    if infer:
        ours.append("--predictor")
    dygraph = [sys.executable, str(here / "paddle_peer.py"), model] + common
    return {"paddle-gan": ours,
            "torch eager": [args.torch_python, str(args.peer), model] + common,
            "paddle dygraph": dygraph,
            "paddle to_static": dygraph + ["--to-static"]}


SIDES = ("paddle-gan", "torch eager", "paddle dygraph", "paddle to_static")


def environment(side: str) -> dict[str, str]:
    """The side's environment: the one this script was started with, and for the PyTorch
    peer the malloc settings runtime.configure() applies to the Paddle sides, under the same
    rule (where the user set the thresholds, no side gets ours)."""
    env = dict(os.environ)
    if side == "torch eager" and not user_set_malloc(env):
        env.update((name, str(value)) for name, value in GLIBC_MALLOC.items())
    return env


def _torch_version(python: str) -> str | None:
    probe = subprocess.run([python, "-c", "import torch; print(torch.__version__)"],
                           capture_output=True, text=True)
    return probe.stdout.strip() if probe.returncode == 0 else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds per workload")
    p.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    p.add_argument("--sides", nargs="+", default=list(SIDES), choices=list(SIDES),
                   help="what to run; paddle-gan is always run, as the ratios' numerator")
    p.add_argument("--threads", type=int, default=0,
                   help="math-library threads for every side; 0: each side's default")
    p.add_argument("--steps", type=int, default=0, help="timed steps for every workload; "
                   "0: the per-workload default (gan 300, infogan 20, infer 20, infer-gan 300)")
    p.add_argument("--peer", type=Path, default=DEFAULT_PEER, help="the PyTorch peer script")
    p.add_argument("--torch-python", default=os.environ.get("TORCH_PYTHON", sys.executable),
                   help="interpreter with torch installed (default: $TORCH_PYTHON, else this one)")
    args = p.parse_args()
    if args.rounds < 1 or args.steps < 0:
        p.error("--rounds must be positive and --steps not negative")

    sides = ["paddle-gan"] + [side for side in args.sides if side != "paddle-gan"]
    torch_version = _torch_version(args.torch_python)
    if "torch eager" in sides and (not args.peer.is_file() or torch_version is None):
        missing = f"peer script {args.peer}" if not args.peer.is_file() else \
            f"torch for {args.torch_python} (pip install torch==2.13.0, or set --torch-python)"
        print(f"skipped torch eager: no {missing}")
        sides.remove("torch eager")
    if len(sides) == 1:
        print("nothing to compare paddle-gan with")
        return 0

    rates = {w: {side: [] for side in sides} for w in args.workloads}
    peaks = {w: {side: [] for side in sides} for w in args.workloads}
    paddle_version = "?"
    for r in range(args.rounds):
        for workload in args.workloads:
            cmds = commands(workload, args)
            shift = r % len(sides)
            for side in sides[shift:] + sides[:shift]:
                row, peak = _run(cmds[side], environment(side))
                rates[workload][side].append(row["samples_per_s"])
                peaks[workload][side].append(peak)
                paddle_version = row.get("paddle", paddle_version)
                print(f"round {r + 1}/{args.rounds} {workload:9s} {side:16s} "
                      f"{row['samples_per_s']:>10.1f} samples/s", file=sys.stderr, flush=True)

    print(f"CPU: {_cpu_model()}, {os.cpu_count()} logical cores; paddle {paddle_version}, "
          f"torch {torch_version or 'not run'}; threads {args.threads or 'default'}; "
          f"{args.rounds} rounds\n")
    print("| workload | batch | side | median samples/s | paddle-gan / side | peak RSS MB | rounds |")
    print("|---|---|---|---|---|---|---|")
    for workload in args.workloads:
        ours = statistics.median(rates[workload]["paddle-gan"])
        for side in sides:
            median = statistics.median(rates[workload][side])
            rounds = "/".join(f"{v:.0f}" for v in rates[workload][side])
            print(f"| {workload} | {WORKLOADS[workload][1]} | {side} | {median:.1f} | "
                  f"{ours / median:.2f}x | {max(peaks[workload][side]):.0f} | {rounds} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
