"""Seeds and determinism: torch is seeded the moment a run imports it, and only then."""

import sys

from harness.run import pipeline, repro
from tests.conftest import write

PROBE = """
import sys

def fit_predict(train, valid, test):
    print("TORCH BEFORE", "torch" in sys.modules)
    {body}
    return (test["Sex"] == "female").astype(int)
"""


def probe(ready, tmp_path, name: str, body: str) -> dict:
    path = write(tmp_path / f"{name}.py", PROBE.format(body=body))
    row = pipeline.submit("titanic", path, name)
    assert row["status"] == "scored", row["error"]
    return row


def test_a_run_that_never_imports_torch_does_not_load_it(ready, tmp_path):
    row = probe(ready, tmp_path, "rule", "pass")
    assert "TORCH BEFORE False" in row["log"]
    assert row["device"] == "cpu" and row["reported"]["versions"]["torch_threads"] is None
    assert row["versions"]["torch"]  # the installed version is known all the same


def test_torch_imported_by_the_submission_is_seeded_and_deterministic(ready, tmp_path):
    body = 'import torch; print("DRAW", torch.rand(3).tolist(), torch.are_deterministic_algorithms_enabled())'
    rows = [probe(ready, tmp_path, f"draw{i}", body) for i in range(2)]
    draws = [next(x for x in r["log"].splitlines() if x.startswith("DRAW")) for r in rows]
    import torch

    torch.manual_seed(42)
    assert draws[0] == draws[1] == f"DRAW {torch.rand(3).tolist()} True"
    assert rows[0]["reported"]["versions"]["torch_threads"] >= 1


def test_after_import_runs_once_on_first_import_or_at_once(monkeypatch):
    seen = []
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    repro.after_import("colorsys", lambda m: seen.append(m.__name__))
    assert seen == []
    import colorsys  # noqa: F401
    import colorsys as again  # noqa: F401

    assert seen == ["colorsys"]
    repro.after_import("colorsys", lambda m: seen.append("now"))
    assert seen == ["colorsys", "now"]


def test_workers_wait_passively_when_other_work_wants_the_cores():
    import os
    import subprocess
    import sys
    import time

    from harness.run import repro

    hogs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(os.cpu_count() or 1)
    ]
    try:
        time.sleep(0.5)
        passive, why = repro.wait_policy()
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    assert passive and "sleep while waiting" in why
    assert repro.worker_env(1, passive=True)["OMP_WAIT_POLICY"] == "PASSIVE"
    assert "OMP_WAIT_POLICY" not in repro.worker_env(1, passive=False)
