"""The harness's own diagnostics of a run, drawn on the host after the run has ended.

The competition's report (a confusion matrix, the most confused pairs, the top losses)
is drawn here from the valid predictions the run handed in (`out/valid_predictions.csv`)
and the valid labels the host holds, never inside the run: a run beside the worker could
draw or overwrite them as it pleased. The drawn files take their names in the run's
artifacts folder; whatever the run left under those names, or any name a report draws,
goes. What the run draws itself (diagnose(learn, out), lr_find, its own tables) stays,
under its own names.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np
import pandas as pd

from harness.competition import artifacts, classification, data
from harness.competition.registry import Competition
from harness.run.output import Malformed, read_back
from harness.run.worker import VALID_RAW, valid_features
from harness.validate import SubmissionError, validate_csv

VALID_PREDICTIONS = "valid_predictions.csv"
RAW_CAP = 256 * 2**20  # bytes of the valid set's raw outputs read back
_drawing = threading.Lock()  # pyplot keeps global state: one report at a time


def valid_raw(path: Path, rows: int) -> np.ndarray | None:
    """The run's raw outputs on the valid set, (rows, k) finite numbers; None when absent
    or anything else (the top losses are then left out, as for a fit_predict)."""
    try:
        raw = read_back(path, RAW_CAP)
        if raw is None:
            return None
        arr = np.load(io.BytesIO(raw), allow_pickle=False)
    except (Malformed, OSError, ValueError, EOFError):
        return None
    ok = arr.dtype.kind in "biuf" and arr.ndim == 2 and len(arr) == rows
    return arr if ok and np.isfinite(arr).all() else None


def draw(comp: Competition, prepared: data.Prepared, run_dir: Path) -> str | None:
    """Draws the competition's report of a run into its artifacts folder; None when done
    (or when there is nothing to draw: no report, no valid predictions), else why not.

    Args:
        prepared: the data the run was given (its valid labels are the report's).
        run_dir: the ended run's folder (out/ and artifacts/ in it).
    """
    report = comp.hook("report")
    folder = run_dir / "artifacts"
    reserved = set(classification.REPORT_NAMES)
    if report is None:
        return _merge(folder, [], reserved)
    spec, path = comp.spec, run_dir / "out" / VALID_PREDICTIONS
    if path.is_symlink() or not path.is_file():
        return _merge(folder, [], reserved)
    valid = prepared.load("valid")
    features = valid_features(comp, valid, prepared.load("test"))
    try:
        preds = validate_csv(path, spec.submission, features[spec.id_col], name=path.name)
    except SubmissionError as e:
        _merge(folder, [], reserved)
        return f"its valid predictions: {e}"
    labels = pd.DataFrame(
        {spec.id_col: preds[spec.id_col], spec.target: valid[spec.train_target].to_numpy()}
    )
    raw = valid_raw(run_dir / "out" / VALID_RAW, len(valid))
    drawn = Path(tempfile.mkdtemp(prefix=".report-", dir=run_dir))
    try:
        with _drawing:
            report(features, labels, preds, raw, drawn)
        found = artifacts.read_index(drawn)
        return _merge(folder, found, reserved | {a["name"] for a in found})
    except Exception as e:  # a broken plot costs the run its report, nothing more
        _merge(folder, [], reserved)
        return " ".join(f"{type(e).__name__}: {e}".split())[:300]
    finally:
        shutil.rmtree(drawn, ignore_errors=True)


def _merge(folder: Path, drawn: list[dict], reserved: set[str]) -> str | None:
    """The host's drawn files into the run's artifacts folder, under their names, listed
    first; the run's entries and files of a reserved name go. A run's index that breaks
    the rules is left as it is: the record refuses it (its line is returned)."""
    if folder.is_symlink():
        return None  # refused with the run's output; nothing is written through a link
    try:
        theirs = artifacts.read_index(folder) if folder.is_dir() else []
    except artifacts.ArtifactError as e:
        return str(e)
    taken = {a["name"] for a in theirs} | {n for n in reserved if (folder / n).is_symlink()}
    taken |= {n for n in reserved if (folder / n).exists()}
    if not drawn and not taken & reserved:
        return None  # nothing of the host's, nothing in its place: the folder as it was
    folder.mkdir(exist_ok=True)
    for name in reserved:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists() or path.is_symlink():
            path.unlink()
    for a in drawn:
        os.replace(a["path"], folder / a["name"])
    kept = [*drawn, *(a for a in theirs if a["name"] not in reserved)]
    for a in kept[artifacts.MAX_ENTRIES :]:  # the host's come first: the run's last ones go
        (folder / a["name"]).unlink(missing_ok=True)
    kept = kept[: artifacts.MAX_ENTRIES]
    index = [{"name": a["name"], "kind": a["kind"], "title": a["title"]} for a in kept]
    part = folder / f".{artifacts.INDEX}.part"
    part.write_text(json.dumps(index, indent=1))
    part.replace(folder / artifacts.INDEX)
    return None
