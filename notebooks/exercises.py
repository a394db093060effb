"""Checkers for the walkthrough's exercises: each says right or wrong, and gives a hint when wrong.

Each `check_*` takes the learner's answer (and what it needs to judge it) and returns a Verdict,
which prints as one paragraph. The answers are in notebooks/solutions.py;
tests/test_notebook_exercises.py checks that every checker accepts its solution and rejects the
untouched task cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numpy_mlp import MLP, SGD, TrainingDivergedError, check_grad, gradient_norms, one_hot
from numpy_mlp.model.mlp import backward_pass, forward_pass
from numpy_mlp.training.divergence import loss_bound


@dataclass(frozen=True)
class Verdict:
    right: bool
    message: str

    def __str__(self) -> str:
        return ("Right. " if self.right else "Not yet. ") + self.message

    def _repr_markdown_(self) -> str:
        return ("**Right.** " if self.right else "**Not yet.** ") + self.message


def _wrong(message: str, hint: str) -> Verdict:
    return Verdict(False, f"{message} Hint: {hint}")


# Exercise 1 ---------------------------------------------------------------------------------


def check_bias_row(answer, delta_out: np.ndarray, dW_out: np.ndarray) -> Verdict:
    """The bias row of dL/dW_out, computed from delta_out alone."""
    hint = (
        "row 0 of dL/dW_out = A_h^T delta_out pairs delta_out with column 0 of A_h, the bias unit, "
        "which is 1 in every row. What is a sum of 1 * delta over the rows?"
    )
    if answer is None:
        return _wrong("my_bias_row is still None.", hint)
    answer = np.asarray(answer, dtype=np.float64)
    if answer.shape != dW_out[0].shape:
        return _wrong(
            f"my_bias_row has shape {answer.shape}; the bias row has {dW_out[0].shape} "
            "(one entry per output unit).",
            hint,
        )
    if np.allclose(answer, dW_out[0], rtol=1e-10, atol=1e-14):
        return Verdict(True, f"{np.array2string(answer, precision=5)} is row 0 of dL/dW_out.")
    if np.allclose(answer * len(delta_out), dW_out[0], rtol=1e-10, atol=1e-14):
        return _wrong(
            "That is n times too small.", "delta_out already holds the 1/n: sum, not mean."
        )
    return _wrong(f"{np.array2string(answer, precision=5)} is not row 0 of dL/dW_out.", hint)


# Backprop by hand, node by node ---------------------------------------------------------------
#
# Each checker runs the learner's function on several 3-4-3 networks and inputs (so a copied
# array cannot pass) and compares it with what numpy_mlp's own backward pass computes
# (`backward_pass` with its trace of every delta and f'), to float64 rounding.

BACKPROP_RTOL, BACKPROP_ATOL = 1e-10, 1e-13  # float64: the same formula in another order


def backprop_cases(count: int = 3) -> list[dict]:
    """`count` small examples: a 3-4-3 tanh network (float64), inputs X (n, 3), one-hot Y, and
    what numpy_mlp computes for them: the activations A (forward_pass), the gradients and the
    trace of `backward_pass` (trace["delta"][l] = delta^(l+1), trace["f_prime"][l] = f'(Z^(l)))."""
    cases = []
    for seed in range(count):
        rng = np.random.default_rng(100 + seed)
        mlp = MLP((3, 4, 3), seed=100 + seed, dtype=np.float64)
        mlp.set_weights([rng.normal(scale=0.8, size=W.shape) for W in mlp.weights])
        n = 2 + 3 * seed
        X = rng.normal(size=(n, 3))
        Y = one_hot(rng.integers(0, 3, size=n), 3, dtype=np.float64)
        A = forward_pass(mlp.weights, X)
        trace: dict = {}
        grads = backward_pass(mlp.weights, A, Y, trace=trace)
        cases.append({"mlp": mlp, "X": X, "Y": Y, "A": A, "grads": grads, "trace": trace})
    return cases


def _same(a, b) -> bool:
    a = np.asarray(a, dtype=np.float64)
    return a.shape == np.shape(b) and np.allclose(a, b, rtol=BACKPROP_RTOL, atol=BACKPROP_ATOL)


def _call(fn, *args):
    """fn(*args), or the exception's one-line description."""
    if fn is None or not callable(fn):
        return None, f"{fn!r} is not a function"
    try:
        return fn(*args), None
    except Exception as exc:  # noqa: BLE001 - any failure of the learner's code is an answer
        return None, f"it raised {type(exc).__name__}: {exc}"


def _shape(value) -> tuple | None:
    try:
        return np.shape(value)
    except Exception:  # noqa: BLE001
        return None


def check_delta_out(softmax_ce_delta) -> Verdict:
    """dL/dZ_out for softmax followed by the batch-mean cross-entropy, from A_out and Y."""
    hint = (
        "for one row, d/dz_k of -sum_j y_j log softmax(z)_j is softmax(z)_k - y_k; the loss is the "
        "mean over the n rows, so each row's derivative is divided by n."
    )
    for case in backprop_cases():
        A_out, Y, truth = case["A"][-1], case["Y"], case["trace"]["delta"][1]
        got, error = _call(softmax_ce_delta, A_out, Y)
        if error or got is None:
            return _wrong(f"softmax_ce_delta(A_out, Y): {error or 'it returned None'}.", hint)
        if _same(got, truth):
            continue
        n = len(Y)
        if _same(np.asarray(got, dtype=np.float64) / n, truth):
            return _wrong("That is n times too large.", "L is a mean over the rows: divide by n.")
        if _same(-np.asarray(got, dtype=np.float64), truth):
            return _wrong("The sign is flipped.", "it is A_out - Y, not Y - A_out.")
        if _shape(got) != truth.shape:
            return _wrong(f"The result has shape {_shape(got)}; delta_out is {truth.shape}.", hint)
        return _wrong("The values differ from numpy_mlp's delta_out.", hint)
    return Verdict(True, "It matches numpy_mlp's delta_out = (A_out - Y) / n on every example.")


def check_tanh_gradient(tanh_local_gradient) -> Verdict:
    """tanh's local gradient dA/dZ, written with A = tanh(Z) (no bias column)."""
    hint = "d tanh(z)/dz = 1 - tanh(z)^2: write it with A itself, elementwise."
    for case in backprop_cases():
        A_h = case["A"][1][:, 1:]  # the bias unit dropped
        truth = case["trace"]["f_prime"][1]
        got, error = _call(tanh_local_gradient, A_h)
        if error or got is None:
            return _wrong(f"tanh_local_gradient(A): {error or 'it returned None'}.", hint)
        if _same(got, truth):
            continue
        if _same(got, 1 - A_h):
            return _wrong("That is 1 - A; the square is missing.", hint)
        if _shape(got) != truth.shape:
            return _wrong(f"The result has shape {_shape(got)}; f'(Z_h) is {truth.shape}.", hint)
        return _wrong("The values differ from numpy_mlp's f'(Z_h).", hint)
    return Verdict(True, "It matches the f'(Z_h) numpy_mlp's backward pass uses, 1 - A_h^2.")


def check_matmul_backward(matmul_backward) -> Verdict:
    """Z = A W, given G = dL/dZ: (dL/dA, dL/dW), checked on the output layer Z_out = A_h W_out:
    dL/dW must be numpy_mlp's dL/dW_out and dL/dA (without its bias column) times f' its
    delta_h."""
    hint = (
        "write Z = A W entry by entry, z_ij = sum_k a_ik w_kj: dL/dw_kj sums a_ik g_ij over the "
        "rows i, and dL/da_ik sums g_ij w_kj over the columns j. Each is one product with a "
        "transpose; check the shapes: dL/dA is shaped like A, dL/dW like W."
    )
    for case in backprop_cases():
        A_h, W_out, G = case["A"][1], case["mlp"].W_out, case["trace"]["delta"][1]
        got, error = _call(matmul_backward, A_h, W_out, G)
        if error or got is None:
            return _wrong(f"matmul_backward(A, W, G): {error or 'it returned None'}.", hint)
        try:
            dA, dW = got
        except (TypeError, ValueError):
            return _wrong("matmul_backward must return two arrays: (dL/dA, dL/dW).", hint)
        if dA is None or dW is None:
            return _wrong("matmul_backward still returns None for dL/dA or dL/dW.", hint)
        if not _same(dW, case["grads"][1]):
            shape = _shape(dW)
            return _wrong(
                f"dL/dW has shape {shape}, W {W_out.shape}; it is not numpy_mlp's dL/dW_out."
                if shape != W_out.shape
                else "dL/dW has W's shape but not numpy_mlp's dL/dW_out values.",
                hint,
            )
        if _shape(dA) != A_h.shape:
            return _wrong(f"dL/dA has shape {_shape(dA)}; A is {A_h.shape}.", hint)
        delta_h = np.asarray(dA, dtype=np.float64)[:, 1:] * case["trace"]["f_prime"][1]
        if not _same(delta_h, case["trace"]["delta"][0]):
            return _wrong("dL/dA, passed through tanh', is not numpy_mlp's delta_h.", hint)
    return Verdict(
        True,
        "dL/dW = A^T G is numpy_mlp's dL/dW_out, and dL/dA = G W^T, its bias column dropped and "
        "multiplied by tanh', is numpy_mlp's delta_h.",
    )


def check_hidden_delta(hidden_delta) -> Verdict:
    """delta_h from delta_out, W_out and A_h: back through W_out without its bias row, then f'."""
    hint = (
        "the bias unit is a constant 1: nothing flows back into it, so use W_out without row 0 "
        "(W_out[1:]), then multiply elementwise by tanh's local gradient at A_h (without its "
        "bias column)."
    )
    for case in backprop_cases():
        A_h, W_out = case["A"][1], case["mlp"].W_out
        delta_out, truth = case["trace"]["delta"][1], case["trace"]["delta"][0]
        got, error = _call(hidden_delta, delta_out, W_out, A_h)
        if error or got is None:
            return _wrong(
                f"hidden_delta(delta_out, W_out, A_h): {error or 'it returned None'}.", hint
            )
        if _same(got, truth):
            continue
        if _shape(got) == A_h.shape:
            return _wrong(f"The result has A_h's shape {A_h.shape}, bias column included.", hint)
        if _same(got, delta_out @ W_out[1:].T):
            return _wrong("That is delta_out W_out[1:]^T: the activation's slope is missing.", hint)
        return _wrong("The values differ from numpy_mlp's delta_h.", hint)
    return Verdict(True, "It matches numpy_mlp's delta_h = (delta_out W_out[1:]^T) * (1 - A_h^2).")


def check_full_gradient(gradients_by_hand) -> Verdict:
    """[dL/dW_h, dL/dW_out] of the 3-4-3 network from (weights, X, Y), assembled from the nodes
    above, against numpy_mlp's backward pass on several networks and inputs."""
    hint = (
        "forward: A_in = [1 | X], A_h = [1 | tanh(A_in W_h)], A_out = softmax(A_h W_out); "
        "backward: delta_out, then dL/dW_out and delta_h, then dL/dW_h = A_in^T delta_h."
    )
    for case in backprop_cases(4):
        weights = [W.copy() for W in case["mlp"].weights]
        got, error = _call(gradients_by_hand, weights, case["X"], case["Y"])
        if error or got is None:
            return _wrong(f"gradients_by_hand(weights, X, Y): {error or 'it returned None'}.", hint)
        try:
            pairs = list(zip(got, case["grads"], strict=True))
        except (TypeError, ValueError):
            return _wrong("Return a list of two arrays: [dL/dW_h, dL/dW_out].", hint)
        for name, (mine, truth) in zip(("dL/dW_h", "dL/dW_out"), pairs, strict=True):
            if not _same(mine, truth):
                return _wrong(f"{name} differs from numpy_mlp's.", hint)
    return Verdict(
        True,
        "Both matrices match numpy_mlp's backward pass on four networks and inputs: this is "
        "backpropagation, node by node.",
    )


# Exercise 2 ---------------------------------------------------------------------------------


def check_logistic_derivative(derivative) -> Verdict:
    """f'(z) written with A = sigma(z), passing check_grad on a function built from it."""
    hint = (
        "sigma(z) = 1 / (1 + exp(-z)); differentiate and write the result with A = sigma(z) "
        "itself (tanh's is 1 - A^2)."
    )
    z = np.linspace(-4, 4, 9)
    weights = np.arange(1.0, 10.0)

    def f(z):
        return np.sum(weights / (1 + np.exp(-z)))

    def grad_f(z):
        return weights * np.asarray(derivative(1 / (1 + np.exp(-z))), dtype=np.float64)

    try:
        result = check_grad(f, grad_f, z)
    except (TypeError, ValueError) as exc:
        return _wrong(f"logistic_derivative(A) could not be checked: {exc}.", hint)
    if result.passed:
        return Verdict(
            True,
            f"check_grad agrees: max relative error {result.max_rel_error:.1e} over "
            f"{result.checked} points (pass below {result.tolerance:g}).",
        )
    return _wrong(f"check_grad disagrees:\n\n```\n{result.report()}\n```\n", hint)


# Exercise 3 ---------------------------------------------------------------------------------


def relative_gradient(mlp: MLP, X, y) -> float:
    """||dL/dW^(1)|| / ||W^(1)||: how big the first layer's gradient is next to its weights."""
    return gradient_norms(mlp, X, y)[0] / float(np.linalg.norm(mlp.weights[0]))


def direction(ratio: float) -> str:
    """'larger' above 2x, 'smaller' below 1/2, else 'about the same'."""
    return "larger" if ratio > 2 else "smaller" if ratio < 0.5 else "about the same"


def first_layer_decomposition(big: MLP, glorot: MLP, X, y) -> dict:
    """What moves the first layer's relative gradient, big against glorot, measured on X:
    weights (||W_h1|| ratio), gradient (||dL/dW_h1|| ratio), delta (||delta_h1|| ratio, the
    backpropagated error reaching layer 1), slope_big / slope_glorot (the mean of tanh' over
    layer 1's units and rows) and saturated (the share of big's layer-1 units with |A| > 0.99)."""
    out: dict = {}
    for name, mlp in (("big", big), ("glorot", glorot)):
        Xa, Ya = mlp.as_inputs(X), mlp.as_targets(y, len(X))
        A = forward_pass(mlp.weights, Xa, mlp.activation)
        trace: dict = {}
        grads = backward_pass(mlp.weights, A, Ya, mlp.activation, trace=trace)
        out[name] = {
            "W": float(np.linalg.norm(mlp.weights[0])),
            "grad": float(np.linalg.norm(grads[0])),
            "delta": float(np.linalg.norm(trace["delta"][0])),
            "slope": float(np.mean(trace["f_prime"][1])),
            "A1": A[1][:, 1:],
        }
    b, g = out["big"], out["glorot"]
    return {
        "weights": b["W"] / g["W"],
        "gradient": b["grad"] / g["grad"],
        "delta": b["delta"] / g["delta"],
        "slope_big": b["slope"],
        "slope_glorot": g["slope"],
        "saturated": float(np.mean(np.abs(b["A1"]) > 0.99)),
    }


def check_normal_init(prediction, big: MLP, ratio, glorot: MLP, X, y) -> Verdict:
    """N(0, 1) connection weights in every matrix of `big`, the measured ratio, and the
    prediction that matches it; the explanation from the measured decomposition."""
    hint = (
        "relative_gradient is ||dL/dW_h1|| divided by ||W_h1||, so two things move it: how much "
        "larger N(0, 1) weights are than Glorot's (about 1/0.05 for 784 inputs), and how the "
        "gradient itself changes, where saturation (tanh' near 0) pulls one way and larger weights "
        "in the layers above, which pass delta back enlarged, pull the other."
    )
    if prediction not in ("larger", "smaller", "about the same"):
        return _wrong(
            f"prediction is {prediction!r}; write 'larger', 'smaller' or 'about the same'.", hint
        )
    redraw = (
        "set every matrix's rows 1: to rng.normal(size=...) and leave row 0 at zero, with "
        "big.set_weights([...]): all of them, not only the first layer's."
    )
    for l, W in enumerate(big.weights):
        connections = W[1:]
        name = "W_h1" if l == 0 else "W_out" if l == len(big.weights) - 1 else f"W_h{l + 1}"
        if not (0.9 < connections.std() < 1.1 and abs(connections.mean()) < 0.1) or W[0].any():
            return _wrong(
                f"big's {name} has connection weights of standard deviation "
                f"{connections.std():.3f} and mean {connections.mean():.3f} (want 1 and 0), its "
                f"bias row {'not all zero' if W[0].any() else 'zero'}.",
                redraw,
            )
    measured = relative_gradient(big, X, y) / relative_gradient(glorot, X, y)
    if ratio is None or not np.isclose(float(ratio), measured, rtol=1e-6):
        return _wrong(
            f"ratio is {ratio}; measured from big and glorot it is {measured:.4g}.",
            "ratio = relative_gradient(big, X, y) / relative_gradient(glorot, X, y).",
        )
    truth = direction(measured)
    d = first_layer_decomposition(big, glorot, X, y)
    gradient = {"larger": "larger", "smaller": "smaller"}.get(
        direction(d["gradient"]), "about the same size"
    )
    why = (
        f"the first layer's weights are {d['weights']:.0f} times Glorot's, and its gradient is "
        f"{d['gradient']:.2g} times Glorot's ({gradient}). "
        f"Saturation is real: {d['saturated']:.0%} of the first hidden layer's units have "
        f"|A| > 0.99, and the mean slope tanh' there falls from {d['slope_glorot']:.2g} to "
        f"{d['slope_big']:.2g}; but the error reaching that layer, ||delta_h1||, is "
        f"{d['delta']:.2g} times Glorot's, passed back through N(0, 1) weights in the layers "
        f"above. Divided by weights {d['weights']:.0f} times larger, a step of SGD changes them "
        f"{measured:.2g} times as much, relative to their size: the scale of the weights sets the "
        "ratio more than saturation does."
    )
    if prediction != truth:
        return _wrong(f"The measurement is right ({measured:.3g}x, {truth}); the prediction "
                      f"'{prediction}' is not.", why)  # fmt: skip
    return Verdict(True, f"{measured:.3g}x, {truth}: {why[0].upper()}{why[1:]}")


# Exercise 4 ---------------------------------------------------------------------------------

CANDIDATE_RATES = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)


def losses_after_one_epoch(learning_rate: float, X, y) -> tuple[float, float, bool]:
    """(loss before, training loss of the epoch, diverged) for the 784-50-50-10 network, seed
    123, one epoch over X with batch 64 and momentum 0.9 (the tutorial's, at another learning
    rate). diverged: fit stopped it by numpy_mlp's rule (a non-finite loss, or an epoch's mean
    training loss above 2 ln 10)."""
    mlp = MLP((784, 50, 50, 10), seed=123)
    before = mlp.loss(X, mlp.as_targets(y, len(X)))
    try:
        history = mlp.fit(
            X, y, epochs=1, batch_size=64, validation_split=0.0,
            optimizer=SGD(learning_rate, 0.9, 1e-7), seed=0, verbose=0,
        ).history  # fmt: skip
    except TrainingDivergedError as exc:
        losses = exc.history.history.get("loss", []) if exc.history else []
        return float(before), float(losses[-1]) if losses else float("inf"), True
    return float(before), float(history["loss"][-1]), False


def diverges(learning_rate: float, X, y) -> bool:
    """True if fit stops that epoch as diverged (the rule every trainer here applies)."""
    return losses_after_one_epoch(learning_rate, X, y)[2]


def check_smallest_diverging(answer, X, y) -> Verdict:
    """The smallest of CANDIDATE_RATES for which `diverges` is true."""
    hint = (
        "go through CANDIDATE_RATES from small to large and stop at the first one for which "
        "diverges(lr, X, y) is True."
    )
    if answer not in CANDIDATE_RATES:
        return _wrong(f"smallest_diverging is {answer!r}, not one of {CANDIDATE_RATES}.", hint)
    i = CANDIDATE_RATES.index(answer)
    if not diverges(answer, X, y):
        before, after, _ = losses_after_one_epoch(answer, X, y)
        return _wrong(
            f"At {answer:g} the training loss went from {before:.3f} to {after:.3f}, below "
            f"2 ln 10 = {loss_bound(10):.2f}: fit did not stop it, so it has not diverged.",
            hint,
        )
    if i > 0 and diverges(CANDIDATE_RATES[i - 1], X, y):
        return _wrong(f"{answer:g} diverges, but so does {CANDIDATE_RATES[i - 1]:g}.", hint)
    before, after, _ = losses_after_one_epoch(answer, X, y)
    below = f", while at {CANDIDATE_RATES[i - 1]:g} it is not" if i else ""
    note = (
        " The loss stayed finite (tanh keeps the hidden units bounded, and the loss is computed "
        "from the logits stably): divergence does not always mean NaN, which is why the rule "
        "has a bound."
        if np.isfinite(after)
        else ""
    )
    return Verdict(
        True,
        f"At {answer:g} the epoch's training loss is {after:.3g} (it started at {before:.3f}), "
        f"above 2 ln 10 = {loss_bound(10):.2f}: fit stops it as diverged{below}.{note}",
    )


# Exercise 5 ---------------------------------------------------------------------------------


def spiral(
    n_per_class: int = 100, classes: int = 3, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D spiral: `classes` arms of `n_per_class` points each, radius 0..1, a little noise.

    Returns X (n, 2) float64 and y (n,) integer labels."""
    rng = np.random.default_rng(seed)
    radius = np.tile(np.linspace(0.0, 1.0, n_per_class), classes)
    y = np.repeat(np.arange(classes), n_per_class)
    angle = (
        np.linspace(0, 4, n_per_class)[None, :] + 4 * np.arange(classes)[:, None]
    ).ravel() + rng.normal(scale=0.2, size=radius.size)
    return np.c_[radius * np.sin(angle), radius * np.cos(angle)], y


SPIRAL_TARGET = 0.95
SPIRAL_SEEDS = (0, 1, 2, 3, 4)  # "separates the arms" must hold for every one of these


def train_spiral(hidden_units: int, X, y, seed: int = 0) -> MLP:
    """A 2-hidden_units-3 tanh network trained on the spiral (300 epochs, batch 32, lr 0.1);
    seed sets both the initial weights and the batch order."""
    mlp = MLP((2, hidden_units, 3), seed=seed, dtype=np.float64)
    mlp.fit(X, y, epochs=300, batch_size=32, validation_split=0.0,
            optimizer=SGD(0.1, 0.9, 0.0), seed=seed, verbose=0)  # fmt: skip
    return mlp


def spiral_accuracies(hidden_units: int, X, y) -> list[float]:
    """Training accuracy (fraction) of `train_spiral` for each of SPIRAL_SEEDS."""
    return [train_spiral(hidden_units, X, y, seed).accuracy(X, y) for seed in SPIRAL_SEEDS]


def draw_boundary(mlp: MLP, X, y, ax) -> None:
    """The class the network gives to every point of the plane, with the data on top."""
    xs = np.linspace(-1.2, 1.2, 200)
    grid = np.stack(np.meshgrid(xs, xs), axis=-1).reshape(-1, 2)
    classes = mlp.predict_classes(grid).reshape(len(xs), len(xs))
    colors = [f"C{k}" for k in range(int(max(y.max(), classes.max())) + 1)]
    ax.contourf(xs, xs, classes, levels=np.arange(-0.5, len(colors)), colors=colors, alpha=0.25)
    ax.scatter(X[:, 0], X[:, 1], c=[colors[k] for k in y], s=8, edgecolors="none")
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def _listed(accuracies: list[float]) -> str:
    return ", ".join(f"{100 * a:.1f}" for a in accuracies) + " %"


def check_spiral(hidden_units, X, y) -> tuple[Verdict, MLP | None]:
    """Is this the smallest number of hidden units that separates the spiral (>= 95 % training
    accuracy with `train_spiral`) on every one of SPIRAL_SEEDS? One lucky seed is not enough.
    Returns the verdict and the network trained with the first seed."""
    hint = (
        "each tanh unit bends the plane along one line, and the spiral needs several bends. "
        f"Try 3, 4, 5, ...: spiral_accuracies(units, X, y) gives the training accuracy for each "
        f"of the {len(SPIRAL_SEEDS)} seeds, and every one must reach the target."
    )
    if isinstance(hidden_units, bool) or not isinstance(hidden_units, int) or hidden_units < 1:
        return _wrong(
            f"hidden_units is {hidden_units!r}; it must be a positive integer.", hint
        ), None
    if hidden_units > 100:
        return _wrong(f"{hidden_units} units are far more than needed.", hint), None
    mlp = train_spiral(hidden_units, X, y, SPIRAL_SEEDS[0])
    accuracies = spiral_accuracies(hidden_units, X, y)
    target = f"{100 * SPIRAL_TARGET:.0f} %"
    words = (
        f"With {hidden_units} hidden units the training accuracy over seeds "
        f"{', '.join(map(str, SPIRAL_SEEDS))} is {_listed(accuracies)}"
    )
    short = sum(a < SPIRAL_TARGET for a in accuracies)
    if short:
        return _wrong(
            words + f": {short} of {len(accuracies)} seeds stay below the {target} target.", hint
        ), mlp
    if hidden_units > 1:
        fewer = spiral_accuracies(hidden_units - 1, X, y)
        if all(a >= SPIRAL_TARGET for a in fewer):
            return _wrong(
                words + f", but {hidden_units - 1} units already reach the target on every seed "
                f"({_listed(fewer)}).",
                "look for the smallest number that reaches the target on every seed.",
            ), mlp
        missed = sum(a < SPIRAL_TARGET for a in fewer)
        words += (
            f", and {hidden_units - 1} miss the target on {missed} of {len(fewer)} seeds "
            f"({_listed(fewer)})"
        )
    return Verdict(
        True,
        words + f": the smallest network that separates the arms ({target}) on every seed.",
    ), mlp


# Exercise 6 ---------------------------------------------------------------------------------


def check_parameter_count(count_parameters) -> Verdict:
    """A formula for the number of weights of any layer sizes, bias rows included."""
    hint = (
        "each W^(l) has (units of layer l) + 1 rows, the +1 being the bias row, and (units of "
        "layer l+1) columns."
    )
    shapes = [(784, 50, 50, 10), (3, 4, 3), (2, 7, 1, 5), (10, 10)]
    for sizes in shapes:
        truth = sum(W.size for W in MLP(sizes, seed=0).weights)
        try:
            got = count_parameters(sizes)
        except Exception as exc:  # noqa: BLE001 - any failure of the learner's code is an answer
            return _wrong(f"count_parameters({sizes}) raised {type(exc).__name__}: {exc}.", hint)
        if got != truth:
            return _wrong(f"count_parameters({sizes}) gives {got}; the model has {truth:,}.", hint)
    return Verdict(True, f"{', '.join(str(s) for s in shapes)}: all counts match the models.")
