"""What a speed number depends on: library versions, the machine and its load, thread settings.

`environment` is what does not change during a run (versions, CPU model, cores, BLAS library,
thread variables); `machine_state` is read before and after measuring (the load average, and the
BLAS threads in force at that moment, so read it inside `threadpool_limits` to record a limit).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)


def blas_info() -> list[dict]:
    """The BLAS libraries NumPy loaded and their thread counts (via threadpoolctl when present)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [
        {k: lib.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
        for lib in threadpool_info()
        if lib.get("user_api") == "blas"
    ]


def blas_threads_in_force() -> int | None:
    """The BLAS thread count in force now (the largest over NumPy's BLAS libraries)."""
    return max((b["num_threads"] for b in blas_info()), default=None)


def cpu_model() -> str | None:
    """The CPU's model name from /proc/cpuinfo (Linux), else what the platform module says."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def governor() -> str | None:
    """The CPU frequency governor of cpu0 (e.g. 'performance', 'powersave'), where readable."""
    try:
        with open("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor") as f:
            return f.read().strip() or None
    except OSError:
        return None


def usable_cores() -> int:
    """The cores this process may run on (its affinity), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def load_average() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages (runnable and waiting tasks), where available."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def cpu_snapshot() -> dict | None:
    """CPU seconds so far: the machine's total and busy time over all cores (/proc/stat; busy
    includes time stolen by other virtual machines) and this process's own (all its threads, and
    the children it waited for). None where /proc/stat is not readable."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:9]  # user nice system idle iowait irq softirq steal
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    values = [int(v) / ticks for v in fields]
    t = os.times()
    return {
        "total": sum(values),
        "busy": sum(values) - values[3] - values[4],
        "own": t.user + t.system + t.children_user + t.children_system,
    }


def others_cpu_share(before: dict | None, after: dict | None) -> float | None:
    """The share (0..1) of the machine's CPU time, all cores, that other processes used between
    two `cpu_snapshot`s; None when either is missing or no time passed."""
    if not before or not after or after["total"] <= before["total"]:
        return None
    others = (after["busy"] - before["busy"]) - (after["own"] - before["own"])
    return round(min(1.0, max(0.0, others / (after["total"] - before["total"]))), 3)


def machine() -> dict:
    """What the machine is: CPU model, cores, usable cores, frequency governor (None if unreadable)."""
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "governor": governor(),
    }


def tf_threads() -> dict:
    """TensorFlow's intra-op and inter-op thread settings and what they mean in threads.

    0 is TensorFlow's default: a pool sized to the machine (one thread per usable core).
    """
    from keras_mlp.tf import tensorflow

    tf = tensorflow()
    intra = tf.config.threading.get_intra_op_parallelism_threads()
    inter = tf.config.threading.get_inter_op_parallelism_threads()
    cores = usable_cores()
    return {
        "intra_op_setting": intra,
        "inter_op_setting": inter,
        "intra_op": intra or cores,
        "inter_op": inter or cores,
    }


def keras_threads() -> dict:
    """The threads the running Keras backend computes with: TensorFlow's pools (`tf_threads`),
    PyTorch's intra-op and inter-op counts, or, for JAX, XLA's CPU pool (XLA_FLAGS if set)."""
    from keras_mlp.backend import backend_module, backend_name

    name = backend_name()
    if name == "tensorflow":
        return {"backend": name, **tf_threads()}
    if name == "torch":
        torch = backend_module("torch")
        return {
            "backend": name,
            "intra_op": torch.get_num_threads(),
            "inter_op": torch.get_num_interop_threads(),
        }
    return {
        "backend": name,
        "xla": os.environ.get("XLA_FLAGS") or f"XLA's default pool ({usable_cores()} usable cores)",
    }


def threads_text(threads: dict) -> str:
    """'TF intra 2, inter 2', 'torch intra 2, inter 2' or JAX's XLA pool, from `keras_threads`."""
    if threads.get("backend") == "jax":
        return f"JAX: {threads['xla']}"
    prefix = "TF" if threads.get("backend", "tensorflow") == "tensorflow" else "torch"
    return f"{prefix} intra {threads.get('intra_op')}, inter {threads.get('inter_op')}"


def gpus_on_machine() -> list[dict]:
    """The machine's NVIDIA GPUs as nvidia-smi lists them (name, memory in GiB); [] without any
    GPU or without nvidia-smi. Independent of whether a backend can use them."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        listed = subprocess.run(
            [exe, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in listed.stdout.splitlines() if listed.returncode == 0 else []:
        name, _, mib = line.rpartition(",")
        try:
            gpus.append({"name": name.strip(), "memory_gib": round(float(mib) / 1024, 1)})
        except ValueError:
            continue
    return gpus


def cpu_device() -> dict:
    """The CPU as a compute device: model and usable cores."""
    return {"kind": "cpu", "name": cpu_model(), "cores": usable_cores()}


def numpy_device() -> dict:
    """NumPy computes on the CPU; whether a GPU sat unused beside it."""
    return {**cpu_device(), "gpu_present_unused": bool(gpus_on_machine())}


def keras_device() -> dict:
    """The device the running Keras backend computes on (Keras takes the first GPU when its backend
    can use one, else the CPU): kind, name, memory for a GPU, and whether a GPU was present but
    unused (the machine has one the backend cannot use, e.g. a CPU-only build)."""
    from keras_mlp.backend import backend_module, backend_name

    name = backend_name()
    module = backend_module(name)
    device = None
    if name == "tensorflow":
        found = module.config.list_physical_devices("GPU")
        if found:
            details = module.config.experimental.get_device_details(found[0])
            device = {"kind": "gpu", "name": details.get("device_name") or found[0].name}
    elif name == "jax":
        first = module.devices()[0]
        if first.platform == "gpu":
            stats = first.memory_stats() or {}
            device = {"kind": "gpu", "name": first.device_kind}
            if stats.get("bytes_limit"):
                device["memory_gib"] = round(stats["bytes_limit"] / 2**30, 1)
    else:
        from keras.src.backend.torch.core import get_device

        if str(get_device()).startswith("cuda"):
            props = module.cuda.get_device_properties(0)
            device = {
                "kind": "gpu",
                "name": props.name,
                "memory_gib": round(props.total_memory / 2**30, 1),
            }
    gpus = gpus_on_machine()
    if device is None:
        return {**cpu_device(), "gpu_present_unused": bool(gpus)}
    if "memory_gib" not in device:
        device["memory_gib"] = next((g["memory_gib"] for g in gpus), None)
    return {**device, "gpu_present_unused": False}


def device_text(device: dict | None) -> str:
    """'CPU (model, 2 cores)' or 'GPU NVIDIA H200 (139.8 GiB)', and a GPU left unused if so."""
    if not device:
        return "an unrecorded device"
    if device.get("kind") == "gpu":
        memory = f", {device['memory_gib']} GiB" if device.get("memory_gib") else ""
        text = f"GPU {device.get('name')}{memory}"
    else:
        text = f"CPU ({device.get('name') or 'unknown model'}, {device.get('cores')} cores)"
    if device.get("gpu_present_unused"):
        text += "; a GPU was present but unused"
    return text


def backend_version(name: str) -> str:
    """The installed version of a Keras backend's module."""
    from keras_mlp.backend import backend_module

    return backend_module(name).__version__


def environment(*, with_tensorflow: bool) -> dict:
    """Versions, thread settings and devices; imports Keras (on its chosen backend) only when
    asked (`with_tensorflow`: Keras takes part, on whichever backend)."""
    import numpy as np

    info = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        **machine(),
        "numpy": np.__version__,
        "blas": blas_info(),
        "thread_env": {k: os.environ[k] for k in THREAD_VARIABLES if k in os.environ},
        "numpy_device": numpy_device(),
    }
    if with_tensorflow:
        from keras_mlp.backend import backend_name, keras

        name = backend_name()
        info["keras_backend"] = name
        info[name] = backend_version(name)
        info["keras"] = keras().__version__
        info["keras_threads"] = keras_threads()
        info["keras_device"] = keras_device()
        if name == "tensorflow":
            info["tf_intra_op_threads"] = info["keras_threads"]["intra_op_setting"]
            info["tf_inter_op_threads"] = info["keras_threads"]["inter_op_setting"]
    return info
