"""Reproducibility: seeds, determinism flags, the environment and fingerprints of a run."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.abc
import importlib.util
import os
import platform
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from types import ModuleType

from harness.paths import REPO_ROOT, installed

PACKAGES = (
    "torch",
    "torchvision",
    "fastai",
    "fastcore",
    "timm",
    "numpy",
    "pandas",
    "scikit-learn",
    "duckdb",
)


def worker_env(seed: int, passive: bool = True) -> dict[str, str]:
    """Variables that must be set before the worker's interpreter starts.

    Args:
        passive: OpenMP threads sleep while they wait (`wait_policy` decides): on a busy
            machine spinning threads fight the other processes for the cores (MovieLens'
            collab_learner 2.7x slower with two busy processes on 2 cores), while on free
            cores passive waiting costs 1.6x.
    """
    out = {
        "PYTHONHASHSEED": str(seed),  # set/dict order of strings, read only at start-up
        "CUBLAS_WORKSPACE_CONFIG": ":4096:8",  # deterministic cuBLAS, read at CUDA init
    }
    if passive:
        out["OMP_WAIT_POLICY"] = "PASSIVE"
    return out


def runnable_others(samples: int = 5, pause: float = 0.02) -> int:
    """How many other threads want a core right now (the kernel's `procs_running`, less
    the one reading it; the median of a few looks)."""
    seen = []
    for i in range(samples):
        try:
            with open("/proc/stat") as f:
                line = next(x for x in f if x.startswith("procs_running"))
            seen.append(int(line.split()[1]) - 1)
        except (OSError, StopIteration, ValueError):
            return 0
        if i < samples - 1:
            time.sleep(pause)
    return sorted(seen)[len(seen) // 2]


def wait_policy() -> tuple[bool, str]:
    """Whether a worker's OpenMP threads should wait passively, and why, in words.

    The worker's threads (torch takes one per core) spin while waiting when the cores are
    free at its start, as a plain script's do; when other work already wants the cores
    they sleep instead. Either way the results are the same: only the speed differs.
    """
    cores = os.cpu_count() or 1
    others = runnable_others()
    if others == 0:
        return False, f"OpenMP threads spin while waiting (the {cores} cores were free)"
    return True, (
        f"OpenMP threads sleep while waiting ({others} other thread(s) wanted the "
        f"{cores} cores at the start)"
    )


def seed_everything(seed: int) -> None:
    """Seeds Python and NumPy now, and torch (CPU and CUDA, deterministic kernels) the
    moment it is imported (at once if it is already): a run that never imports torch, as
    a rule or a scikit-learn model, does not wait the seconds its import takes.

    fastai's own `set_seed` defaults to `reproducible=False`, which leaves cuDNN free to
    pick non-deterministic algorithms; here determinism is always on.
    """
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    after_import("torch", lambda torch: _seed_torch(torch, seed))


def _seed_torch(torch, seed: int) -> None:
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    # warn_only: an op without a deterministic kernel warns in the log instead of failing
    torch.use_deterministic_algorithms(True, warn_only=True)


def after_import(name: str, hook: Callable[[ModuleType], None]) -> None:
    """Calls hook(module) once the top-level module `name` is first imported, by anyone,
    before the importer gets it; at once when it is imported already."""
    if name in sys.modules:
        hook(sys.modules[name])
    else:
        sys.meta_path.insert(0, _AfterImport(name, hook))


class _AfterImport(importlib.abc.MetaPathFinder):
    def __init__(self, name: str, hook: Callable[[ModuleType], None]):
        self.name, self.hook = name, hook

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)  # once; and the search below must not find this finder
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        run, hook = spec.loader.exec_module, self.hook

        def exec_module(module):
            run(module)
            hook(module)

        spec.loader.exec_module = exec_module  # this spec's own loader object
        return spec


def resolve_device(requested: str) -> str:
    """'auto' -> 'cuda' when a GPU is visible, else 'cpu'; 'cuda' without a GPU is an error."""
    if requested == "cpu":
        return "cpu"
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but torch sees no GPU")
    return requested


def versions(seen: bool = True) -> dict:
    """Library versions and hardware, as the worker sees them (torch's CUDA, GPU and
    threads when the run imported torch; None otherwise).

    Args:
        seen: False on the host: the installed packages only, never what torch sees
            (nothing is imported, no GPU touched).
    """
    out = {"python": platform.python_version(), "platform": platform.platform()}
    out["cpu"] = cpu_model()
    out["cpu_features"] = cpu_features()
    out["numerics_caps"] = numerics_caps()
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    if not seen:
        return out
    out["numerics"] = os.environ.get(MODE) or "native"  # the run's mode (the runner sets it)
    out.update(cuda=None, cudnn=None, gpu=None, torch_threads=None)
    if torch := sys.modules.get("torch"):
        gpu = torch.cuda.is_available()
        out["cuda"] = torch.version.cuda
        out["cudnn"] = torch.backends.cudnn.version() if gpu else None
        out["gpu"] = torch.cuda.get_device_name(0) if gpu else None
        out["torch_threads"] = torch.get_num_threads()
        out.update(numerics(torch, gpu))
    return out


@functools.cache
def _cpuinfo() -> tuple[str | None, frozenset[str]]:
    """The first CPU's name and flags in /proc/cpuinfo, read once a process."""
    name, flags = None, frozenset()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if name is None and key.strip() in ("model name", "Model", "Hardware"):
                    name = value.strip() or None
                elif key.strip() == "flags":
                    flags = frozenset(value.split())
                    break  # the first CPU's flags follow its name
    except OSError:
        pass
    return name, flags


def cpu_model() -> str | None:
    """The CPU's name as the kernel gives it (`platform` names the kernel, not the CPU)."""
    return _cpuinfo()[0] or platform.processor() or None


# the vector units whose presence changes which kernels oneDNN and MKL pick (a Xeon with
# AMX and an EPYC without it round a convolution's sums differently)
CPU_FEATURES = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile")
# the switches with which an organiser caps a machine's numerics; passed into the sandbox
NUMERICS_CAPS = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "MKL_CBWR")
NUMERICS_CAPS += ("OPENBLAS_CORETYPE", "NPY_DISABLE_CPU_FEATURES")  # numpy's and scipy's


def cpu_features() -> str | None:
    """Which of CPU_FEATURES this CPU has, in that order (x86-64's flags; None elsewhere)."""
    have = _cpuinfo()[1]
    return " ".join(x for x in CPU_FEATURES if x in have) or None


# portable numerics: every x86-64 machine of the group with AVX2 or better takes the same
# kernels (torch's, oneDNN's, MKL's in its strict conditional-reproducibility mode, the
# OpenBLAS that numpy, scipy and scikit-learn bundle, numpy's own dispatched loops: its
# float64 exp, log, log1p and float32 power round otherwise under AVX-512), so the same run
# computes the same bits on the host, on each Ray node and on a member's laptop. Disabling a feature a
# CPU lacks is allowed (numpy only refuses to enable one).
PORTABLE = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2,STRICT"}
PORTABLE |= {
    "OPENBLAS_CORETYPE": "Haswell",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
}
# and the same threads: torch's reductions and oneDNN's cut their sums into one part per
# thread (a sum of 4M floats, a conv net's weights after a few steps: other bits with 1, 2,
# 4 or 16 threads). Two: what every machine of a group has, a laptop included; a node with
# more cores runs more runs at once instead (`harness serve --workers`, Ray's CPUs).
PORTABLE_THREADS = 2
MODE = "HARNESS_NUMERICS"  # the run's environment says which mode it ran in


def numerics_caps(env: Mapping[str, str] = os.environ) -> str:
    """The caps set in an environment (this process's by default), as NAME=value; "none"
    when none is."""
    caps = [f"{k}={env[k]}" for k in NUMERICS_CAPS if env.get(k)]
    return " ".join(caps) or "none"


def numerics(torch, gpu: bool) -> dict:
    """What decides torch's arithmetic on this machine beside the versions: the instruction
    set its CPU kernels dispatch to (ATEN_CPU_CAPABILITY caps it), the oneDNN and BLAS it
    was built with, its inter-op threads and the GPU's compute capability."""
    out: dict = {"cpu_capability": None, "onednn": None, "blas": None}
    with contextlib.suppress(Exception):
        out["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    with contextlib.suppress(Exception):
        shown = torch.__config__.show()
        if m := re.search(r"MKL-DNN v([\w.]+)", shown):
            out["onednn"] = m.group(1)
        if m := re.search(r"BLAS_INFO=(\w+)", shown):
            blas = m.group(1)
            if blas == "mkl" and (v := re.search(r"Math Kernel Library Version ([\w.]+)", shown)):
                blas = f"mkl {v.group(1)}"
            out["blas"] = blas
    with contextlib.suppress(Exception):
        out["interop_threads"] = torch.get_num_interop_threads()
    if gpu:
        with contextlib.suppress(Exception):
            out["gpu_capability"] = ".".join(map(str, torch.cuda.get_device_capability(0)))
    return out


def gpu_names() -> list[str]:
    """This machine's GPUs as nvidia-smi names them, without importing torch; none
    where there is no nvidia-smi or it fails."""
    import shutil

    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.strip()]


def git_hash() -> str | None:
    """The harness's own commit, with '+dirty' when the tree has changes; an installed
    harness has no checkout to ask (git would answer for whatever repository holds the
    environment), so its version: `0.1.0 (installed)`."""
    if installed():
        try:
            return f"{metadata.version('harness')} (installed)"
        except metadata.PackageNotFoundError:
            return None
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty.strip() else "")


def file_sha256(path: Path) -> str:
    """A file's sha256, read a MiB at a time (never whole: it may be a refused huge file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()
