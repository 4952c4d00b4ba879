"""Reproducibility: seeds, determinism flags, the environment and fingerprints of a run."""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.util
import platform
import random
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from types import ModuleType

from harness.paths import REPO_ROOT

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


def worker_env(seed: int) -> dict[str, str]:
    """Variables that must be set before the worker's interpreter starts."""
    return {
        "PYTHONHASHSEED": str(seed),  # set/dict order of strings, read only at start-up
        "CUBLAS_WORKSPACE_CONFIG": ":4096:8",  # deterministic cuBLAS, read at CUDA init
        # OpenMP threads that spin while waiting make a busy machine 100x slower (seen
        # with conv nets on 2 loaded cores); passive waiting costs nothing measurable
        "OMP_WAIT_POLICY": "PASSIVE",
    }


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


def versions() -> dict:
    """Library versions and hardware, as the worker sees them (torch's CUDA, GPU and
    threads when the run imported torch; None otherwise)."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    out.update(cuda=None, cudnn=None, gpu=None, torch_threads=None)
    if torch := sys.modules.get("torch"):
        gpu = torch.cuda.is_available()
        out["cuda"] = torch.version.cuda
        out["cudnn"] = torch.backends.cudnn.version() if gpu else None
        out["gpu"] = torch.cuda.get_device_name(0) if gpu else None
        out["torch_threads"] = torch.get_num_threads()
    return out


def git_hash() -> str | None:
    """The harness's own commit, with '+dirty' when the tree has changes."""
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
