"""Choosing Keras's backend (TensorFlow, JAX or PyTorch), and importing Keras on it lazily.

Nothing in the project imports a framework at module level: `tensorflow()`, `backend_module()` and
`keras()` are called inside the functions that need them, so NumPy-only work never pays a
framework's start-up time; a missing one is a KerasUnavailableError naming the extra to install.

Keras fixes its backend when it is first imported in a process (from the KERAS_BACKEND variable),
so the choice is made here, before that import: `use_backend(name)` records it (None: what
KERAS_BACKEND says, else TensorFlow, the tutorial's), and `keras()` imports Keras on it. A process
whose Keras already runs on another backend cannot switch: that is a BackendMismatchError, and the
work belongs in a fresh process (bench runs each backend in its own). JAX computes in float32 unless
its x64 mode is on; it is switched on here, before JAX starts, so a float64 model stays float64.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys

BACKENDS = ("tensorflow", "jax", "torch")
DEFAULT_BACKEND = "tensorflow"
# the extra that installs each backend, and the module it needs
EXTRAS = {"tensorflow": "keras", "jax": "keras-jax", "torch": "keras-torch"}
LABELS = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}


INSTALL_HINT = "install the keras extra: pip install 'mlp-compare[keras]'"


class KerasUnavailableError(ImportError):
    """Keras 3 or its backend (TensorFlow, JAX, PyTorch) is not installed, or is too old."""


@contextlib.contextmanager
def quiet_stderr():
    """Silence file descriptor 2 while TensorFlow (or another backend) starts.

    Its C++ start-up lines (oneDNN notice, missing CUDA drivers on a CPU-only machine) are written
    before its logging is configured, so TF_CPP_MIN_LOG_LEVEL cannot hide them. Python exceptions
    still propagate; set MLP_COMPARE_TF_VERBOSE=1 to see everything.
    """
    if os.environ.get("MLP_COMPARE_TF_VERBOSE") or "tensorflow" in sys.modules:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def tensorflow():
    """The `tensorflow` module; KerasUnavailableError naming the extra if it is missing."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no C++ start-up chatter
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    try:
        with quiet_stderr():
            import tensorflow as tf

            tf.config.list_physical_devices()  # device discovery, with its CUDA probing, now
    except ImportError as exc:
        raise KerasUnavailableError(
            f"TensorFlow is not installed ({exc}); {INSTALL_HINT}"
        ) from None
    major, minor = (int(p) for p in tf.__version__.split(".")[:2])
    if (major, minor) < (2, 16):
        raise KerasUnavailableError(
            f"TensorFlow {tf.__version__} is too old (Keras 3 needs 2.16 or newer); {INSTALL_HINT}"
        )
    return tf


class BackendMismatchError(KerasUnavailableError):
    """Keras already runs on another backend in this process."""


def install_hint(backend: str) -> str:
    extra = EXTRAS[backend]
    return f"install the {extra} extra: pip install 'mlp-compare[{extra}]'"


def requested_backend(name: str | None = None) -> str:
    """`name`, else KERAS_BACKEND, else TensorFlow; ValueError for a backend Keras lacks."""
    name = name or os.environ.get("KERAS_BACKEND") or DEFAULT_BACKEND
    if name not in BACKENDS:
        raise ValueError(f"unknown Keras backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return name


def running_backend() -> str | None:
    """The backend Keras runs on in this process, or None while Keras is not imported."""
    keras = sys.modules.get("keras")
    return keras.backend.backend() if keras is not None else None


def use_backend(name: str | None = None) -> str:
    """Fix the backend this process's Keras will run on (see the module's docstring).

    Returns the backend's name; BackendMismatchError when Keras already runs on another one.
    """
    name = requested_backend(name)
    running = running_backend()
    if running is not None and running != name:
        raise BackendMismatchError(
            f"Keras already runs on {running} in this process; the {name} backend needs a fresh "
            f"process (Keras fixes its backend when it is first imported)"
        )
    os.environ["KERAS_BACKEND"] = name
    if name == "jax":
        os.environ["JAX_ENABLE_X64"] = "1"
    return name


def backend_available(name: str) -> None:
    """KerasUnavailableError naming the extra to install unless `name`'s module (and Keras) can be
    found; imports nothing (for a process that will not run that backend itself)."""
    for module in (name, "keras"):
        try:
            found = sys.modules.get(module) or importlib.util.find_spec(module)
        except (ImportError, ValueError):  # a module blocked by a None entry in sys.modules
            found = None
        if found is None:
            raise KerasUnavailableError(
                f"the {name} backend needs {module}, which is not installed; {install_hint(name)}"
            )


def backend_module(name: str | None = None):
    """The backend's own module (tensorflow, jax or torch); KerasUnavailableError naming the extra
    to install when it is missing."""
    name = requested_backend(name)
    if name == "tensorflow":
        return tensorflow()
    try:
        with quiet_stderr():
            module = importlib.import_module(name)
    except ImportError as exc:
        raise KerasUnavailableError(
            f"the {name} backend needs {name}, which is not installed ({exc}); {install_hint(name)}"
        ) from None
    if name == "jax":
        module.config.update("jax_enable_x64", True)  # float64 models stay float64
    return module


def keras():
    """The Keras 3 module, on the backend `use_backend` chose (KERAS_BACKEND, else TensorFlow)."""
    name = use_backend(running_backend() or None)
    backend_module(name)
    try:
        with quiet_stderr():
            import keras as keras_module
    except ImportError as exc:
        raise KerasUnavailableError(
            f"Keras 3 is not installed ({exc}); {install_hint(name)}"
        ) from None
    keep_float64()
    return keras_module


def keep_float64() -> bool:
    """Let float64 stay float64 in Keras's operations on JAX and PyTorch; True if it changed.

    Keras 3's type promotion (keras.src.backend.common.dtypes.result_type) turns a float64 result
    into float32 on every backend but TensorFlow, to match JAX's default 32-bit mode: a float64
    model's tanh (JAX) or matrix product (PyTorch) is then computed in float32, and its gradients
    agree with NumPy's to ~1e-7 instead of ~1e-16. JAX runs in its 64-bit mode here (see
    `use_backend`), and PyTorch computes float64 natively, so the demotion is lifted; float32
    models are unaffected (float32 with float32 promotes to float32 either way).
    """
    from keras.src.backend.common import dtypes

    demote = getattr(dtypes, "BIT64_TO_BIT32_DTYPE", None)
    if not isinstance(demote, dict) or demote.get("float64", "float64") == "float64":
        return False
    demote["float64"] = "float64"
    return True


def backend_name() -> str:
    """The backend Keras runs on (importing Keras if needed)."""
    return keras().backend.backend()


def to_numpy(x):
    """A backend tensor or Keras variable as a NumPy array (copied off any device)."""
    return keras().ops.convert_to_numpy(x)
