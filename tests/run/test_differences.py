"""A reproduction that disagrees says why: the recorded difference most likely to be the
cause first, how far the predictions moved, or plainly that the run is not deterministic."""

import json
import platform
from pathlib import Path

import pandas as pd
import pytest

from harness.paths import submissions_dir
from harness.run import pipeline
from harness.run.differences import recorded_differences
from harness.run.repro import PORTABLE, PORTABLE_THREADS
from harness.run.runner import LocalExecutor
from harness.store import db, records, submissions
from tests.conftest import cli_json, write

RANDOM = (
    "import numpy as np\n"
    "def fit_predict(train, valid, test):\n"
    "    return (np.random.rand(len(test)) < 0.4).astype(int)\n"
)


def tamper(sub_id: int, **fields) -> None:
    """Changes what is recorded of a run, as a moved machine or an edited row would."""
    with db.connect() as con:
        for k, v in fields.items():
            con.execute(f"UPDATE submissions SET {k} = ? WHERE id = ?", [v, sub_id])


def test_each_recorded_difference_is_named_first(ready, tmp_path):
    row = pipeline.submit("titanic", write(tmp_path / "r.py", RANDOM), "ann", log=lambda *_: None)
    assert row["status"] == "scored", row["error"]
    sub = row["id"]

    tamper(sub, seed=7)  # recorded with another seed than the run had
    res = pipeline.reproduce(sub)
    assert not res["identical"]
    assert res["differences"][0] == {"what": "seed", "original": 42, "now": 7}
    assert res["verdict"] == "most likely cause: seed (42 then, 7 now)"
    assert res["predictions"]["rows"] == 418 and res["predictions"]["changed"] > 100
    tamper(sub, seed=42)

    versions = {**row["versions"], "numpy": "1.0.0"}
    tamper(sub, versions=json.dumps(versions), predictions_sha256="0" * 64)
    res = pipeline.reproduce(sub)
    assert res["differences"][0]["what"] == "numpy version"
    assert res["differences"][0]["original"] == "1.0.0"
    assert res["predictions"]["changed"] == 0  # the same predictions as the first run's file

    tamper(sub, versions=json.dumps(row["versions"]), harness_git="0123abc+dirty")
    code, out = cli_json("reproduce", str(sub), home=ready)
    assert code == 1 and out["differences"][0]["what"] == "harness commit"
    assert out["differences"][0]["original"] == "0123abc+dirty"
    assert set(out["differences"][0]) == {"what", "original", "now"}
    stored = submissions.submission(sub)["reproductions"]
    assert [r["differences"][0]["what"] for r in stored] == [
        "seed",
        "numpy version",
        "harness commit",
    ]


def test_nothing_recorded_differs_but_the_predictions_do(ready, tmp_path):
    row = pipeline.submit("titanic", write(tmp_path / "r.py", RANDOM), "ann", log=lambda *_: None)
    # as if that run had drawn other numbers with everything recorded the same
    preds = Path(row["run_dir"]) / "out" / "predictions.csv"
    frame = pd.read_csv(preds)
    frame["Survived"] = 1 - frame["Survived"]
    frame.to_csv(preds, index=False)
    tamper(row["id"], predictions_sha256="0" * 64)
    res = pipeline.reproduce(row["id"])
    assert not res["identical"] and res["differences"] == []
    assert res["predictions"] == {"rows": 418, "changed": 418}
    assert res["verdict"].startswith(
        "nothing recorded differs, yet the predictions do: the run is not deterministic on "
        "this device (cpu)"
    )

    frame["Survived"] = 1 - frame["Survived"]  # the file as the run wrote it
    frame.to_csv(preds, index=False)
    res = pipeline.reproduce(row["id"])
    assert res["verdict"].endswith("the record was changed")


TORCH_RULE = (
    "import torch\n"
    "def fit_predict(train, valid, test):\n"
    "    return torch.tensor(test['Sex'].eq('female').to_numpy()).int().numpy()\n"
)


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86-64's instruction sets")
def test_another_cpus_instruction_set_is_named_first(ready, tmp_path, monkeypatch):
    # caps on torch's kernels and oneDNN's stand for an older CPU: the run records them
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    row = pipeline.submit("titanic", write(tmp_path / "t.py", TORCH_RULE), "ann")
    assert row["status"] == "scored", row["error"]
    said = row["reported"]["versions"]
    assert said["cpu_capability"] == "DEFAULT" and said["cpu"] == row["versions"]["cpu"]
    assert said["onednn"] and said["blas"] and said["interop_threads"] >= 1
    assert said["numerics_caps"] == "ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=AVX2"
    assert "avx2" in said["cpu_features"].split()
    shown = dict(records.reported_facts(submissions.submission(row["id"])))  # `harness show`
    assert shown["CPU instruction set"] == "DEFAULT" and shown["CPU"] == said["cpu"]
    for cap in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA"):  # the machine's own again
        monkeypatch.delenv(cap)
    res = pipeline.reproduce(row["id"])
    first, second = res["differences"][:2]
    assert first["what"] == "CPU instruction set (torch's kernels)", res["differences"]
    assert first["original"] == "DEFAULT" and first["now"] in ("AVX2", "AVX512")
    assert second["what"].startswith("numerics caps") and second["now"] == "none"
    assert len(res["differences"]) == 2  # nothing else moved


# an older machine's kernels: torch's, oneDNN's, MKL's (not strict), OpenBLAS's and
# numpy's capped to AVX2
OLDER = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"}
OLDER |= {"OPENBLAS_CORETYPE": "Haswell", "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL"}


def on_machine(monkeypatch, comp: str, path: Path, older: bool, portable: bool) -> dict:
    """A scored CPU run of `path` on the newer machine (this one, torch's threads) or the
    older (OLDER's caps, one thread for the run), with portable numerics or not."""
    for cap, value in OLDER.items():
        if older:
            monkeypatch.setenv(cap, value)
        else:
            monkeypatch.delenv(cap, raising=False)
    row = pipeline.submit(
        comp,
        path,
        "ann",
        limits=pipeline.Limits(portable=portable, device="cpu"),
        log=lambda *_: None,
        executor=LocalExecutor(threads=1 if older else None),
    )
    assert row["status"] == "scored", row["error"]
    return row


# a convolution over the ratings' ids (oneDNN's kernels, whose sums depend on the ISA),
# long sums (torch's reduction, one part per thread: their bits depend on the threads) and
# numpy's float64 exp (its AVX-512 loop rounds otherwise than its AVX2 one)
CONV = """
import numpy as np
import torch


def fit_predict(train, valid, test):
    conv = torch.nn.Conv2d(1, 16, 3, padding=1)
    ids = np.stack([test.user.to_numpy(), test.movie.to_numpy()], 1).astype("float32")
    x = torch.tensor(ids / ids.max(0)).reshape(-1, 1, 1, 2).repeat(1, 1, 8, 4)
    with torch.no_grad():
        convs = conv(x).mean((1, 2, 3)).double().numpy()
        # eight long sums, about 1e3 each: their last bits are the threads' (one may agree)
        total = sum(float(torch.randn(1_000_000).sum()) for _ in range(8))
    curve = np.exp(ids[:, 0].astype("float64") / ids[:, 0].max())  # numpy's float64 exp
    # the exp's last bits as they are (times 2 is exact), the others far above its rounding
    return curve * 2 + (convs + total * 1e-6) * 1e-3
"""


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86-64's instruction sets")
def test_portable_numerics_give_two_cpus_the_same_bits(ready, tmp_path, monkeypatch):
    # two machines, as the same one with and without a cap on oneDNN's instruction set,
    # the older one with fewer cores (a run there gets one thread natively, here torch's
    # one per core)
    path = write(tmp_path / "conv.py", CONV)

    def run(older: bool, portable: bool) -> dict:
        return on_machine(monkeypatch, "movielens", path, older, portable)

    native = [run(older, False) for older in (False, True)]
    # each machine's fastest kernels and its threads round differently
    assert native[0]["predictions_sha256"] != native[1]["predictions_sha256"]
    assert native[1]["reported"]["versions"]["torch_threads"] == 1
    b = run(True, True)  # portably on the older machine
    assert b["predictions_sha256"] not in {r["predictions_sha256"] for r in native}
    said = b["reported"]["versions"]
    assert said["numerics"] == "portable" and said["torch_threads"] == PORTABLE_THREADS
    assert said["numerics_caps"] == " ".join(f"{k}={v}" for k, v in PORTABLE.items())
    assert f"portable numerics (AVX2 kernels, MKL strict, {PORTABLE_THREADS} threads)" in b["log"]
    for cap in OLDER:  # reproduced on the newer machine, portably as it was recorded
        monkeypatch.delenv(cap)
    again = pipeline.reproduce(b["id"])
    assert again["identical"] is True, again["differences"]  # the same bits on both
    # what a reproduction of the older machine's native run on the newer one finds (the
    # newer's own run is that reproduction): the ISA, the caps, the threads, nothing else
    older = submissions.submission(native[1]["id"])
    found = recorded_differences(older, native[0], older["seed"], older["data_fingerprint"])
    assert [d["what"] for d in found] == [
        "CPU instruction set (torch's kernels)",
        "numerics caps (the kernels' instruction sets)",
        "torch threads",
    ]


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86-64's instruction sets")
@pytest.mark.parametrize(
    ("comp", "baseline"), [("mnist", "simple_cnn.py"), ("movielens", "collab_nn.py")]
)
def test_a_course_baseline_has_the_same_bits_on_two_cpus_portably(
    ready, monkeypatch, comp, baseline
):
    # the course's own baselines, as the suite's small conv above: an older machine is
    # this one capped to AVX2 with one core for the run; natively the two differ
    path = submissions_dir() / comp / baseline

    def run(older: bool, portable: bool) -> dict:
        return on_machine(monkeypatch, comp, path, older, portable)

    newer, older = run(False, False), run(True, False)
    assert newer["predictions_sha256"] != older["predictions_sha256"]
    a, b = run(False, True), run(True, True)
    assert a["predictions_sha256"] == b["predictions_sha256"]
    assert (a["public_score"], a["private_score"]) == (b["public_score"], b["private_score"])
