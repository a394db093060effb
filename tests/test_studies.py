"""The studies: the vanishing-gradient study and the tuning sweep, end to end on real MNIST, and
a sweep's stacked cells (numpy_mlp.fit_many) against `fit` network by network."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from PIL import Image

from compare.config import TUTORIAL
from compare.studies.cells import cached_data, train_cell, train_group


@pytest.fixture(scope="module")
def small64(mnist_dir):
    return cached_data(str(mnist_dir), "float64", 2000)


@pytest.fixture(scope="module")
def small32(mnist_dir):
    return cached_data(str(mnist_dir), "float32", 2000)


def _images_ok(folder, names):
    for name in names:
        with Image.open(folder / name) as image:
            image.verify()


def test_vanishing_quick_shows_the_vanishing_gradient(tmp_path, mnist_dir, cli):
    result = cli(
        "study", "vanishing", "--quick", "--data-dir", str(mnist_dir), "--out", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    study = json.loads((tmp_path / "study.json").read_text())
    # 4 depths x 4 (activation, init) pairs x 3 learning rates, and the rates added after them
    planned = [r for r in study["runs"] if not r.get("rate_added")]
    assert study["status"] == "complete" and len(planned) == 48
    for r in study["runs"]:
        if r.get("rate_added"):  # only where the largest rate so far was the best on validation
            assert r["learning_rate"] in (0.3, 1.0), r
    runs = {(r["activation"], r["init"], r["depth"]): r for r in planned}
    for r in study["runs"]:
        assert len(r["grad_norms"]) == r["depth"] + 1  # one norm per weight matrix
        assert len(r["epoch_grad_norms"]) == 1 and len(r["train_grad_norms"]) == 1
        assert len(r["layer_stats"]) == 2  # at initialization and after the epoch
        assert len(r["delta_factors"]) == r["depth"] - 1
        assert len(r["layer_stats"][0]["unit_spread"]) == r["depth"]
        assert 0 <= r["test_accuracy"] <= 100
    logistic, tanh, relu = (
        runs["logistic", "glorot_uniform", 8],
        runs["tanh", "glorot_uniform", 8],
        runs["relu", "he_uniform", 8],
    )
    # logistic: the first layer's gradient orders of magnitude below the last layer's at depth 8
    assert logistic["first_over_last"] < 1e-3
    assert logistic["first_over_last"] < runs["logistic", "glorot_uniform", 4]["first_over_last"]
    # the backward factor: logistic near its slope bound 1/4, tanh below 1, ReLU + He near 1
    assert logistic["mean_delta_factor"] < 0.3
    assert 0.7 < tanh["mean_delta_factor"] < 0.95
    assert 0.95 < relu["mean_delta_factor"] < 1.05
    # tanh's weight-gradient factor keeps its size while delta shrinks: the rest grows
    assert 0.95 < tanh["mean_weight_grad_factor"] < 1.05
    assert (
        len(tanh["weight_grad_factors"]) == 6
        and runs["tanh", "glorot_uniform", 2]["weight_grad_factors"] == []
    )
    # the deep logistic's forward signal collapses; the gain of 4 keeps it
    assert logistic["layer_stats"][0]["unit_spread"][-1] < 1e-4
    assert logistic["layer_stats"][0]["logit_spread"] < 1e-3
    assert runs["logistic", "glorot_uniform_x4", 8]["layer_stats"][0]["unit_spread"][-1] > 1e-3
    _images_ok(
        tmp_path,
        [
            "vanishing_factors.png",
            "vanishing_layers.png",
            "vanishing_init.png",
            "vanishing_training.png",
            "vanishing_accuracy.png",
        ],
    )
    report = (tmp_path / "report.md").read_text()
    assert "Learn at one rate or more" in report and "(glorot_uniform) at depth 8" in report
    assert "backward pass alone" not in report and "forward signal collapses" in report
    assert "delta_h = (delta_next W_next[1:]^T) * f'(Z_h)" in report and "at most 1/4" in report
    assert "![Test accuracy against depth](vanishing_accuracy.png)" in report
    assert "1 seed: no interval" in report and "x rest |" in report
    assert ("where the rule added them" in report) == any(
        r.get("rate_added") for r in study["runs"]
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_stacked_cells_equal_what_fit_gives_each_alone(dtype, small64, small32):
    data = small64 if dtype == "float64" else small32
    settings = [
        dataclasses.replace(TUTORIAL, epochs=2, dtype=dtype, **kw)
        for kw in (
            {},
            {"learning_rate": 0.01, "momentum": 0.5, "weight_decay": 1e-3, "decay": 1e-3},
            {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True},
            {"learning_rate": 0.1, "momentum": 0.0},
            {"learning_rate": 50.0},  # runs away: diverged in the same epoch both ways
        )
    ]
    stacked = train_group(settings, data)
    assert [r["status"] for r in stacked] == ["complete"] * 4 + ["diverged"]
    alone_bad = train_cell(settings[4], data)
    assert stacked[4]["diverged_epoch"] == alone_bad["diverged_epoch"]
    if dtype == "float64":
        without_time = lambda h: {k: v for k, v in h.items() if k != "seconds"}  # noqa: E731
        assert stacked[4]["error"] == alone_bad["error"]
        assert without_time(stacked[4]["history"]) == without_time(alone_bad["history"])
    for s, mine in zip(settings[:4], stacked[:4], strict=True):
        alone = train_cell(s, data)
        assert alone["status"] == "complete"
        assert mine["test_accuracy"] == alone["test_accuracy"], s
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            if dtype == "float64":  # the same arithmetic, to the last bit
                assert mine["history"][key] == alone["history"][key], (s, key)
            else:  # float32: stacked products may round differently from np.dot
                np.testing.assert_allclose(mine["history"][key], alone["history"][key], rtol=1e-5)


def test_stacked_marks_a_diverging_network_and_keeps_the_others(small32):
    settings = [dataclasses.replace(TUTORIAL, epochs=1, learning_rate=lr) for lr in (0.01, 1e36)]
    good, bad = train_group(settings, small32)
    assert good["status"] == "complete" and good["test_accuracy"] > 50
    assert bad["status"] == "diverged" and "became inf" in bad["error"]
    assert bad["diverged_epoch"] == 1 and bad["history"] == {}
    assert train_cell(settings[1], small32)["status"] == "diverged"


def _sweep(cli, mnist_dir, out, *extra):
    return cli(
        "study", "sweep", *extra, "--epochs", "2", "--limit", "2000",
        "--data-dir", str(mnist_dir), "--out", str(out),
    )  # fmt: skip


def test_sweep_end_to_end_resumes_and_records_divergence(tmp_path, mnist_dir, cli):
    args = ("--param", "learning_rate", "--values", "0.001,0.05,10", "--seeds", "2")
    result = _sweep(cli, mnist_dir, tmp_path, *args, "--jobs", "2")
    assert result.returncode == 0, result.stderr
    sweep = json.loads((tmp_path / "sweep.json").read_text())
    assert sweep["status"] == "complete" and len(sweep["cells"]) == 6
    by = {(c["values"]["learning_rate"], c["seed"]): c for c in sweep["cells"]}
    assert by[10, 123]["status"] == "diverged" and by[10, 124]["status"] == "diverged"
    for lr in (0.001, 0.05):
        for seed in (123, 124):
            cell = by[lr, seed]
            assert cell["status"] == "complete" and len(cell["history"]["val_loss"]) == 2
            assert 0 < cell["val_accuracy"] <= 100 and cell["best_epoch"] in (1, 2)
            assert cell["param"] == "learning_rate" and cell["value"] == lr
    assert by[0.05, 123]["val_accuracy"] > by[0.001, 123]["val_accuracy"]
    assert sweep["throughput"]["model_epochs"] == 8  # 4 complete cells x 2 epochs
    assert len(list((tmp_path / "cells").glob("*.json"))) == 6
    _images_ok(tmp_path, ["sweep_accuracy.png", "sweep_curves.png"])
    assert "| 10 | 2 | 2 (in epochs 1, 1) | - | - | - |" in (tmp_path / "report.md").read_text()
    for seed in (123, 124):  # a diverged cell keeps its epochs up to the divergence
        assert by[10, seed]["diverged_epoch"] == 1 and len(by[10, seed]["history"]["loss"]) == 1
    again = _sweep(cli, mnist_dir, tmp_path, *args, "--jobs", "2")
    assert again.returncode == 0 and "6 already finished" in again.stdout
    assert json.loads((tmp_path / "sweep.json").read_text())["cells"] == sweep["cells"]


def test_sweep_grid_draws_a_heatmap_and_separate_equals_stacked(tmp_path, mnist_dir, cli):
    grid = ("--grid", "learning_rate=0.01,0.05", "momentum=0,0.9")
    results = {}
    for method in ("separate", "stacked"):
        out = tmp_path / method
        result = _sweep(cli, mnist_dir, out, *grid, "--jobs", "1", "--method", method)
        assert result.returncode == 0, result.stderr
        results[method] = json.loads((out / "sweep.json").read_text())["cells"]
        _images_ok(out, ["sweep_heatmap.png"])
    assert len(results["stacked"]) == 4
    for a, b in zip(results["separate"], results["stacked"], strict=True):
        assert a["id"] == b["id"] and a["test_accuracy"] == b["test_accuracy"]


def test_interrupted_sweep_keeps_finished_cells(tmp_path, mnist_dir, monkeypatch):
    from compare.cli import build_parser
    from compare.commands.study import sweep_plan_of
    from compare.studies import sweep as sweep_module

    args = build_parser().parse_args(
        ["study", "sweep", "--param", "learning_rate", "--values", "0.01,0.02,0.03", "--jobs",
         "1", "--method", "separate", "--epochs", "1", "--limit", "1000"]
    )  # fmt: skip
    plan = sweep_plan_of(args)
    real, calls = sweep_module.run_group, []

    def interrupt_second(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(sweep_module, "run_group", interrupt_second)
    with pytest.raises(KeyboardInterrupt):
        sweep_module.run_sweep(plan, tmp_path, data_dir=str(mnist_dir), say=lambda m: None)
    sweep = json.loads((tmp_path / "sweep.json").read_text())
    assert sweep["status"] == "interrupted" and len(sweep["cells"]) == 1
    assert len(list((tmp_path / "cells").glob("*.json"))) == 1


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        ((), "give either --param (with --values) or --grid"),
        (("--param", "learning_rate", "--values", "0.1,-1"), "learning_rate must be a finite"),
        (("--param", "momentum", "--values", "0.5,1"), "momentum must be a number in [0, 1)"),
        (("--param", "hidden", "--values", "a,b"), "'a' is not a number"),
        (("--grid", "learning_rate=0.1", "speed=1"), "write NAME=V1,V2,..."),
        (("--param", "dropout"), "'dropout' is not one of"),
        (("--param", "batch_size", "--seeds", "0"), "--seeds"),
    ],
)
def test_sweep_bad_flags_get_one_line_and_exit_2(tmp_path, cli, flags, needle):
    result = cli("study", "sweep", *flags, "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (("--depths", "1,0"), "--depths"),
        (("--activations", "tanh,swish"), "'swish' is not one of"),
        (("--width", "0"), "--width"),
    ],
)
def test_vanishing_bad_flags_get_one_line_and_exit_2(tmp_path, cli, flags, needle):
    result = cli("study", "vanishing", *flags, "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_sweep_on_a_dask_local_cluster(tmp_path, mnist_dir, cli):
    distributed = pytest.importorskip("distributed", reason="the cluster extra is not installed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        args = ("--param", "learning_rate", "--values", "0.01,0.05")
        result = _sweep(cli, mnist_dir, tmp_path, *args, "--scheduler", cluster.scheduler_address)
    assert result.returncode == 0, result.stderr
    sweep = json.loads((tmp_path / "sweep.json").read_text())
    assert [c["status"] for c in sweep["cells"]] == ["complete", "complete"]
    assert sweep["config"]["scheduler"].startswith("tcp://127.0.0.1")


def test_scheduler_without_the_extra_names_it(tmp_path, mnist_dir):
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['distributed'] = None\n"
        "from compare.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    out = tmp_path / "o"
    result = subprocess.run(
        [sys.executable, "-c", code, "study", "sweep", "--param", "learning_rate", "--values",
         "0.01", "--epochs", "1", "--limit", "500", "--scheduler", "tcp://127.0.0.1:1",
         "--data-dir", str(mnist_dir), "--out", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert "mlp-compare[cluster]" in result.stderr and len(result.stderr.strip().splitlines()) == 1
