#!/usr/bin/env python3
"""Bitwise references of short training runs, for refactors that must change no number.

``record`` runs a fixed set of short ``train.py`` and ``infer.py`` commands from a source tree
(another commit's worktree, say) in a scratch directory, and writes a JSON of SHA-256 digests:
every array of every checkpoint, each checkpoint's step and RNG state, the logged rows (less
the wall-clock ``samples_per_s``), ``eval.jsonl``, ``selection.json`` and the PNG grids.
``compare`` prints what differs between two records and exits 1 if anything does::

    python benchmarks/reference.py record --tree ../before --data-dir ../shared/data/mnist --out before.json
    python benchmarks/reference.py record --tree . --data-dir ../shared/data/mnist --out after.json
    python benchmarks/reference.py compare before.json after.json

Each run uses ``--threads 1``: a seeded CPU run repeats exactly only at the same thread count.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SHORT = ["--threads", "1", "--log-every", "2", "--sample-every", "6"]
GAN = ["--model", "gan", *SHORT, "--save-every", "5"]
INFOGAN = ["--model", "infogan", *SHORT, "--save-every", "4"]
CODE_TERMS = ["--lambda-real-mi", "1", "--lambda-consistency", "1", "--lambda-warped-fakes", "1"]

# name -> the train.py command lines run one after another in one output directory
RUNS = {
    "gan": [[*GAN, "--max-steps", "12"]],
    "gan-resumed": [[*GAN, "--max-steps", "7"], ["--resume", "--max-steps", "12"]],
    "gan-fresh-noise-hinge": [[*GAN, "--max-steps", "6", "--g-noise", "fresh", "--loss", "hinge",
                               "--spectral-norm", "--seed", "3"]],
    "infogan": [[*INFOGAN, "--max-steps", "8"]],
    "infogan-code-terms": [[*INFOGAN, "--max-steps", "8", *CODE_TERMS]],
    "infogan-code-terms-resumed": [[*INFOGAN, "--max-steps", "4", *CODE_TERMS],
                                   ["--resume", "--max-steps", "8"]],
    "infogan-q-step-g": [[*INFOGAN, "--max-steps", "4", "--q-step", "g", "--lambda-cont", "0"]],
    "infogan-restarts": [[*INFOGAN, "--max-steps", "8", "--restarts", "2", "--restart-steps", "4",
                          "--seed", "5"]],
    "infogan-restarts-resumed": [[*INFOGAN, "--max-steps", "6", "--restarts", "2",
                                  "--restart-steps", "4", "--seed", "5"],
                                 ["--resume", "--max-steps", "8"]],
}


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def array_digests(path: Path) -> dict[str, str]:
    import numpy as np
    import paddle

    values = paddle.load(str(path), return_numpy=True)
    return {name: digest(np.ascontiguousarray(v).tobytes() + str(v.dtype).encode() + str(v.shape).encode())
            for name, v in sorted(values.items())}


def rows(path: Path) -> list[dict]:
    kept = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        row.pop("samples_per_s", None)
        kept.append(row)
    return kept


def describe_run(output: Path) -> dict:
    """Digests of everything a run directory holds that must not change."""
    record: dict = {}
    for path in sorted(output.rglob("*")):
        rel = str(path.relative_to(output))
        if path.is_dir() or "visualdl" in rel:
            continue
        if path.suffix in (".pdparams", ".pdopt"):
            record[rel] = array_digests(path)
        elif path.name == "state.json":
            state = json.loads(path.read_text())
            record[rel] = {"step": state["step"], "rng": digest(json.dumps(state["rng"]).encode()),
                           "trial": state.get("trial")}
        elif path.suffix == ".jsonl":
            record[rel] = rows(path)
        elif path.name == "selection.json":
            record[rel] = json.loads(path.read_text())
        elif path.suffix == ".png" and path.parent.name in ("samples", "infer"):
            record[rel] = digest(path.read_bytes())
    return record


def record(tree: Path, data_dir: Path, only: list[str] | None = None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    result = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, commands in RUNS.items():
            if only and name not in only:
                continue
            output = Path(scratch) / name
            for args in commands:
                command = [sys.executable, str(tree / "train.py"), "--output", str(output),
                           "--data-dir", str(data_dir), *args]
                done = subprocess.run(command, cwd=scratch, env=env, capture_output=True, text=True)
                if done.returncode != 0:
                    sys.exit(f"{name}: {' '.join(command)} failed:\n{done.stderr[-3000:]}")
            infer = [sys.executable, str(tree / "infer.py"), "--checkpoint", str(output),
                     "--threads", "1"]
            done = subprocess.run(infer, cwd=scratch, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"{name}: infer.py failed:\n{done.stderr[-3000:]}")
            result[name] = describe_run(output)
            print(f"{name}: {len(result[name])} files", file=sys.stderr)
    return result


def compare(a: dict, b: dict) -> list[str]:
    differences = []
    for run in sorted(set(a) | set(b)):
        files_a, files_b = a.get(run, {}), b.get(run, {})
        for rel in sorted(set(files_a) | set(files_b)):
            if files_a.get(rel) != files_b.get(rel):
                differences.append(f"{run}/{rel}")
    return differences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record", help="run the reference commands and write their digests")
    rec.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1],
                     help="source tree whose train.py to run (default: this one)")
    rec.add_argument("--data-dir", type=Path, required=True, help="real MNIST IDX files")
    rec.add_argument("--out", type=Path, required=True)
    rec.add_argument("--only", nargs="*", choices=list(RUNS), help="run only these")
    cmp = commands.add_parser("compare", help="list the files whose digests differ")
    cmp.add_argument("a", type=Path)
    cmp.add_argument("b", type=Path)
    args = parser.parse_args()
    if args.command == "record":
        result = record(args.tree.resolve(), args.data_dir.resolve(), args.only)
        args.out.write_text(json.dumps(result, indent=1, sort_keys=True))
        return
    a, b = json.loads(args.a.read_text()), json.loads(args.b.read_text())
    differences = compare(a, b)
    for line in differences:
        print("differs:", line)
    checked = sum(len(files) for files in a.values())
    print(f"{checked} files in {len(a)} runs; {len(differences)} differ")
    sys.exit(1 if differences or set(a) != set(b) else 0)


if __name__ == "__main__":
    main()
