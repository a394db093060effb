"""What a speed number depends on: library versions, the machine and its load, thread settings.

`environment` is what does not change during a run (versions, CPU model, cores, BLAS library,
thread variables); `machine_state` is read before and after measuring (the load average, and the
BLAS threads in force at that moment, so read it inside `threadpool_limits` to record a limit).
"""

from __future__ import annotations

import os
import platform
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


def environment(*, with_tensorflow: bool) -> dict:
    """Versions and thread settings; imports TensorFlow only when asked."""
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
    }
    if with_tensorflow:
        from keras_mlp.tf import keras, tensorflow

        tf = tensorflow()
        info["tensorflow"] = tf.__version__
        info["keras"] = keras().__version__
        info["tf_intra_op_threads"] = tf.config.threading.get_intra_op_parallelism_threads()
        info["tf_inter_op_threads"] = tf.config.threading.get_inter_op_parallelism_threads()
    return info
