"""The AI Studio notebook, executed top to bottom headless on tiny synthetic data."""
from __future__ import annotations

import importlib.util

import pytest

from conftest import ROOT, write_mnist

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = ROOT / "notebooks" / "infogan_aistudio.ipynb"


@pytest.mark.slow
def test_notebook_runs_and_shows_its_figures(tmp_path, monkeypatch):
    data, output = write_mnist(tmp_path / "mnist", n_train=160, n_test=40), tmp_path / "run"
    for name, value in dict(PADDLE_GAN_NB_STEPS="4", PADDLE_GAN_NB_DATA=str(data),
                            PADDLE_GAN_NB_OUTPUT=str(output),
                            PADDLE_GAN_NB_VERIFY="0", PADDLE_GAN_NB_BATCH="16",
                            PADDLE_GAN_NB_EVAL_SAMPLES="20",
                            PADDLE_GAN_CACHE=str(tmp_path / "cache")).items():
        monkeypatch.setenv(name, value)  # the kernel inherits this process's environment
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()

    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.data]
    assert len(shown) == 5  # last sample grid, categorical, two traversals, L_I curve
    tables = [o.data["text/markdown"] for o in outputs
              if o.output_type == "display_data" and "text/markdown" in o.data]
    assert any("c1 accuracy on the test set" in t for t in tables)
    for name in ("samples/step_000004.png", "infer/categorical.png", "infer/traverse_c2.png",
                 "infer/traverse_c3.png", "li_curve.png", "checkpoints/step_000004/model.pdparams"):
        assert (output / name).is_file(), name
    if importlib.util.find_spec("visualdl"):
        assert list((output / "visualdl").glob("vdlrecords.*"))
