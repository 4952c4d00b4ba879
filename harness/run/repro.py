"""Reproducibility: seeds, determinism flags, the environment and fingerprints of a run."""

from __future__ import annotations

import hashlib
import platform
import random
import subprocess
from importlib import metadata
from pathlib import Path

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
    """Seeds Python, NumPy and torch (CPU and CUDA) and turns on deterministic kernels.

    fastai's own `set_seed` defaults to `reproducible=False`, which leaves cuDNN free to
    pick non-deterministic algorithms; here determinism is always on.
    """
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    # warn_only: an op without a deterministic kernel warns in the log instead of failing
    torch.use_deterministic_algorithms(True, warn_only=True)


def resolve_device(requested: str) -> str:
    """'auto' -> 'cuda' when a GPU is visible, else 'cpu'; 'cuda' without a GPU is an error."""
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but torch sees no GPU")
    return requested


def versions() -> dict:
    """Library versions and hardware, as the worker sees them."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    import torch

    out["cuda"] = torch.version.cuda
    out["cudnn"] = torch.backends.cudnn.version() if torch.cuda.is_available() else None
    out["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
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
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
