"""`mlp-compare bench`: FLOP counting, crossover logic, and a small end-to-end run."""

from __future__ import annotations

import json

import pytest

from compare.environment import usable_cores
from compare.speed.measure import train_flops
from compare.speed.sweeps import crossover
from tests.conftest import keras_or_skip


def test_flop_count_of_the_tutorial_epoch():
    # per row: 4 * (784*50 + 50*50 + 50*10) + 2 * (50*50 + 50*10) = 174,800
    assert train_flops((784, 50, 50, 10), 1) == 174_800
    assert train_flops((784, 50, 50, 10), 54_000) == pytest.approx(9.4392e9)
    assert train_flops((3, 4, 3), 1) == 4 * (12 + 12) + 2 * 12


def _point(batch, numpy_s, keras_s):
    return {
        "batch": batch,
        "layers": [784, batch, batch, 10],
        "numpy": {"sample_seconds": numpy_s},
        "keras": {"sample_seconds": keras_s},
        "keras_over_numpy": keras_s / numpy_s,
    }


def test_crossover_is_the_first_point_where_keras_wins():
    points = [_point(16, 1.0, 3.0), _point(64, 1.0, 0.9), _point(256, 1.0, 0.5)]
    assert crossover(points, "batch") == {"batch": 64, "keras_over_numpy": 0.9}
    assert crossover(points[:1], "batch") is None
    assert crossover(points, "width")["width"] == 64


@pytest.mark.keras
def test_bench_end_to_end_small(tmp_path, mnist_dir, cli):
    keras_or_skip()
    result = cli(
        "bench",
        "--quick",
        "--batches",
        "32,128",
        "--widths",
        "64",
        "--data-dir",
        str(mnist_dir),
        "--out",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((tmp_path / "bench.json").read_text())
    tutorial = report["tutorial"]
    assert tutorial["updates"] == 844 and tutorial["epoch_gflop"] == pytest.approx(9.4392)
    medians = tutorial["median_seconds"]
    assert medians["numpy fast, 1 BLAS thread"] > 0 and medians["numpy reference path"] > 0
    assert len(tutorial["epoch_seconds"]["keras fit, defaults"]) == tutorial["rounds"]
    assert tutorial["vs_keras_defaults"] > 0
    assert tutorial["vs_keras_best_spread"]["min"] <= tutorial["vs_keras_best"]
    assert 0 < tutorial["peak_rss_mb"] < 4000
    assert [p["batch"] for p in report["sweep_batch"]] == [32, 128]
    assert [p["layers"][1] for p in report["sweep_width"]] == [64]
    for p in report["sweep_batch"] + report["sweep_width"]:
        for impl in ("numpy", "keras"):
            assert p[impl]["sample_seconds"] > 0
            assert 0 < p[impl]["fraction_of_peak"] < 1.5
    assert "speed-up (paired per-round ratios" in result.stdout
    assert "Crossover (batch)" in result.stdout
    assert "One NumPy step (1 BLAS thread), operation by operation" in result.stdout
    assert "inside fit" in result.stdout
    b = tutorial["numpy_step_breakdown"]
    assert 0 < b["products_us"]["median"] < b["step_us"]["median"] and b["blas_threads"] == 1
    labels = [op["label"] for op in b["operations"]]
    assert sum(op["kind"] == "product" for op in b["operations"]) == 8
    assert labels[-1] == "update: momentum SGD on all parameters" and labels[-1] in result.stdout
    assert sum(op["share"] for op in b["operations"]) == pytest.approx(
        b["operations_sum_us"] / b["step_us"]["median"]
    )
    assert "products-only floor" in result.stdout
    assert "Threads: NumPy" in result.stdout and "with one (intra 1, inter 1)" in result.stdout
    assert tutorial["threads"]["keras_tf_1_thread_seconds"] > 0
    threads = tutorial["threads_by_contender"]
    assert threads["numpy fast, 1 BLAS thread"] == {"blas": 1}
    assert threads["numpy fast, BLAS on all cores"]["blas"] == usable_cores()
    assert threads["keras fit, defaults"]["tf_intra_op"] >= 1
    assert tutorial["spread"]["keras fit, defaults"]["n"] == tutorial["rounds"]
    machine = report["machine"]
    assert machine["cores"] >= 1 and machine["cpu_model"] and machine["usable_cores"] >= 1
    assert len(machine["load_before"]) == len(machine["load_after"]) == 3
    assert report["environment"]["blas"][0]["version"]
    for warning in report["warnings"]:
        assert f"WARNING: {warning}." in result.stdout
    md = (tmp_path / "report.md").read_text()
    assert "## Machine" in md and machine["cpu_model"] in md and "threads in force" in md
    assert ("No warning:" in md) == (not report["warnings"])
    assert "![" in md and (tmp_path / "bench_epochs.png").stat().st_size > 10_000
    assert "<table>" in (tmp_path / "report.html").read_text()
    tf_record = report["backends"]["tensorflow"]  # the default backend, in its own process
    names = [row["name"] for row in tf_record["rows"]]
    assert names == ["keras fit, defaults", "steps, tf.function", "steps, tf.function + XLA"]
    for row in tf_record["rows"]:
        assert row["spread"]["n"] == tf_record["rounds"] and row["over_numpy"]["median"] > 0
    assert tf_record["device"]["kind"] in ("cpu", "gpu") and tf_record["version"]
    assert tf_record["fastest"] in names and "Fastest Keras: tensorflow" in result.stdout
    assert "## Keras per backend" in md and "on the CPU" in md
    assert "Devices compared: NumPy on the CPU" in md and "Devices compared" in result.stdout
    k = tutorial["keras_step_breakdown"]
    assert k["fit_per_step_us"] > 0 and k["compiled_step_us"] > 0
    assert "target" not in result.stdout.lower()  # development goals are not output
    assert (tmp_path / "bench.png").stat().st_size > 10_000


def test_bench_rejects_bad_sizes(tmp_path, cli):
    result = cli("bench", "--batches", "0,16", "--out", str(tmp_path / "b"))
    assert result.returncode == 2 and "--batches" in result.stderr


def test_breakdown_table_keeps_its_columns_when_a_label_holds_a_bar():
    from compare.speed.report import breakdown_table
    from compare.speed.stats import spread

    op = {"label": "Z_h1 = [1|A] W^(0)", "kind": "product", **spread([5.0, 6.0, 7.0])}
    b = {
        "blas_threads": 1,
        "clock_us": 0.1,
        "rounds": 3,
        "steps_per_round": 64,
        "operations": [{**op, "share": 0.6}],
        "operations_sum_us": 6.0,
        "by_kind_us": {"product": 6.0},
        "step_us": spread([10.0, 10.0, 10.0]),
        "products_us": spread([6.0, 6.0, 6.0]),
        "products_gflops": 50.0,
    }
    rows = [r for r in breakdown_table(b) if r.startswith("|")]
    assert {r.count("|") for r in rows} == {6}  # five cells in every row
    assert "60.0%" in rows[2] and "the other 4 us" in breakdown_table(b)[-1]


def test_machine_state_and_threads_in_force_are_read_from_the_system():
    from threadpoolctl import threadpool_limits

    from compare.environment import blas_threads_in_force, environment, load_average, machine

    m = machine()
    assert m["cores"] >= m["usable_cores"] >= 1
    assert m["governor"] is None or isinstance(m["governor"], str)
    load = load_average()
    assert len(load) == 3 and min(load) >= 0
    with threadpool_limits(limits=1, user_api="blas"):
        assert blas_threads_in_force() == 1
    env = environment(with_tensorflow=False)
    assert env["blas"] and env["cpu_model"] == m["cpu_model"]
