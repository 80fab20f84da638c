"""Smoke test of the throughput benchmark (timings are measured in BENCHMARKS.md, not here)."""
from __future__ import annotations

import json

import pytest

from conftest import cli, entry_point, ok, write_mnist


@pytest.mark.parametrize("args", [["--model", "gan"], ["--model", "infogan"],
                                  ["--model", "infogan", "--infer"],
                                  ["--model", "gan", "--infer", "--predictor"]])
def test_bench_prints_one_json_line(args):
    result = ok(cli("benchmarks/bench.py", *args, "--steps", "3", "--warmup", "1",
                    "--batch-size", "16", "--threads", "1"))
    row = json.loads(result.stdout.strip().splitlines()[-1])
    assert row["model"] == args[1] and row["batch"] == 16
    assert row["mode"] == ("infer" if "--infer" in args else "train")
    assert row["it_per_s"] > 0 and row["samples_per_s"] == pytest.approx(16 * row["it_per_s"], rel=0.01)
    assert row["threads"] == 1 and row["device"] == "Place(cpu)"
    assert row["predictor"] == ("--predictor" in args)


@pytest.mark.slow
@pytest.mark.parametrize("args", [["infogan", "--to-static"], ["gan", "--infer"]])
def test_the_paddle_eager_peer_prints_one_json_line(args):
    """In a process of its own: the peer runs in dygraph mode, the suite in static mode."""
    result = ok(cli("benchmarks/paddle_peer.py", *args, "--steps", "2", "--warmup", "1",
                    "--batch-size", "16", "--threads", "1", fresh_process=True))
    row = json.loads(result.stdout.strip().splitlines()[-1])
    assert row["model"] == args[0] and row["to_static"] == ("--to-static" in args)
    assert row["mode"] == ("infer" if "--infer" in args else "train")
    assert row["samples_per_s"] == pytest.approx(16 * row["it_per_s"], rel=0.01)


@pytest.mark.slow
def test_seeds_trains_evaluates_and_draws_each_seed_into_one_table(tmp_path):
    data = write_mnist(tmp_path / "mnist", n_train=160)
    out = tmp_path / "seeds"
    result = ok(cli("benchmarks/seeds.py", "--seeds", "3", "--output", str(out), "--samples", "20",
                    "--data-dir", str(data), "--no-verify", "--cache-dir", str(tmp_path / "cache"),
                    "--", "--batch-size", "16", "--max-steps", "2"))
    evaluation = json.loads((out / "seed-3" / "evaluation.json").read_text())
    assert evaluation["step"] == 2
    config = json.loads((out / "seed-3" / "config.json").read_text())
    assert config["run"]["seed"] == 3 and config["run"]["threads"] == 1
    assert (out / "seed-3" / "infer" / "categorical.png").is_file()
    row = next(line for line in result.stdout.splitlines() if line.startswith("| 3 |"))
    assert row.split("|")[2].strip() == f"{evaluation['cat_accuracy']:.4f}"
    assert f"median c1 accuracy {evaluation['cat_accuracy']:.4f}" in result.stdout
    assert (out / "summary.md").read_text().strip() == result.stdout.strip()


def test_flops_are_counted_from_the_built_weights_as_table_1_gives_them():
    flops = entry_point("benchmarks/flops.py")
    per_image = flops.iteration_flops_per_image(flops.weight_shapes())
    # Table 1 by hand: FLOPs of one forward pass per image (a multiply-add is 2)
    g = 2 * (74 * 1024 + 1024 * 7 * 7 * 128 + 128 * 64 * 16 * 7 * 7 + 64 * 1 * 16 * 14 * 14)
    conv1, rest = 2 * 64 * 16 * 14 * 14, 2 * (64 * 128 * 16 * 7 * 7 + 6272 * 1024)
    d_head, q = 2 * 1024, 2 * (1024 * 128 + 128 * 14)
    g_first = 2 * 74 * 1024  # G's first layer: z needs no gradient
    real = 2 * conv1 + 3 * rest + 3 * d_head  # the real (and detached fake) input: no gradient
    assert per_image["d_step"] == g + real + real + 3 * q
    assert per_image["g_step"] == 3 * g - g_first + 2 * (conv1 + rest + d_head + q)
