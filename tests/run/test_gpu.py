"""The CUDA path: a fastai submission trained with `--device cuda`, recorded and reproduced.

Marked `gpu`: selected by default, skipped (with the reason) where torch sees no CUDA.
"""

import pytest

from tests.conftest import cli, cli_json, write

pytestmark = pytest.mark.gpu

TINY_FASTAI = '''"""Two epochs of fastai's tabular_learner, on the GPU."""
from fastai.tabular.all import *

CONFIG = {"epochs": 2, "lr": 0.03}


def train(dls):
    learn = tabular_learner(dls, metrics=accuracy, layers=[10, 10])
    learn.fit(CONFIG["epochs"], lr=CONFIG["lr"])
    return learn
'''


@pytest.fixture
def cuda():
    """Skips the test where torch sees no GPU (imported here, not at collection)."""
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA: torch.cuda.is_available() is false on this machine")
    return torch.cuda.get_device_name(0)


def test_a_fastai_submission_trains_on_cuda_and_reproduces(cuda, home, tmp_path):
    fetched = cli("data", "fetch", "titanic", "--source", "offline", home=home)
    assert fetched.returncode == 0, fetched.stderr[-3000:]
    path = write(tmp_path / "tiny_gpu.py", TINY_FASTAI)
    code, sub = cli_json(
        "submit", "titanic", str(path), "--user", "ann", "--device", "cuda", home=home
    )
    assert code == 0 and sub["status"] == "scored", sub
    code, row = cli_json("show", str(sub["id"]), home=home)
    assert code == 0
    assert row["device"].startswith("cuda"), row["device"]
    assert row["gpu"] == cuda  # the host's nvidia-smi names the GPU it gave the run
    said = row["reported"]  # what the run saw: torch's own figures
    assert said["device"].startswith("cuda") and said["versions"]["gpu"] == cuda
    assert said["gpu_peak_mb"] is not None and said["gpu_peak_mb"] > 0, said
    assert len(row["epochs"]) == 2 and 0.6 < row["public_score"] <= 1
    code, again = cli_json("reproduce", str(sub["id"]), home=home)
    assert code == 0 and again["identical"] is True, again
    assert again["device"].startswith("cuda")
    assert again["reproduced_public_score"] == row["public_score"]
