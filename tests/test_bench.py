"""Smoke test of the throughput benchmark (timings are measured in BENCHMARKS.md, not here)."""
from __future__ import annotations

import json

import pytest

from conftest import cli, ok


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


@pytest.mark.parametrize("args", [["infogan", "--to-static"], ["gan", "--infer"]])
def test_the_paddle_eager_peer_prints_one_json_line(args):
    """In a process of its own: the peer runs in dygraph mode, the suite in static mode."""
    result = ok(cli("benchmarks/paddle_peer.py", *args, "--steps", "2", "--warmup", "1",
                    "--batch-size", "16", "--threads", "1", fresh_process=True))
    row = json.loads(result.stdout.strip().splitlines()[-1])
    assert row["model"] == args[0] and row["to_static"] == ("--to-static" in args)
    assert row["mode"] == ("infer" if "--infer" in args else "train")
    assert row["samples_per_s"] == pytest.approx(16 * row["it_per_s"], rel=0.01)
