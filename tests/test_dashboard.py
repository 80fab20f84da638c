"""VisualDL logging (optional dependency): what train.py --visualdl writes, read back."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from conftest import write_mnist
from conftest import cli, ok

needs_visualdl = pytest.mark.skipif(importlib.util.find_spec("visualdl") is None,
                                    reason="visualdl not installed (requirements-dev.txt)")


def read_visualdl(logdir):
    """{tag: [(step, value)]} for scalars and {tag: [step]} for images, over every log file."""
    from visualdl import LogReader

    scalars, images = {}, {}
    for path in sorted(logdir.glob("vdlrecords.*")):
        reader = LogReader(file_path=str(path))
        tags = reader.get_tags()
        for tag in tags.get("scalar", []):
            scalars.setdefault(tag, []).extend((r.id, r.value) for r in reader.get_data("scalar", tag))
        for tag in tags.get("image", []):
            images.setdefault(tag, []).extend(r.id for r in reader.get_data("image", tag))
    return scalars, images


@pytest.mark.slow
@needs_visualdl
def test_infogan_logs_losses_li_speed_evaluations_and_grids(tmp_path):
    data = write_mnist(tmp_path / "mnist", n_train=160)
    out = tmp_path / "run"
    ok(cli("train.py", "--model", "infogan", "--no-verify", "--data-dir", str(data), "--output",
           str(out), "--batch-size", "16", "--max-steps", "6", "--log-every", "2",
           "--sample-every", "3", "--save-every", "3", "--visualdl"))
    scalars, images = read_visualdl(out / "visualdl")
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    for name in ("d_loss", "g_loss", "li_cat", "cont_nll", "samples_per_s"):
        logged = sorted(scalars[f"train/{name}"])
        assert [s for s, _ in logged] == [r["step"] for r in rows], name
        np.testing.assert_allclose([v for _, v in logged], [r[name] for r in rows], rtol=1e-6)
    evals = [json.loads(line) for line in (out / "eval.jsonl").read_text().splitlines()]
    logged = sorted(scalars["eval/cat_accuracy"])
    assert [s for s, _ in logged] == [e["step"] for e in evals] == [3, 6]
    np.testing.assert_allclose([v for _, v in logged], [e["cat_accuracy"] for e in evals], rtol=1e-6)
    assert sorted(images["samples"]) == [3, 6]
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_000003.png", "step_000006.png"]


def test_a_run_without_visualdl_writes_no_dashboard(tmp_path):
    data = write_mnist(tmp_path / "mnist", n_train=160)
    out = tmp_path / "run"
    ok(cli("train.py", "--model", "gan", "--no-verify", "--data-dir", str(data), "--output",
           str(out), "--batch-size", "16", "--max-steps", "2"))
    assert not (out / "visualdl").exists()


def test_missing_visualdl_is_a_one_line_error(tmp_path, monkeypatch):
    import builtins

    from paddle_gan.cli import UserError
    from paddle_gan.training.dashboard import VisualDL

    real_import = builtins.__import__

    def without_visualdl(name, *args, **kwargs):
        if name.startswith("visualdl"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_visualdl)
    with pytest.raises(UserError, match="pip install visualdl"):
        VisualDL(tmp_path / "logs")
