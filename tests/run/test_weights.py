"""Pretrained weights in a run: the host's cache, read-only in the sandbox, is where
torchvision and timm find what fastai's vision_learner asks for; the run records each
file it loaded (sha256); weights missing from the cache fail the run in one line that
names them and the command that fetches them; a reproduction names a replaced file.

The tests make the weights (random ones) and place them in the libraries' own layouts,
as `harness weights fetch` leaves them: no network anywhere.
"""

import hashlib
from pathlib import Path

import pytest

from harness.run import sandbox, weights
from harness.run.differences import weights_differences
from harness.run.output import Malformed, check_result
from harness.store import leaderboards
from tests.conftest import harness_here, harness_here_json, write

TORCHVISION_FILE = "resnet18-f37072fd.pth"  # torchvision's ResNet18_Weights.IMAGENET1K_V1
TIMM_REPO = "models--timm--resnet18.a1_in1k"  # timm's default tag of resnet18, on the hub
REVISION = "5f0c2b1e"  # the snapshot refs/main names
TIMM_FILE = f"huggingface/hub/{TIMM_REPO}/snapshots/{REVISION}/model.safetensors"
MISSING_TORCHVISION = (
    "pretrained weights for resnet18 (torchvision: resnet18-f37072fd.pth) are not in the "
    "host's cache; the organiser fetches them with: harness weights fetch resnet18"
)
MISSING_TIMM = (
    "pretrained weights for resnet18 (timm: timm/resnet18.a1_in1k model.safetensors) are not "
    "in the host's cache; the organiser fetches them with: harness weights fetch resnet18"
)
# lesson 1's way on the smallest images the course has (MNIST's 28x28 digits): a few
# batches of fine_tune are enough to show the run trained from the cached weights
LESSON_1 = '''"""resnet18, pretrained, fine_tune."""
from fastai.vision.all import *


def train(dls):
    learn = vision_learner(dls, {arch}, n_in=1, metrics=accuracy)  # grey digits
    learn.fine_tune(1, cbs=ShortEpochCallback(0.04))
    return learn
'''
SANDBOXED = pytest.mark.skipif(sandbox.find()[0] is None, reason="no sandbox on this host")


def place_torchvision(home: Path, seed: int = 0) -> Path:
    """A resnet18 state_dict (random: seeded) where torch.hub keeps torchvision's file."""
    import torch
    import torchvision

    torch.manual_seed(seed)
    path = home / "weights" / weights.CHECKPOINTS / TORCHVISION_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(torchvision.models.resnet18().state_dict(), path)
    return path


def place_timm(home: Path) -> Path:
    """timm's resnet18 state_dict as the hub's cache holds it: refs/main, the snapshot."""
    import timm
    from safetensors.torch import save_file

    top = home / "weights" / weights.HUB / TIMM_REPO
    write(top / "refs" / "main", REVISION)
    path = home / "weights" / TIMM_FILE
    path.parent.mkdir(parents=True)
    save_file(timm.create_model("resnet18").state_dict(), str(path))
    path.chmod(0o644)  # as the hub's client leaves it (safetensors writes 0600)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def submit(home: Path, arch: str) -> dict:
    sub = write(home.parent / "lesson1.py", LESSON_1.format(arch=arch))
    code, out = harness_here_json("submit", "mnist", str(sub), "--user", "ann")
    assert code in (0, 1), out
    return harness_here_json("show", str(out["id"]))[1]


@SANDBOXED
def test_lesson_1_fine_tunes_torchvisions_cached_weights_and_a_reproduction_names_them(ready):
    path = place_torchvision(ready)
    row = submit(ready, "resnet18")
    assert row["status"] == "scored", row["error"]
    assert row["sandboxed"] is True and row["model"]["pretrained"] is True
    file = f"torch/hub/checkpoints/{TORCHVISION_FILE}"
    first = sha256(path)
    assert row["reported"]["weights"] == [
        {"library": "torchvision", "name": "resnet18", "file": file, "sha256": first}
    ]
    assert f"[run] pretrained weights: resnet18 (torchvision, {file})" in row["log"]
    shown = harness_here("show", str(row["id"])).stdout
    assert "pretrained weights loaded (reported by the run):" in shown and first in shown
    from leaderboard.submission import provenance  # the submission page's Provenance table

    facts = dict(provenance(leaderboards.submission(row["id"])))
    named = "pretrained weights resnet18 (torchvision), reported by the run"
    assert facts[named] == f"{file}, sha256 {first}"

    place_torchvision(ready, seed=1)  # the organiser's file changed under the run
    code, rep = harness_here_json("reproduce", str(row["id"]))
    assert code == 1 and rep["identical"] is False
    assert rep["differences"][0] == {
        "what": "pretrained weights resnet18 (torchvision: resnet18-f37072fd.pth), sha256",
        "original": first,
        "now": sha256(path),
    }
    assert rep["verdict"].startswith("most likely cause: pretrained weights resnet18")


@SANDBOXED
def test_a_timm_name_loads_timms_default_tag_from_the_hubs_cache(ready):
    path = place_timm(ready)
    row = submit(ready, '"resnet18"')
    assert row["status"] == "scored", row["error"]
    assert row["sandboxed"] is True and row["model"]["pretrained"] is True
    assert row["reported"]["weights"] == [
        {"library": "timm", "name": "resnet18.a1_in1k", "file": TIMM_FILE, "sha256": sha256(path)}
    ]


@SANDBOXED
@pytest.mark.parametrize(
    "arch, error", [("resnet18", MISSING_TORCHVISION), ('"resnet18"', MISSING_TIMM)]
)
def test_weights_not_in_the_cache_fail_the_run_in_one_line_naming_the_fetch(ready, arch, error):
    row = submit(ready, arch)  # no cache at all: nothing is bound at /weights
    assert row["status"] == "failed" and row["error"] == error
    assert row["reported"]["weights"] == []
    assert "URLError" not in row["log"] and "Traceback" in row["log"]  # the whole story: the log


READS = '''"""Loads torchvision's file through torch.hub as a run sees it; predicts 0."""
import os
import torch.hub

URL = "https://download.pytorch.org/models/{file}"


def fit_predict(train, valid, test):
    torch.hub.load_state_dict_from_url(URL, map_location="cpu")
    try:
        open(os.path.join(os.environ["TORCH_HOME"], "mine"), "w")
        wrote = True
    except OSError:
        wrote = False
    print(f"wrote into the cache: {{wrote}}")
    return [0] * len(test)
'''


@pytest.mark.parametrize("setting", ["auto", "off"])
def test_a_run_reads_the_cache_where_torch_looks_sandboxed_read_only(ready, monkeypatch, setting):
    monkeypatch.setenv(sandbox.SETTING, setting)
    if setting == "auto" and sandbox.find()[0] is None:
        pytest.skip("no sandbox on this host")
    path = place_torchvision(ready)
    sub = write(ready.parent / "reads.py", READS.format(file=TORCHVISION_FILE))
    code, out = harness_here_json("submit", "mnist", str(sub), "--user", "ann")
    row = harness_here_json("show", str(out["id"]))[1]
    assert code == 0, row["error"]
    assert row["reported"]["weights"][0]["sha256"] == sha256(path)
    if setting == "off":  # the host's own folder, as TORCH_HOME
        assert row["sandboxed"] is False and (ready / "weights" / "torch" / "mine").exists()
        (ready / "weights" / "torch" / "mine").unlink()
    else:  # read-only at /weights
        assert "wrote into the cache: False" in row["log"]
        assert not (ready / "weights" / "torch" / "mine").exists()


def test_reproduce_names_each_weights_file_that_changed_or_was_not_loaded():
    a = {"library": "torchvision", "name": "resnet18", "file": "torch/x/r18.pth", "sha256": "1"}
    b = {"library": "timm", "name": "resnet18", "file": "huggingface/y/m.safetensors"}
    then = [a, {**b, "sha256": "2"}]
    assert weights_differences(then, then) == []
    assert weights_differences(None, then) == []  # recorded before weights were recorded
    assert weights_differences(then, [{**a, "sha256": "3"}]) == [
        {
            "what": "pretrained weights resnet18 (torchvision: r18.pth), sha256",
            "original": "1",
            "now": "3",
        },
        {
            "what": "pretrained weights resnet18 (timm: m.safetensors), sha256",
            "original": "2",
            "now": "not loaded",
        },
    ]
    assert weights_differences([], [a]) == [
        {
            "what": "pretrained weights resnet18 (torchvision: r18.pth), sha256",
            "original": "not loaded",
            "now": "1",
        }
    ]


GOOD = {"library": "timm", "name": "resnet18", "file": "a/b", "sha256": "ab" * 32}


@pytest.mark.parametrize(
    "bad",
    [
        {"resnet18": "ab" * 32},
        [GOOD] * (weights.MAX_RECORDED + 1),
        [{**GOOD, "sha256": "xyz"}],
        [{**GOOD, "extra": "1"}],
        [{**GOOD, "name": 3}],
        [{**GOOD, "file": "a\x1b[2Jb"}],
        [{**GOOD, "name": "x" * 501}],
    ],
)
def test_the_weights_a_worker_reports_are_type_checked(bad):
    assert check_result({"weights": [GOOD]})["weights"] == [GOOD]
    with pytest.raises(Malformed, match="weights"):
        check_result({"weights": bad})
