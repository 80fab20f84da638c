"""End to end through the command line, on synthetic IDX data."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import paddle
import pytest
import scipy.stats

import programs
from conftest import cli, ok, one_line_error

SMOKE = ["--model", "gan", "--no-verify", "--log-every", "5", "--sample-every", "10",
         "--save-every", "10", "--batch-size", "32"]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """train.py --max-steps 20 on synthetic data, then infer.py on its checkpoint."""
    from conftest import write_mnist

    tmp = tmp_path_factory.mktemp("smoke")
    data = write_mnist(tmp / "mnist", n_train=320)
    out = tmp / "run"
    train = ok(cli("train.py", *SMOKE, "--data-dir", str(data), "--output", str(out),
                   "--max-steps", "20"))
    infer = ok(cli("infer.py", "--checkpoint", str(out), "--output", str(tmp / "infer")))
    return dict(tmp=tmp, data=data, out=out, train=train, infer=infer)


def test_train_writes_every_artifact(smoke_run):
    out = smoke_run["out"]
    for rel in ("config.json", "metrics.jsonl", "loss_curve.png", "samples/step_000010.png",
                "samples/step_000020.png", "checkpoints/latest",
                "checkpoints/step_000020/model.pdparams", "checkpoints/step_000020/model.pdopt",
                "checkpoints/step_000020/state.json"):
        assert (out / rel).is_file(), rel
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [5, 10, 15, 20]
    assert {"step", "epoch", "d_loss", "g_loss", "samples_per_s"} <= set(rows[0])
    assert all(np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"]) for r in rows)
    assert rows[-1]["epoch"] == 1  # 10 batches of 32 per epoch: step 20 is in the second
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["kind"] == "gan" and config["run"]["max_steps"] == 20


def test_infer_writes_a_grid_of_the_checkpoints_generator(smoke_run):
    from matplotlib.image import imread

    path = smoke_run["tmp"] / "infer" / "samples.png"
    assert path.is_file() and "step 20" in smoke_run["infer"].stdout
    grid = imread(path)
    assert grid.shape[:2] == (2 * (8 * 30 + 2),) * 2  # 8x8 cells of 28 px + 2 px gaps, x2 scale
    assert grid[..., :3].std() > 0.05  # not a blank image


def test_seeded_runs_are_reproducible_and_resume_continues(smoke_run):
    """Same seed -> identical weights; --resume picks up at step 20 and goes on to 30."""
    tmp, data = smoke_run["tmp"], smoke_run["data"]
    again = tmp / "again"
    ok(cli("train.py", *SMOKE, "--data-dir", str(data), "--output", str(again), "--max-steps", "20"))
    a = paddle.load(str(smoke_run["out"] / "checkpoints/step_000020/model.pdparams"), return_numpy=True)
    b = paddle.load(str(again / "checkpoints/step_000020/model.pdparams"), return_numpy=True)
    assert all(np.array_equal(a[n], b[n]) for n in a)
    resumed = ok(cli("train.py", *SMOKE, "--data-dir", str(data), "--output", str(again),
                     "--max-steps", "30", "--resume"))
    assert "resumed from" in resumed.stdout and "step_000020" in resumed.stdout
    rows = [json.loads(line) for line in (again / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [5, 10, 15, 20, 25, 30]


def test_refuses_to_overwrite_a_run_without_resume(smoke_run):
    one_line_error(cli("train.py", *SMOKE, "--data-dir", str(smoke_run["data"]),
                       "--output", str(smoke_run["out"]), "--max-steps", "5"),
                   2, "already holds a run; pass --resume")


def test_bad_input_gives_one_line_errors(tmp_path, mnist_dir):
    one_line_error(cli("train.py", "--data-dir", str(tmp_path / "missing"), "--output",
                       str(tmp_path / "o1")), 2, "directory does not exist")
    one_line_error(cli("train.py", "--data-dir", str(mnist_dir), "--output", str(tmp_path / "o2")),
                   2, "expected (60000, 28, 28)")
    one_line_error(cli("train.py", *SMOKE, "--data-dir", str(mnist_dir), "--batch-size", "0",
                       "--output", str(tmp_path / "o3")), 2, "--batch-size 0 is out of range (must be > 0)")
    one_line_error(cli("infer.py", "--checkpoint", str(tmp_path)), 2, "no checkpoint there")
    bad_model = cli("train.py", "--model", "vae")
    assert bad_model.returncode == 2 and "invalid choice: 'vae'" in bad_model.stderr
    if not paddle.is_compiled_with_cuda():
        one_line_error(cli("train.py", *SMOKE, "--data-dir", str(mnist_dir), "--device", "gpu",
                           "--output", str(tmp_path / "o4")), 2, "no CUDA support")


@pytest.fixture(scope="module")
def infogan_run(tmp_path_factory):
    """The headline path on synthetic data: an InfoGAN run of 6 steps and a lambda = 0
    baseline of 4 (a two-point curve to plot beside the run's)."""
    from conftest import write_mnist

    tmp = tmp_path_factory.mktemp("infogan")
    data = write_mnist(tmp / "mnist")
    common = ["--model", "infogan", "--no-verify", "--data-dir", str(data), "--batch-size",
              "16", "--log-every", "2", "--sample-every", "3", "--save-every", "3"]
    run, base = tmp / "infogan", tmp / "baseline"
    ok(cli("train.py", *common, "--output", str(run), "--max-steps", "6"))
    ok(cli("train.py", *common, "--output", str(base), "--lambda-cat", "0", "--lambda-cont", "0",
           "--max-steps", "4"))
    evals = [json.loads(line) for line in (run / "eval.jsonl").read_text().splitlines()]
    return dict(tmp=tmp, data=data, run=run, base=base, evals=evals)


@pytest.fixture(scope="module")
def infogan_evaluation(infogan_run):
    """evaluate.py --json on the run's last checkpoint."""
    evaluate = ["evaluate.py", "--checkpoint", str(infogan_run["run"]), "--no-verify",
                "--data-dir", str(infogan_run["data"]), "--samples", "40", "--cache-dir",
                str(infogan_run["tmp"] / "cache")]
    return json.loads(ok(cli(*evaluate, "--json")).stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.xdist_group("infogan_run")  # one worker trains the run they share
def test_infogan_logs_l_i_and_evaluates_each_checkpoint(infogan_run):
    run, evals = infogan_run["run"], infogan_run["evals"]
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 6] and all("li_cat" in r for r in rows)
    assert [e["step"] for e in evals] == [3, 6]
    for e in evals:  # each accuracy is its own confusion table read through its mapping
        matched = sum(e["cat_confusion"][int(code)][label] for code, label in e["cat_mapping"].items())
        assert e["cat_accuracy"] == pytest.approx(matched / np.sum(e["cat_confusion"]))
    assert (run / "li_curve.png").is_file() and (run / "loss_curve.png").is_file()


@pytest.mark.slow
@pytest.mark.xdist_group("infogan_run")  # one worker trains the run they share
def test_infer_draws_infogans_grids(infogan_run):
    run = infogan_run["run"]
    infer = ok(cli("infer.py", "--checkpoint", str(run), "--seed", "1"))
    for name in ("samples", "categorical", "traverse_c2", "traverse_c3"):
        assert (run / "infer" / f"{name}.png").is_file(), name
    assert "categorical.png" in infer.stdout


@pytest.mark.slow
@pytest.mark.xdist_group("infogan_run")  # one worker trains the run they share
def test_evaluate_agrees_with_the_runs_own_evaluation(infogan_run, infogan_evaluation):
    result, evals = infogan_evaluation, infogan_run["evals"]
    assert result["model"] == "infogan" and result["step"] == 6 and result["samples"] == 40
    assert result["cat_accuracy"] == pytest.approx(evals[-1]["cat_accuracy"])
    assert result["cat_real_mi"] == pytest.approx(evals[-1]["cat_real_mi"])
    assert sorted(result["cat_mapping"].values()) == list(range(10))
    confusion = np.array(result["cat_confusion"])  # rows: codes, columns: labels
    matched = sum(confusion[int(code), label] for code, label in result["cat_mapping"].items())
    assert matched / confusion.sum() == pytest.approx(result["cat_accuracy"])
    assert sum(result["class_histogram"]) == 40
    assert result["class_entropy"] == pytest.approx(scipy.stats.entropy(result["class_histogram"]))
    assert result["cat_purity"] == pytest.approx(np.mean(result["cat_purity_per_code"]))


@pytest.mark.slow
@pytest.mark.xdist_group("infogan_run")  # one worker trains the run they share
def test_markdown_table_marks_each_codes_match(infogan_evaluation):
    from paddle_gan.evaluation.scoring import markdown

    result = infogan_evaluation
    table = markdown(json.loads(json.dumps(result)))  # what --format md prints, from the JSON
    assert "| FID-MNIST vs test set (lower is better) |" in table and "c1 purity" in table
    assert (f"| c1 information on the test images, label-free (nats; max ln 10 = 2.303) | "
            f"{result['cat_real_mi']:.4f} | - |") in table
    code_rows = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()
                 if line.startswith("| ") and line.split("|")[1].strip().isdigit()]
    bold = {int(cells[0]): [i for i, c in enumerate(cells[1:]) if c.startswith("**")]
            for cells in code_rows}
    assert bold == {int(code): [label] for code, label in result["cat_mapping"].items()}


@pytest.mark.slow
@pytest.mark.xdist_group("infogan_run")  # one worker trains the run they share
def test_li_plot_draws_a_run_beside_its_baseline(infogan_run, tmp_path):
    figure = tmp_path / "li.png"
    ok(cli("-m", "paddle_gan.plots", "li", "--runs", str(infogan_run["run"]),
           str(infogan_run["base"]), "--output", str(figure)))
    assert figure.is_file()


@pytest.mark.slow
def test_a_categorical_code_of_twenty_values_trains_draws_and_evaluates(tmp_path, mnist_dir):
    run = tmp_path / "k20"
    ok(cli("train.py", "--model", "infogan", "--categories", "20", "--no-verify", "--data-dir",
           str(mnist_dir), "--batch-size", "16", "--max-steps", "2", "--output", str(run)))
    ok(cli("infer.py", "--checkpoint", str(run)))
    from matplotlib.image import imread
    rows = imread(run / "infer" / "categorical.png").shape[0]
    ten_rows = imread(run / "infer" / "samples.png").shape[0] * 10 / 8  # samples: 8 rows
    assert rows == pytest.approx(2 * ten_rows, rel=0.02), "one row per value of c1"
    result = json.loads(ok(cli("evaluate.py", "--checkpoint", str(run), "--no-verify",
                               "--data-dir", str(mnist_dir), "--samples", "40", "--cache-dir",
                               str(tmp_path / "cache"), "--json")).stdout.strip().splitlines()[-1])
    confusion = np.array(result["cat_confusion"])
    assert confusion.shape == (20, 10) and len(result["cat_purity_per_code"]) == 20
    majority = confusion.max(axis=1).sum() / confusion.sum()
    assert result["cat_accuracy_many_to_one"] == pytest.approx(majority)
    assert result["cat_accuracy"] <= result["cat_accuracy_many_to_one"]


@pytest.mark.slow
def test_stabilisation_flags_train_resume_and_truncated_infer(tmp_path):
    """The stabilisation flags reach the model config and survive --resume; infer.py takes
    --truncation; a contradicting flag on resume is refused."""
    from conftest import write_mnist

    data = write_mnist(tmp_path / "mnist", n_train=320)
    out = tmp_path / "run"
    flags = [*SMOKE, "--data-dir", str(data), "--output", str(out), "--loss", "hinge",
             "--r1-gamma", "5", "--spectral-norm"]
    ok(cli("train.py", *flags, "--max-steps", "10"))
    model = json.loads((out / "config.json").read_text())["model"]
    assert (model["loss"], model["r1_gamma"], model["spectral_norm"]) == ("hinge", 5.0, True)
    ok(cli("train.py", *SMOKE, "--data-dir", str(data), "--output", str(out), "--resume",
           "--max-steps", "15"))
    params = paddle.load(str(out / "checkpoints/step_000015/model.pdparams"), return_numpy=True)
    assert {"D_fc1.u", "D_fc2.u"} <= set(params)
    one_line_error(cli("train.py", *SMOKE, "--data-dir", str(data), "--output", str(out),
                       "--resume", "--loss", "bce"), 2, "--loss bce differs from the run's hinge")
    ok(cli("infer.py", "--checkpoint", str(out), "--truncation", "0.5", "--output",
           str(tmp_path / "infer")))
    assert (tmp_path / "infer" / "samples.png").is_file()
    one_line_error(cli("infer.py", "--checkpoint", str(out), "--truncation", "0"), 2,
                   "--truncation must be a positive number")


def test_fashion_mnist_run_is_evaluated_with_its_own_classifier(tmp_path):
    """--dataset is a run setting: recorded, fixed on resume, and read by evaluate, whose
    scores then carry the dataset's name and come from a classifier cached for it alone."""
    from conftest import write_mnist

    data = write_mnist(tmp_path / "fashion", n_train=320, seed=3)
    out, cache = tmp_path / "run", tmp_path / "cache"
    ok(cli("train.py", *SMOKE, "--dataset", "fashion-mnist", "--data-dir", str(data),
           "--output", str(out), "--max-steps", "10"))
    assert json.loads((out / "config.json").read_text())["run"]["dataset"] == "fashion-mnist"
    one_line_error(cli("train.py", *SMOKE, "--dataset", "mnist", "--data-dir", str(data),
                       "--output", str(out), "--resume"), 2,
                   "--dataset mnist differs from the run's fashion-mnist")
    result = json.loads(ok(cli("evaluate.py", "--checkpoint", str(out), "--json",
                               "--no-verify", "--data-dir", str(data), "--samples", "20",
                               "--cache-dir", str(cache))).stdout.strip().splitlines()[-1])
    assert result["dataset"] == "fashion-mnist" and "fashion_mnist_fid" in result
    assert "fashion_mnist_test" in result["reference"] and "mnist_fid" not in result
    assert sorted(p.name for p in cache.glob("*_lenet.*")) == [
        "fashion-mnist_lenet.json", "fashion-mnist_lenet.pdparams"]


def test_infer_exports_and_draws_from_the_export(smoke_run):
    tmp = smoke_run["tmp"]
    ok(cli("infer.py", "--checkpoint", str(smoke_run["out"]), "--export", str(tmp / "export"),
           "--output", str(tmp / "infer-again")))
    drawn = ok(cli("infer.py", "--model-dir", str(tmp / "export")))
    assert "exported" in drawn.stdout and (tmp / "export" / "infer" / "samples.png").is_file()
    from matplotlib.image import imread
    # the predictor is within 1e-4 of the Program (test_export.py); a PNG grey level may round
    # apart by one or, where the two png writers round differently (Paddle 2.6), two
    np.testing.assert_allclose(imread(tmp / "export" / "infer" / "samples.png"),
                               imread(tmp / "infer-again" / "samples.png"), rtol=0, atol=2.01 / 255)
    one_line_error(cli("infer.py", "--model-dir", str(tmp)), 2, "not an exported model")


def saved_state(kind: str = "infogan", **run: object) -> dict:
    """A checkpoint's state as train.py records it, for the resume rules."""
    from paddle_gan.config import RunConfig

    return {"model": programs.model_config(kind).to_dict(),
            "run": dataclasses.asdict(RunConfig(output="out", threads=2, epochs=10, **run))}


def resumed(args, state: dict, where: str):
    """The (model, run) settings train.py resumes with from a checkpoint's ``state``."""
    import train
    from paddle_gan.training.checkpoint import Checkpoint

    return train.settings(args, Checkpoint(Path(where), state))


def test_resume_keeps_the_fixed_run_settings_and_may_change_the_others():
    import train
    from paddle_gan.cli import UserError

    state = saved_state(dataset="fashion-mnist", g_noise="fresh")
    _, run = resumed(train.parse_args(["--resume", "--dataset", "fashion-mnist"]), state, "ckpt")
    assert (run.dataset, run.g_noise, run.threads, run.epochs) == ("fashion-mnist", "fresh", 2, 10)
    _, run = resumed(train.parse_args(["--resume", "--threads", "1", "--max-steps", "9"]),
                               state, "ckpt")
    assert (run.threads, run.max_steps, run.output) == (1, 9, "output/infogan")
    for flag, value, run_value in (("--dataset", "mnist", "fashion-mnist"),
                                   ("--g-noise", "same", "fresh"), ("--seed", "3", "0"),
                                   ("--batch-size", "64", "128")):
        with pytest.raises(UserError, match=f"{flag} {value} differs from the run's {run_value}"):
            resumed(train.parse_args(["--resume", flag, value]), state, "ckpt")
    args = train.parse_args(["--g-noise", "fresh", "--seed", "4", "--threads", "3"])
    _, run = train.settings(args, None)
    assert (run.g_noise, run.seed, run.threads) == ("fresh", 4, 3)


def test_resume_refuses_a_model_flag_that_changes_the_run_or_does_not_apply():
    """A model flag on resume gets a new run's checks too: foreign to the model, out of range."""
    import train
    from paddle_gan.cli import UserError

    state = saved_state("infogan")
    model, _ = resumed(train.parse_args(["--resume", "--loss", "bce", "--q-step", "d"]),
                                 state, "ckpt")
    assert model == programs.model_config("infogan")
    with pytest.raises(UserError, match="--q-step g differs from the run's d"):
        resumed(train.parse_args(["--resume", "--q-step", "g"]), state, "ckpt")
    with pytest.raises(UserError, match="--loss hinge differs from the run's bce"):
        resumed(train.parse_args(["--resume", "--loss", "hinge"]), state, "ckpt")
    gan_run = saved_state("gan")
    with pytest.raises(UserError, match="--leaky-slope does not apply to --model gan"):
        resumed(train.parse_args(["--resume", "--leaky-slope", "0.01"]), gan_run, "ckpt")
    with pytest.raises(UserError, match="--model infogan differs from the run's gan"):
        resumed(train.parse_args(["--resume", "--model", "infogan", "--lambda-cat", "2"]),
                          gan_run, "ckpt")
    with pytest.raises(UserError, match=r"--lambda-cat -1.0 is out of range"):
        resumed(train.parse_args(["--resume", "--lambda-cat", "-1"]), state, "ckpt")


def test_a_checkpoint_of_another_version_is_refused_naming_the_difference():
    import train
    from paddle_gan.cli import UserError

    args = train.parse_args(["--resume"])
    older = saved_state("infogan")
    del older["model"]["q_step"]
    with pytest.raises(UserError, match=r"ckpt was written by another version.*missing: \['q_step'\]"):
        resumed(args, older, "ckpt")
    newer = saved_state("gan")
    newer["run"]["augment"] = True
    with pytest.raises(UserError, match=r"unknown: \['augment'\]"):
        resumed(args, newer, "ckpt")
    with pytest.raises(UserError, match="unknown model 'wgan'"):
        programs.saved_config({"kind": "wgan"}, "ckpt")


def test_every_setting_is_a_flag_with_its_default_in_the_help():
    """The flags, --help defaults and --config keys all come from the config dataclasses."""
    import train
    from paddle_gan import config
    from paddle_gan.config import RunConfig

    parser_flags = {a.dest: a for a in train.build_parser()._actions}
    for config_class in [RunConfig, *programs.CONFIGS]:
        for f in config.settings(config_class):
            action = parser_flags[f.name]
            assert action.default is None and f.metadata["help"] in " ".join(action.help.split())
            if f.default not in (None, False):
                assert str(f.default) in action.help
    assert "infogan 0.0002, gan 0.001" in parser_flags["lr_d"].help
    assert parser_flags["lambda_cat"].help.startswith("infogan only:")


def test_a_new_run_trains_for_its_models_epochs_unless_told():
    import train

    for kind, epochs in (("gan", 30), ("infogan", 10)):
        model, run = train.settings(train.parse_args(["--model", kind]), None)
        assert (run.epochs, model.default_epochs) == (epochs, epochs)
        _, run = train.settings(train.parse_args(["--model", kind, "--epochs", "3"]), None)
        assert run.epochs == 3
    model, _ = train.settings(train.parse_args(["--model", "gan"]), None)
    assert model.r1_gamma == 1.0 and programs.model_config("infogan").r1_gamma == 0.0
    assert "gan 30, infogan 10" in " ".join(train.build_parser().format_help().split())


def test_config_file_sets_flags_and_the_command_line_wins(tmp_path):
    """YAML and JSON configs go through argparse (types, choices); a flag given overrides."""
    import train
    from paddle_gan.cli import UserError

    yaml_file = tmp_path / "run.yaml"
    yaml_file.write_text("model: gan\nepochs: 3\nlr-d: 0.0005\nspectral_norm: true\n"
                         "dataset: fashion-mnist\nmax_steps: null\n")
    args = train.parse_args(["--config", str(yaml_file), "--epochs", "7"])
    assert (args.model, args.epochs, args.lr_d, args.spectral_norm) == ("gan", 7, 5e-4, True)
    assert (args.dataset, args.max_steps, args.output) == ("fashion-mnist", None, "output/gan")
    json_file = tmp_path / "run.json"
    json_file.write_text(json.dumps({"loss": "hinge", "visualdl": "logs", "seed": 3}))
    args = train.parse_args(["--config", str(json_file)])
    assert (args.loss, args.visualdl, args.seed, args.model) == ("hinge", "logs", 3, None)
    yaml_file.write_text("visualdl: true\noutput: runs/a\n")
    assert train.parse_args(["--config", str(yaml_file)]).visualdl == "runs/a/visualdl"
    yaml_file.write_text("visualdl: false\n")
    assert train.parse_args(["--config", str(yaml_file)]).visualdl is None

    for text, message in (("epoch: 3", "unknown setting 'epoch'"),
                          ("spectral_norm: 1", "spectral_norm must be true or false"),
                          ("- 3", "must hold a mapping"), ("epochs: [3", "not valid YAML")):
        yaml_file.write_text(text)
        with pytest.raises(UserError, match=message):
            train.parse_args(["--config", str(yaml_file)])
    with pytest.raises(UserError, match="cannot read --config"):
        train.parse_args(["--config", str(tmp_path / "missing.yaml")])
    yaml_file.write_text("loss: wasserstein")
    bad_choice = cli("train.py", "--config", str(yaml_file))
    assert bad_choice.returncode == 2 and "invalid choice: 'wasserstein'" in bad_choice.stderr


def test_help_is_grouped_with_defaults():
    text = " ".join(ok(cli("train.py", "--help")).stdout.split())  # unwrapped
    for group in ("data:", "run:", "device:", "model and optimiser", "stabilisation",
                  "logging and checkpoints:"):
        assert group in text
    assert "(default: 128; on --resume, the run's)" in text and "--config FILE" in text
    text = " ".join(ok(cli("infer.py", "--help")).stdout.split())
    for group in ("what to draw from", "output:", "grids:", "device:"):
        assert group in text
    assert "(default: 0)" in text and "--config FILE" in text
