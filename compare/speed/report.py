"""bench's report.md (and, through compare.html, report.html), rendered from bench.json alone."""

from __future__ import annotations

from collections.abc import Mapping

from compare.speed.stability import (
    BUSY_LOAD_PER_CORE,
    BUSY_OTHERS_SHARE,
    UNSTABLE_RELATIVE_SPREAD,
    peak_load,
)
from compare.speed.tutorial import devices_line, thread_text

TITLE = "Benchmark: NumPy MLP vs Keras MLP"


def machine_lines(env: Mapping, machine: Mapping) -> list[str]:
    """What the numbers were measured on, and the load before and after."""
    blas = ", ".join(
        f"{b['internal_api']} {b['version']} ({b['architecture']})" for b in env.get("blas", [])
    )
    load = lambda key: ", ".join(f"{x:.2f}" for x in machine[key]) if machine.get(key) else "-"  # noqa: E731
    tf = f", TensorFlow {env['tensorflow']}, Keras {env['keras']}" if "tensorflow" in env else ""
    return [
        f"- CPU: {machine.get('cpu_model') or 'unknown'}, {machine.get('cores')} cores "
        f"({machine.get('usable_cores')} usable by this process); frequency governor: "
        f"{machine.get('governor') or 'not readable'}",
        f"- BLAS: {blas or 'not reported'}; Python {env.get('python')}, NumPy {env.get('numpy')}{tf}",
        f"- Load average (1, 5, 15 minutes): before {load('load_before')}; after {load('load_after')}",
        *(
            [f"- Other processes used {share:.0%} of the machine's CPU time during the benchmark"]
            if (share := machine.get("others_cpu_share")) is not None
            else []
        ),
    ]


def verdict_lines(result: Mapping) -> list[str]:
    """The warnings, or what was checked when there are none."""
    warnings = result.get("warnings") or []
    if warnings:
        return [line for w in warnings for line in (f"**Warning: {w}.**", "")][:-1]
    machine = result.get("machine", {})
    load = peak_load(machine)
    cores = machine.get("usable_cores")
    said = f"load {load:.1f} on {cores} cores" if load is not None else "load not readable"
    if machine.get("others_cpu_share") is not None:
        said += f", other processes using {machine['others_cpu_share']:.0%} of the CPU time"
    return [
        f"No warning: {said} (busy above {BUSY_LOAD_PER_CORE:g} per core with others above "
        f"{BUSY_OTHERS_SHARE:.0%}), and no figure's "
        f"IQR exceeded {UNSTABLE_RELATIVE_SPREAD:.0%} of its median."
    ]


def epoch_table(s: Mapping) -> list[str]:
    rows = [
        "| contender | median (s) | IQR (s) | IQR / median | range (s) | rounds | threads in force |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, sp in s["spread"].items():
        iqr, rel, span = "-", "-", "-"
        if sp["n"] > 1:
            iqr = f"{sp['q1']:.3f}-{sp['q3']:.3f}"
            rel, span = f"{sp['relative_spread']:.0%}", f"{sp['min']:.3f}-{sp['max']:.3f}"
        rows.append(
            f"| {name} | {sp['median']:.3f} | {iqr} | {rel} | {span} | {sp['n']} | "
            f"{thread_text(s.get('threads_by_contender', {}).get(name, {}))} |"
        )
    rows.append("")
    rows.append(
        f"The float32 matrix-product peak, {s['peak_gflops']:.0f} GFLOP/s with every core, gives "
        f"an arithmetic limit of {s['arithmetic_limit_seconds']:.3f} s an epoch "
        f"({s['epoch_gflop']:.2f} GFLOP); the NumPy epoch (1 BLAS thread) takes "
        f"{s['numpy_over_limit']:.1f}x that"
        + (
            f", and {s['numpy_over_one_core_limit']:.1f}x the limit of one core's share of the "
            f"peak ({s['arithmetic_limit_one_core_seconds']:.3f} s), the fairer bound for a "
            "single thread."
            if "numpy_over_one_core_limit" in s
            else "."
        )
    )
    if "vs_keras_defaults_spread" in s:
        for key, label in (
            ("vs_keras_defaults_spread", "keras fit, defaults"),
            ("vs_keras_best_spread", f"{s['keras_best']} (the fastest Keras)"),
        ):
            r = s[key]
            rows.append("")
            rows.append(
                f"{label} / numpy fast, 1 BLAS thread, paired per round: median {r['median']:.2f}x,"
                f" range {r['min']:.2f}-{r['max']:.2f}x over {r['n']} rounds."
            )
        if "devices" in s:
            rows += ["", devices_line(s["devices"])]
    return rows


def _cell(text: str) -> str:
    """A table cell's text: '|' (as in [1|A]) would end the cell, so it is drawn as '│'."""
    return text.replace("|", "│")


def breakdown_table(b: Mapping) -> list[str]:
    step, products = b["step_us"], b["products_us"]
    rows = [
        f"{b['blas_threads']} BLAS thread; each operation timed on its own (the clock's cost, "
        f"{b['clock_us']:.2f} us, subtracted), median over {b['rounds']} rounds of "
        f"{b['steps_per_round']} steps.",
        "",
        "| operation | kind | median (us) | share of the step | IQR / median |",
        "|---|---|---|---|---|",
    ]
    for op in b["operations"]:
        rows.append(
            f"| {_cell(op['label'])} | {op['kind']} | {op['median']:.2f} | {op['share']:.1%} | "
            f"{op['relative_spread']:.0%} |"
        )
    kinds = ", ".join(f"{k} {v:.0f} us" for k, v in b["by_kind_us"].items())
    rows += [
        "",
        f"Whole step, timed without the per-operation clock: {step['median']:.0f} us (IQR "
        f"{step['relative_spread']:.0%} of the median). Sum of the operations: "
        f"{b['operations_sum_us']:.0f} us ({kinds}). Products-only floor (the matrix products "
        f"back to back at the same shapes): {products['median']:.0f} us, "
        f"{b['products_gflops']:.0f} GFLOP/s, {products['median'] / step['median']:.0%} of the "
        f"step; the other {step['median'] - products['median']:.0f} us are what separates "
        "NumPy's step from its matrix products.",
    ]
    return rows


def sweep_table(points: list, key: str) -> list[str]:
    keras = bool(points) and "keras" in points[0]
    head = "| " + key + " | NumPy us/sample | IQR / median | BLAS threads |"
    rule = "|---|---|---|---|"
    if keras:
        head += " Keras us/sample | IQR / median | TF threads (intra, inter) | Keras / NumPy |"
        rule += "---|---|---|---|"
    rows = [head, rule]
    for p in points:
        n = p["numpy"]
        value = p["batch"] if key == "batch" else p["layers"][1]
        line = (
            f"| {value} | {n['sample_seconds'] * 1e6:.2f} | "
            f"{n['step_spread']['relative_spread']:.0%} | {n['blas_threads']} |"
        )
        if keras:
            k = p["keras"]
            t = k.get("tf_threads", {})
            line += (
                f" {k['sample_seconds'] * 1e6:.2f} | {k['step_spread']['relative_spread']:.0%} | "
                f"{t.get('intra_op')}, {t.get('inter_op')} | {p['keras_over_numpy']:.2f}x |"
            )
        rows.append(line)
    return rows


def _backends_lines(result: Mapping) -> list[str]:
    """Keras on each backend against NumPy (when measured): the table and the fastest Keras."""
    section = result.get("backends")
    if not section:
        return []
    from compare.speed.backends import backends_table

    return [
        "## Keras per backend",
        "",
        "Each backend in a fresh process of its own (Keras fixes its backend at import); there, "
        "NumPy's epoch (1 BLAS thread) and the backend's contenders ran one epoch each per round, "
        "in turn, and Keras / NumPy is paired per round (median, range). `fit`: Keras's own "
        "training loop; `steps`: a whole epoch of the model's train steps on batches prepared on "
        "the device (full batches only), compiled as named. The fastest per backend in bold.",
        "",
        *backends_table(section),
        "",
    ]


def render_bench_report(result: Mapping) -> str:
    s = result["tutorial"]
    lines = [
        f"# {TITLE}",
        "",
        *verdict_lines(result),
        "",
        "## Machine",
        "",
        *machine_lines(result.get("environment", {}), result.get("machine", {})),
        "",
        "## One epoch of the tutorial configuration",
        "",
        f"784-50-50-10, batch 64, float32, {s['rows']:,} rows = {s['updates']} updates an epoch. "
        f"The contenders ran one epoch each per round, in turn, over {s['rounds']} rounds.",
        "",
        *epoch_table(s),
        "",
        "![Seconds per epoch, median and quartiles](bench_epochs.png)",
        "",
        *_backends_lines(result),
        "## Where a NumPy step's time goes",
        "",
        *breakdown_table(s["numpy_step_breakdown"]),
        "",
    ]
    for kind, title in (
        ("batch", "Batch size sweep (784-50-50-10)"),
        ("width", "Hidden width sweep (784-w-w-10, batch 64)"),
    ):
        points = result.get(f"sweep_{kind}") or []
        if points:
            lines += [
                f"## {title}",
                "",
                f"Medians of {points[0].get('rounds')} alternating rounds per configuration. NumPy: "
                "FastStep with the faster of 1 BLAS thread and all cores; Keras: a compiled "
                "train step on prepared tensors (not fit).",
                "",
                *sweep_table(points, kind),
                "",
            ]
    if result.get("sweep_batch") or result.get("sweep_width"):
        lines += ["![Time per sample and fraction of peak, with quartiles](bench.png)", ""]
    return "\n".join(lines) + "\n"
