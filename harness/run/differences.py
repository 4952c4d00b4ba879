"""Why a reproduction disagrees: what differs between the recorded run and the re-run,
most likely cause first, and how far the predictions moved."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from harness.run.repro import git_hash

# the libraries whose versions change what a model computes, in the order people suspect them
LIBRARIES = ("torch", "cuda", "cudnn", "fastai", "timm", "numpy", "torchvision", "fastcore")
LIBRARIES += ("pandas", "scikit-learn", "python")
# what the run's machine computed with (harness.run.repro.numerics), most telling first
NUMERICS = (
    ("cpu_capability", "CPU instruction set (torch's kernels)"),
    ("numerics_caps", "numerics caps (the kernels' instruction sets)"),
    ("torch_threads", "torch threads"),  # sums are cut in one part per thread
    ("cpu_features", "CPU vector units"),
    ("cpu", "CPU"),
    ("gpu_capability", "GPU compute capability"),
    ("onednn", "oneDNN version"),
    ("blas", "BLAS"),
)
NOT_DETERMINISTIC = (
    "nothing recorded differs, yet the predictions do: the run is not deterministic on this "
    "device ({device}). What makes it so: the same seed (the harness sets it), "
    "torch.use_deterministic_algorithms(True), cudnn.deterministic=True and "
    "cudnn.benchmark=False (the harness sets both), CUBLAS_WORKSPACE_CONFIG=:4096:8 "
    "(set), DataLoader(num_workers=0) or seeded workers, and no time- or order-dependent "
    "code of the submission's own (threads, sets of objects, the clock)"
)


def _job(run_dir: str | None) -> dict:
    """What the original run was actually started with (its job.json), if still on disk."""
    try:
        return json.loads((Path(run_dir) / "job.json").read_text())
    except (OSError, TypeError, ValueError):
        return {}


def recorded_differences(row: dict, new: dict, seed: int, fingerprint: str) -> list[dict]:
    """What differs between a stored run and its re-run, most likely cause first.

    Args:
        row: the stored submission (`submissions.submission`).
        new: the re-run's fields (`pipeline.run_code`).
        seed: the seed the re-run used.
        fingerprint: the fingerprint of the data the re-run was given.

    Returns:
        [{"what", "original", "now"}, ...].
    """
    out = []

    def differ(what: str, original, now) -> None:
        if original != now:
            out.append({"what": what, "original": original, "now": now})

    job = _job(row.get("run_dir"))
    content = (row.get("content") or "").encode()
    differ("submission file (sha256)", row["file_sha256"], hashlib.sha256(content).hexdigest())
    differ("seed", job.get("seed", row["seed"]), seed)
    differ("data fingerprint", row["data_fingerprint"], fingerprint)
    # what the runs said of themselves (weights loaded, torch's threads), beside what the
    # host recorded (versions installed, device, GPU); a row from before `reported` had
    # them all in its versions
    said, says = row.get("reported") or {}, new.get("reported") or {}
    out += weights_differences(said.get("weights", row.get("weights")), says.get("weights"))
    before, after = row.get("versions") or {}, new.get("versions") or {}
    seen, sees = said.get("versions") or before, says.get("versions") or {}
    # another machine's CPU: the same code and libraries take other kernels (AVX-512 or
    # AVX2, AMX or not), whose sums round differently; named before the libraries
    for key, what in NUMERICS:
        original = seen.get(key) or before.get(key)
        if original is not None:  # a run recorded before the harness asked says nothing
            differ(what, original, sees.get(key) or after.get(key))
    for lib in LIBRARIES:
        differ(f"{lib} version", before.get(lib), after.get(lib))
    differ("device", row["device"], new["device"])
    differ("GPU", row.get("gpu") or before.get("gpu"), new.get("gpu"))
    differ("harness commit", row.get("harness_git"), git_hash())
    differ("platform", before.get("platform"), after.get("platform"))
    return out


def weights_differences(then: list[dict] | None, now: list[dict] | None) -> list[dict]:
    """Each pretrained weights file loaded then or now whose content differs (or that only
    one of the runs loaded), named by model, library and file; none where the recorded run
    predates the record of weights (None)."""
    if then is None:
        return []
    before = {w["file"]: w for w in then}
    after = {w["file"]: w for w in now or []}
    out = []
    for file in [*before, *(f for f in after if f not in before)]:
        a, b = before.get(file), after.get(file)
        original = a["sha256"] if a else "not loaded"
        current = b["sha256"] if b else "not loaded"
        if original != current:
            w = a or b
            what = f"pretrained weights {w['name']} ({w['library']}: {Path(file).name}), sha256"
            out.append({"what": what, "original": original, "now": current})
    return out


def moved(original_run: str | None, new_run: Path, id_col: str) -> dict:
    """How many predictions changed between two runs' predictions.csv (None if unreadable)."""
    try:
        a = pd.read_csv(Path(original_run) / "out" / "predictions.csv")
        b = pd.read_csv(new_run / "out" / "predictions.csv")
    except (OSError, TypeError, ValueError):
        return {"rows": None, "changed": None}
    both = a.merge(b, on=id_col, suffixes=("_a", "_b"))
    target = [c for c in a.columns if c != id_col][0]
    x, y = both[f"{target}_a"], both[f"{target}_b"]
    changed = int((x != y).sum())
    return {"rows": len(both), "changed": changed}


def explain(
    row: dict, new: dict, seed: int, fingerprint: str, identical: bool, id_col: str
) -> dict:
    """differences, predictions (rows, changed), score_moved and a verdict in words."""
    differences = recorded_differences(row, new, seed, fingerprint)
    preds = moved(row.get("run_dir"), Path(new["run_dir"]), id_col)
    score_moved = (
        new["public_score"] - row["public_score"]
        if new.get("public_score") is not None and row.get("public_score") is not None
        else None
    )
    if identical:
        verdict = "identical: the same predictions, to the byte"
    elif new["status"] != "scored":
        verdict = f"the re-run {new['status']}: {new.get('error')}"
    elif preds["changed"] == 0 and not differences:
        verdict = (
            "the re-run's predictions equal the recorded run's file, but not what was "
            "recorded of it (its fingerprint or scores): the record was changed"
        )
    elif differences:
        d = differences[0]
        verdict = f"most likely cause: {d['what']} ({d['original']} then, {d['now']} now)"
    else:
        verdict = NOT_DETERMINISTIC.format(device=new["device"])
    return {
        "differences": differences,
        "predictions": preds,
        "score_moved": score_moved,
        "verdict": verdict,
    }
