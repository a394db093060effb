"""Checkers for the walkthrough's exercises: each says right or wrong, and gives a hint when wrong.

Each `check_*` takes the learner's answer (and what it needs to judge it) and returns a Verdict,
which prints as one paragraph. The answers are in notebooks/solutions.py;
tests/test_notebook_exercises.py checks that every checker accepts its solution and rejects the
untouched task cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numpy_mlp import MLP, SGD, TrainingDivergedError, check_grad, gradient_norms
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


def check_normal_init(prediction, big: MLP, ratio, glorot: MLP, X, y) -> Verdict:
    """N(0, 1) connection weights in `big`, the measured ratio, and the prediction that matches."""
    spread = float(np.sqrt(np.mean(np.sum(np.square(X, dtype=np.float64), axis=1))))
    hint = (
        f"with these inputs and weights of standard deviation 1, Z_h = A_in W_h has a standard "
        f"deviation of about {spread:.0f}: where is tanh then, and what is its slope there?"
    )
    if prediction not in ("larger", "smaller", "about the same"):
        return _wrong(
            f"prediction is {prediction!r}; write 'larger', 'smaller' or 'about the same'.", hint
        )
    connections = np.concatenate([W[1:].ravel() for W in big.weights])
    bias = np.concatenate([W[0] for W in big.weights])
    if not (0.95 < connections.std() < 1.05 and abs(connections.mean()) < 0.05) or bias.any():
        return _wrong(
            f"big's connection weights have standard deviation {connections.std():.3f} and mean "
            f"{connections.mean():.3f} (want 1 and 0), bias rows "
            f"{'not all zero' if bias.any() else 'zero'}.",
            "set every matrix's rows 1: to rng.normal(size=...) and leave row 0 at zero, with "
            "big.set_weights([...]).",
        )
    measured = relative_gradient(big, X, y) / relative_gradient(glorot, X, y)
    if ratio is None or not np.isclose(float(ratio), measured, rtol=1e-6):
        return _wrong(
            f"ratio is {ratio}; measured from big and glorot it is {measured:.4g}.",
            "ratio = relative_gradient(big, X, y) / relative_gradient(glorot, X, y).",
        )
    truth = direction(measured)
    saturated = float(np.mean(np.abs(big.forward(X)[1][:, 1:]) > 0.99))
    gradient = gradient_norms(big, X, y)[0] / gradient_norms(glorot, X, y)[0]
    weights = float(np.linalg.norm(big.weights[0]) / np.linalg.norm(glorot.weights[0]))
    why = (
        f"{saturated:.0%} of the first hidden layer's units are saturated (|A_h| > 0.99, where "
        f"tanh' = 1 - A^2 < 0.02). The first layer's gradient is {gradient:.2g} times Glorot's "
        f"while its weights are {weights:.0f} times larger, so a step of SGD changes them "
        f"{measured:.2g} times as much, relative to their size."
    )
    if prediction != truth:
        return _wrong(f"The measurement is right ({measured:.3g}x, {truth}); the prediction "
                      f"'{prediction}' is not.", why)  # fmt: skip
    return Verdict(True, f"{measured:.3g}x, {truth}: {why}")


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


def train_spiral(hidden_units: int, X, y) -> MLP:
    """A 2-hidden_units-3 tanh network trained on the spiral (300 epochs, batch 32, lr 0.1)."""
    mlp = MLP((2, hidden_units, 3), seed=0, dtype=np.float64)
    mlp.fit(X, y, epochs=300, batch_size=32, validation_split=0.0,
            optimizer=SGD(0.1, 0.9, 0.0), seed=0, verbose=0)  # fmt: skip
    return mlp


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


def check_spiral(hidden_units, X, y) -> tuple[Verdict, MLP | None]:
    """Is this the smallest number of hidden units that separates the spiral (>= 95 % training
    accuracy with `train_spiral`)? Returns the verdict and the network trained with it."""
    hint = (
        "each tanh unit bends the plane along one line, and the spiral needs several bends. "
        "Try 3, 4, 5, ... and read the training accuracy each gives."
    )
    if isinstance(hidden_units, bool) or not isinstance(hidden_units, int) or hidden_units < 1:
        return _wrong(
            f"hidden_units is {hidden_units!r}; it must be a positive integer.", hint
        ), None
    if hidden_units > 100:
        return _wrong(f"{hidden_units} units are far more than needed.", hint), None
    mlp = train_spiral(hidden_units, X, y)
    accuracy = mlp.accuracy(X, y)
    words = f"With {hidden_units} hidden units the training accuracy is {100 * accuracy:.1f} %"
    target = f"{100 * SPIRAL_TARGET:.0f} %"
    if accuracy < SPIRAL_TARGET:
        return _wrong(words + f", below the {target} target.", hint), mlp
    if hidden_units > 1:
        fewer = train_spiral(hidden_units - 1, X, y).accuracy(X, y)
        if fewer >= SPIRAL_TARGET:
            return _wrong(
                words + f", but {hidden_units - 1} units already reach {100 * fewer:.1f} %.",
                "look for the smallest number that reaches the target.",
            ), mlp
        words += f", and {hidden_units - 1} reach only {100 * fewer:.1f} %"
    return Verdict(True, words + f": the smallest network that separates the arms ({target})."), mlp


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
