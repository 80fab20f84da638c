"""paddle-gan vs the PyTorch eager peer, side by side: ``python benchmarks/compare.py``.

Runs ``benchmarks/bench.py`` and the peer script on the same workloads, interleaved
(the order alternates every round, so drift in machine load hits both alike), and prints a
Markdown table of median samples/s per side and their ratio (paddle-gan / peer; above 1 is
faster). Each run is a fresh process, so start-up and Program building are never timed.

The peer needs PyTorch, which is never a dependency of this project: point ``--torch-python``
(or ``$TORCH_PYTHON``) at an interpreter that has it. Without torch or the peer script the
comparison is skipped with a message and exit status 0.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

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


def _run(cmd: list[str]) -> dict:
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"error: {' '.join(cmd)} failed: {tail}")
    return json.loads(lines[-1])


def commands(workload: str, args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """(paddle-gan command, peer command) for one workload."""
    model, batch, steps, warmup, infer = WORKLOADS[workload]
    common = ["--batch-size", str(batch), "--steps", str(args.steps or steps),
              "--warmup", str(warmup), "--threads", str(args.threads)] + (["--infer"] if infer else [])
    bench = str(Path(__file__).with_name("bench.py"))
    ours = [sys.executable, bench, "--model", model, "--device", "cpu"] + common
    if infer:
        ours.append("--predictor")
    peer = [args.torch_python, str(args.peer), model] + common
    return ours, peer


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
    p.add_argument("--threads", type=int, default=0,
                   help="math-library threads for both sides; 0: each side's default")
    p.add_argument("--steps", type=int, default=0, help="timed steps for every workload; "
                   "0: the per-workload default (gan 300, infogan 20, infer 20, infer-gan 300)")
    p.add_argument("--peer", type=Path, default=DEFAULT_PEER, help="the peer script")
    p.add_argument("--torch-python", default=os.environ.get("TORCH_PYTHON", sys.executable),
                   help="interpreter with torch installed (default: $TORCH_PYTHON, else this one)")
    args = p.parse_args()
    if args.rounds < 1 or args.steps < 0:
        p.error("--rounds must be positive and --steps not negative")

    torch_version = _torch_version(args.torch_python)
    if not args.peer.is_file() or torch_version is None:
        missing = f"peer script {args.peer}" if not args.peer.is_file() else \
            f"torch for {args.torch_python} (pip install torch==2.13.0, or set --torch-python)"
        print(f"skipped: no {missing}")
        return 0

    results: dict[str, dict[str, list[float]]] = {w: {"ours": [], "peer": []} for w in args.workloads}
    paddle_version = "?"
    for r in range(args.rounds):
        for workload in args.workloads:
            ours, peer = commands(workload, args)
            order = [("ours", ours), ("peer", peer)]
            for side, cmd in (order if r % 2 == 0 else order[::-1]):
                row = _run(cmd)
                results[workload][side].append(row["samples_per_s"])
                paddle_version = row.get("paddle", paddle_version)
                print(f"round {r + 1}/{args.rounds} {workload:8s} {side:4s} "
                      f"{row['samples_per_s']:>10.1f} samples/s", file=sys.stderr, flush=True)

    print(f"CPU: {_cpu_model()}, {os.cpu_count()} logical cores; paddle {paddle_version}, "
          f"torch {torch_version}; threads {args.threads or 'default'}; {args.rounds} rounds\n")
    print("| workload | batch | paddle-gan samples/s | peer samples/s | ratio | "
          "paddle-gan rounds | peer rounds |")
    print("|---|---|---|---|---|---|---|")
    for workload, sides in results.items():
        ours_m, peer_m = statistics.median(sides["ours"]), statistics.median(sides["peer"])
        rounds = ["/".join(f"{v:.0f}" for v in sides[s]) for s in ("ours", "peer")]
        print(f"| {workload} | {WORKLOADS[workload][1]} | {ours_m:.1f} | {peer_m:.1f} | "
              f"{ours_m / peer_m:.2f}x | {rounds[0]} | {rounds[1]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
