"""report.md and the terminal summary, rendered from metrics.json's contents alone."""

from __future__ import annotations

from compare.environment import device_text, threads_text
from compare.implementations import IMPLEMENTATIONS
from compare.speed.stability import warnings as speed_warnings

IMPLS = tuple((key, impl.label) for key, impl in IMPLEMENTATIONS.items())
FIGURES = (
    ("digits.png", "One training example of each digit"),
    ("learning_curves.png", "Learning curves (training and validation loss per epoch)"),
    ("epoch_times.png", "Time per epoch"),
    *(
        (f"{kind}_{key}.png", f"{label}: {caption}")
        for key, label in IMPLS
        for kind, caption in (
            ("misclassified", "misclassified test digits, with the probability given"),
            ("confusion", "confusion matrix on the test set"),
            ("hidden_weights", "the first hidden layer's weights"),
            ("hidden_weights_change", "the first hidden layer's change since initialization"),
        )
    ),
)


def _pct(value) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) else "-"


def _num(value, fmt: str = ".4f") -> str:
    return format(value, fmt) if isinstance(value, int | float) else "-"


def _ran(metrics: dict) -> list[tuple[str, str, dict]]:
    return [(key, label, metrics[key]) for key, label in IMPLS if key in metrics]


def accuracy_table(metrics: dict) -> list[str]:
    rows = [
        "| model | train acc. % | validation acc. % | test acc. % | final loss | final val_loss |",
        "|---|---|---|---|---|---|",
    ]
    for _, label, m in _ran(metrics):
        if "error" in m:
            rows.append(f"| {label} | failed: {m['error']} | | | | |")
            continue
        rows.append(
            f"| {label} | {_pct(m['train_accuracy'])} | {_pct(m['val_accuracy'])} | "
            f"{_pct(m['test_accuracy'])} | {_num(m['train_loss'])} | "
            f"{_num(m['val_loss'])} |"
        )
    epochs = metrics.get("config", {}).get("epochs")
    for name, ref in metrics.get("reference", {}).items():
        rows.append(
            f"| reference ({name}, 50 epochs) | {_pct(ref['train_accuracy'])} | | "
            f"{_pct(ref['test_accuracy'])} | | |"
        )
    if metrics.get("reference") and epochs is not None and epochs < 50:
        rows += ["", f"This run trained {epochs} epoch(s); the references are after 50."]
    return rows


LEVEL = 0.10  # validation loss has "levelled off" once it stays within 10 % of its lowest value
OVERFIT_DROP = 0.20  # ... and over-fits if training loss still falls by 20 % or more after that


def overfitting_sentence(label: str, history: dict) -> str:
    """Over-fitting, from one model's per-epoch loss and val_loss: the epoch from which
    validation loss stays within LEVEL of its lowest value, what training loss did from there
    on, and the train/validation gap at the end."""
    loss, val = history.get("loss") or [], history.get("val_loss") or []
    if len(val) < 2 or len(loss) != len(val):
        return ""
    n, lowest = len(val), min(val)
    best = val.index(lowest) + 1
    since = next((e for e in range(1, n + 1) if max(val[e - 1 :]) <= lowest * (1 + LEVEL)), None)
    end = f"at the end training loss {loss[-1]:.4f}, validation loss {val[-1]:.4f}"
    if since is None:  # the last epoch itself is more than LEVEL above the lowest (early stopping)
        return (
            f"{label}: validation loss ended {val[-1] / lowest - 1:.0%} above its lowest value "
            f"({lowest:.4f}, epoch {best}); {end}."
        )
    if since >= n - 1:
        return (
            f"{label}: validation loss was still improving at the end ({val[-2]:.4f} -> "
            f"{val[-1]:.4f} in the last epoch), no sign of over-fitting yet; {end}."
        )
    drop = 1 - loss[-1] / loss[since - 1]
    text = (
        f"{label}: validation loss levels off from epoch {since} of {n}, staying within "
        f"{LEVEL:.0%} of its lowest value ({lowest:.4f}, epoch {best}"
        + (f"; {val[-1]:.4f} by the end" if best < n and val[-1] > lowest * 1.02 else "")
        + ")"
    )
    if drop >= OVERFIT_DROP:
        return text + (
            f", while training loss keeps falling ({loss[since - 1]:.4f} -> {loss[-1]:.4f}, "
            f"-{drop:.0%}): over-fitting, the gap between them grows from "
            f"{val[since - 1] - loss[since - 1]:.4f} to {val[-1] - loss[-1]:.4f}; {end}."
        )
    return text + f", and training loss fell only {drop:.0%} over the same epochs; {end}."


def stopping_sentence(label: str, record: dict | None) -> str | None:
    """Where early stopping ended one model's training, from its record (trainers.stopping_record)."""
    if not record:
        return None
    best = f"best val_loss at epoch {record['best_epoch']}, whose weights it ends with"
    if record.get("stopped_epoch"):
        return (
            f"{label} stopped early after epoch {record['stopped_epoch']} (no val_loss improvement "
            f"for {record['patience']} epoch(s); {best})."
        )
    return f"{label} ran all {record['epochs_run']} epochs without stopping early ({best})."


def early_stopping_lines(metrics: dict) -> list[str]:
    """One sentence per model that trained with --early-stopping: the epoch at which it stopped."""
    said = [stopping_sentence(label, m.get("early_stopping")) for _, label, m in _ran(metrics)]
    return [" ".join(s for s in said if s), ""] if any(said) else []


def overfitting_lines(metrics: dict) -> list[str]:
    sentences = [
        overfitting_sentence(label, m.get("history", {}))
        for _, label, m in _ran(metrics)
        if "error" not in m
    ]
    return [s for s in sentences if s]


def gradient_table(metrics: dict) -> list[str]:
    agreement = metrics.get("gradient_agreement")
    if not agreement:
        gc = metrics.get("numpy_gradcheck")
        if not gc:
            return ["Not measured (the run stopped before this phase)."]
        rows = ["| matrix | NumPy vs finite differences (rel.) | verdict |", "|---|---|---|"]
        rows += [
            f"| {m['name']} | {m['max_rel_error']:.2e} | {'pass' if m['passed'] else 'FAIL'} |"
            for m in gc["matrices"]
        ]
        return rows + [
            "",
            "TensorFlow was not part of this run, so only the finite-difference check is shown.",
        ]
    short = _backend_short(next(iter(agreement.values())).get("backend", "tensorflow"))
    rows = [
        f"| dtype | matrix | NumPy vs {short}: max abs | NumPy vs {short}: rel. | NumPy vs FD | "
        f"{short} vs FD | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for dtype, report in agreement.items():
        for m in report["matrices"]:
            rows.append(
                f"| {dtype} | {m['name']} | {m['max_abs_error']:.2e} | "
                f"{m['max_rel_error']:.2e} | {m['numpy_vs_fd']:.2e} | "
                f"{m['keras_vs_fd']:.2e} | {'pass' if m['passed'] else 'FAIL'} |"
            )
    tolerances = ", ".join(
        f"{d}: {r['tolerance']:g} ({short}), {r['fd_tolerance']:g} (FD)"
        for d, r in agreement.items()
    )
    return rows + [
        "",
        f"{short}: Keras's gradients by {_AUTODIFF.get(short, 'autodiff')}. "
        f"Relative error NumPy vs {short} is max|a - b| / max|b| over the matrix; "
        f"against finite differences it is elementwise. Tolerances: {tolerances}.",
    ]


_SHORT = {"tensorflow": "TF", "jax": "JAX", "torch": "PyTorch"}
_AUTODIFF = {
    "TF": "tf.GradientTape",
    "JAX": "jax.value_and_grad over the model's stateless call",
    "PyTorch": "torch.autograd",
}


def _backend_short(backend: str) -> str:
    return _SHORT.get(backend, backend)


def devices_sentence(metrics: dict) -> str:
    """Which device each implementation computed on (from the environment record)."""
    env = metrics.get("environment", {})
    parts = []
    if "numpy" in metrics and env.get("numpy_device"):
        parts.append(f"NumPy on the {device_text(env['numpy_device'])}")
    if "keras" in metrics and env.get("keras_device"):
        backend = _backend_short(env.get("keras_backend", "tensorflow"))
        parts.append(f"Keras ({backend} backend) on the {device_text(env['keras_device'])}")
    return "Devices: " + "; ".join(parts) + "." if parts else ""


def speed_table(metrics: dict) -> list[str]:
    rows = [
        "| model | epoch 1 (s) | median epoch (s) | IQR (s) | min-max (s) | "
        "samples/s | predict test set (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, label, m in _ran(metrics):
        s = m.get("speed")
        if not s:
            continue
        rows.append(
            f"| {label} | {s['first_epoch']:.3f} | {s['median']:.3f} | "
            f"{s['q1']:.3f}-{s['q3']:.3f} | {s['min']:.3f}-{s['max']:.3f} | "
            f"{s['samples_per_second']:,.0f} | {_num(m.get('predict_seconds'), '.4f')} |"
        )
    speed = metrics.get("speed")
    if speed:
        rows += [
            "",
            f"Keras / NumPy epoch time: {ratio_text(speed['keras_over_numpy_spread'])}"
            f"{_devices_clause(metrics)}. "
            "Prediction on the test set: "
            f"Keras / NumPy {_num(speed.get('predict_keras_over_numpy'), '.2f')}x.",
        ]
    return rows


def _devices_clause(metrics: dict) -> str:
    """' (Keras on JAX on the CPU (...) against NumPy on the CPU (...))', where recorded."""
    env = metrics.get("environment", {})
    if not env.get("keras_device") or not env.get("numpy_device"):
        return ""
    backend = _backend_short(env.get("keras_backend", "tensorflow"))
    return (
        f" (Keras on {backend} on the {device_text(env['keras_device'])}, against NumPy on the "
        f"{device_text(env['numpy_device'])})"
    )


def verdict(metrics: dict) -> str:
    """One paragraph: do they agree, which was faster and by how much."""
    parts = []
    agreement = metrics.get("gradient_agreement")
    if agreement:
        f64 = agreement.get("float64", {})
        if f64.get("passed"):
            parts.append(
                f"The two implementations agree: for the same weights and batch their "
                f"gradients differ by at most {f64['max_rel_error']:.1e} (relative) in "
                "float64, which is rounding, and both match finite differences."
            )
        else:
            parts.append(
                "The gradients of the two implementations DISAGREE beyond rounding; "
                "see the gradient table."
            )
    n, k = metrics.get("numpy", {}), metrics.get("keras", {})
    if "test_accuracy" in n and "test_accuracy" in k:
        shared = metrics.get("config", {}).get("keras_init", "numpy") == "numpy"
        start = (
            "From the same initial weights (Keras started from the NumPy model's), with their own "
            "batch orders"
            if shared
            else "From independent initial weights"
        )
        parts.append(
            f"{start}, NumPy reached {n['test_accuracy']:.2f}% and Keras "
            f"{k['test_accuracy']:.2f}% test accuracy (a difference of "
            f"{abs(k['test_accuracy'] - n['test_accuracy']):.2f} points)."
        )
    speed = metrics.get("speed")
    if speed:
        ratio = speed["keras_over_numpy"]
        faster, factor = ("NumPy", ratio) if ratio >= 1 else ("Keras", 1 / ratio)
        parts.append(
            f"{faster} was faster here: {factor:.1f}x per epoch (median of paired "
            f"epochs, {n['speed']['median']:.3f} s NumPy vs {k['speed']['median']:.3f} s "
            "Keras), both measured in this one run on this machine."
        )
    for key, label in IMPLS:
        if "error" in metrics.get(key, {}):
            parts.append(f"{label} training failed: {metrics[key]['error']}")
    if metrics.get("status") == "interrupted":
        parts.append("The run was interrupted; the sections below hold what finished.")
    trained = [(label, m) for _, label, m in _ran(metrics) if "test_accuracy" in m]
    if len(trained) == 1 and not any("error" in m for _, _, m in _ran(metrics)):
        label, m = trained[0]
        parts.append(
            f"Only {label} was trained in this run: {m['test_accuracy']:.2f}% test accuracy."
        )
    return " ".join(parts) or "Nothing has finished yet."


def _blas(env: dict, threads: dict) -> str:
    libs = [f"{b['internal_api']} {b['version']}" for b in env.get("blas", [])]
    text = f"; BLAS {', '.join(libs)}" if libs else ""
    if threads.get("numpy_blas"):
        text += (
            f"; NumPy trained with {threads['numpy_blas']} BLAS thread(s) of "
            f"{threads.get('numpy_blas_available')} available"
        )
    return text


def render_report(metrics: dict) -> str:
    config = metrics.get("config", {})
    env = metrics.get("environment", {})
    layers = "-".join(map(str, config.get("layers", [])))
    lines = [
        "# NumPy MLP vs Keras MLP on MNIST",
        "",
        f"Status: **{metrics.get('status')}**. Network {layers}, {config.get('epochs')} epochs, "
        f"batch {config.get('batch_size')}, lr {config.get('learning_rate')}, momentum "
        f"{config.get('momentum')}, decay {config.get('decay')}, {config.get('dtype')}, "
        f"seed {config.get('seed')}"
        + (f", first {config['limit']} training rows only" if config.get("limit") else "")
        + ".",
        "",
        verdict(metrics),
        "",
        *(f"**Warning: {w}.**\n" for w in run_warnings(metrics)),
        "## Accuracy",
        "",
        *accuracy_table(metrics),
        "",
        "Training accuracy is on all training rows (validation rows included), as the tutorial "
        "measures it.",
        "",
        *(line for sentence in overfitting_lines(metrics) for line in (sentence, "")),
        *early_stopping_lines(metrics),
        "## Gradient agreement",
        "",
        *gradient_table(metrics),
        "",
        "## Speed",
        "",
        *speed_table(metrics),
        "",
        f"Machine: {env.get('cpu_count')} CPUs, {env.get('platform')}; Python {env.get('python')}, "
        f"NumPy {env.get('numpy')}"
        + (
            f", TensorFlow {env['tensorflow']}, Keras {env['keras']} (intra-op threads "
            f"{env['tf_intra_op_threads']}, inter-op {env['tf_inter_op_threads']}; 0 = all cores)"
            if env.get("keras_backend", "tensorflow") == "tensorflow" and "tensorflow" in env
            else ""
        )
        + (
            f", Keras {env['keras']} on {_backend_short(env['keras_backend'])} "
            f"{env.get(env['keras_backend'])} ({threads_text(env.get('keras_threads', {}))})"
            if env.get("keras_backend") not in (None, "tensorflow")
            else ""
        )
        + _blas(env, metrics.get("threads", {}))
        + ".",
        "",
        *([devices_sentence(metrics), ""] if devices_sentence(metrics) else []),
        *machine_state_lines(metrics.get("machine")),
        "## Figures",
        "",
    ]
    artifacts = set(metrics.get("artifacts", []))
    for name, caption in FIGURES:
        if name in artifacts:
            lines += [f"### {caption}", "", f"![{caption}]({name})", ""]
            note = _figure_note(name, metrics)
            if note:
                lines += [note, ""]
    return "\n".join(lines) + "\n"


def _figure_note(name: str, metrics: dict) -> str:
    """Why the weight images look as they do, from the run's own numbers."""
    if not name.startswith("hidden_weights_") or name.startswith("hidden_weights_change"):
        return ""
    impl = name.removeprefix("hidden_weights_").removesuffix(".png")
    layer = metrics.get(impl, {}).get("first_layer")
    if not layer:
        return ""
    constant = metrics.get("data", {}).get("constant_pixels")
    pixels = (
        f"{constant} of the 784 pixels have the same value in every training image, so (without "
        "weight decay) their weights never move from their initial values; "
        if constant is not None
        else ""
    )
    return (
        f"Why this looks like noise: {pixels}the median weight moved by "
        f"{layer['median_abs_change']:.3f} in training, small against the initial weights' range "
        f"of +-{layer['initial_max_abs']:.3f}. The next figure, the change since initialization, "
        "shows what training drew."
    )


def render_summary(metrics: dict) -> str:
    """A short table for the terminal."""
    lines = [f"{'':<8} {'train %':>8} {'test %':>8} {'median epoch':>13} {'samples/s':>10}"]
    for _, label, m in _ran(metrics):
        if "error" in m:
            lines.append(f"{label:<8} FAILED: {m['error']}")
            continue
        s = m.get("speed", {})
        lines.append(
            f"{label:<8} {m['train_accuracy']:>8.2f} {m['test_accuracy']:>8.2f} "
            f"{s.get('median', 0):>12.3f}s {s.get('samples_per_second', 0):>10,.0f}"
        )
    ref = metrics.get("reference", {}).get("tutorial")
    if ref:
        epochs = metrics.get("config", {}).get("epochs")
        note = f"   (50 epochs; this run: {epochs})" if epochs is not None and epochs < 50 else ""
        lines.append(
            f"{'tutorial':<8} {ref['train_accuracy']:>8.2f} {ref['test_accuracy']:>8.2f}{note}"
        )
    lines += [line for line in early_stopping_lines(metrics) if line]
    agreement = metrics.get("gradient_agreement")
    if agreement:
        backend = next(iter(agreement.values())).get("backend", "tensorflow")
        lines.append(
            f"gradients NumPy vs Keras on {backend}: "
            + ", ".join(
                f"{d} {r['max_rel_error']:.1e} ({'pass' if r['passed'] else 'FAIL'})"
                for d, r in agreement.items()
            )
        )
    speed = metrics.get("speed")
    if speed:
        lines.append(f"Keras / NumPy epoch time: {ratio_text(speed['keras_over_numpy_spread'])}")
    lines += [f"WARNING: {w}." for w in run_warnings(metrics)]
    return "\n".join(lines)


def machine_state_lines(machine: dict | None) -> list[str]:
    """CPU model, governor and the 1-minute load average before and after the run."""
    if not machine:
        return []
    load = [
        f"{machine[k][0]:.2f}" if machine.get(k) else "-" for k in ("load_before", "load_after")
    ]
    return [
        f"CPU: {machine.get('cpu_model') or 'unknown'}, {machine.get('usable_cores')} usable "
        f"cores; frequency governor {machine.get('governor') or 'not readable'}; 1-minute load "
        f"average {load[0]} before the run, {load[1]} after"
        + (
            f"; other processes used {machine['others_cpu_share']:.0%} of the CPU time meanwhile."
            if machine.get("others_cpu_share") is not None
            else "."
        ),
        "",
    ]


def run_warnings(metrics: dict) -> list[str]:
    """The busy-machine and unstable-timing warnings (compare.speed.stability) for a run."""
    epochs = {f"{label} epochs": m["speed"] for _, label, m in _ran(metrics) if m.get("speed")}
    return speed_warnings(metrics.get("machine", {}), epochs)


MIN_PAIRS_FOR_QUARTILES = 5


def ratio_text(r: dict) -> str:
    """A paired ratio with what it rests on: quartiles only from 5 pairs on, the range from 2."""
    n = r["n"]
    text = f"median {r['median']:.2f}x over {n} paired epoch{'s' if n != 1 else ''}"
    if n >= MIN_PAIRS_FOR_QUARTILES:
        text += f" (quartiles {r['q1']:.2f}-{r['q3']:.2f}x, range {r['min']:.2f}-{r['max']:.2f}x)"
    elif n >= 2:
        text += f" (range {r['min']:.2f}-{r['max']:.2f}x)"
    excluded = r.get("first_epoch_excluded", n > 1)
    return text + ("; epoch 1 excluded (tracing)" if excluded else "; epoch 1, tracing included")
