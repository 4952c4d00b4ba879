"""What one submission changed against another: their predictions on the public part of
the hidden test, row by row (`harness diff A B`, the app's Compare page).

Only the public rows are compared, before and after the reveal alike, and only counts
and summaries come out: nothing per row beyond the two predictions themselves, so the
comparison tells no more about the hidden labels than the two public scores do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.competition import data, registry
from harness.errors import UsageError
from harness.store import submissions

TOP = 10  # rows, users or movies listed where the error moved most


def predictions_of(row: dict) -> Path:
    """A scored submission's predictions file in its run folder."""
    run = Path(row["run_dir"])
    return run / "out" / "predictions.csv" if row["kind"] == "code" else run / row["filename"]


def _scored(sub_id: int) -> dict:
    row = submissions.submission(sub_id)
    if row is None:
        raise UsageError(f"no submission with id {sub_id}")
    if row["status"] != "scored":
        raise UsageError(f"submission {sub_id} is {row['status']}: only scored ones compare")
    return row


def prediction_diff(a_id: int, b_id: int) -> dict:
    """Submission b against submission a on the public rows.

    Returns:
        a, b, competition, metric, rows (public), scores {a, b}, changed (rows whose
        prediction differs); for a classification: wrong_to_right, right_to_wrong,
        flips (per true class) and per_class (accuracy of a and b); for a regression:
        error (quantiles of |error| of a and b) and moved_most (rows); for MovieLens
        also users and movies whose mean |error| moved most.

    Raises:
        UsageError: no such submission, not scored, or another competition or data.
    """
    a, b = _scored(a_id), _scored(b_id)
    if (a["competition"], a["data_fingerprint"]) != (b["competition"], b["data_fingerprint"]):
        raise UsageError(
            f"submissions {a_id} and {b_id} were scored on different data "
            f"({a['competition']} {a['data_fingerprint'][:12]}, "
            f"{b['competition']} {b['data_fingerprint'][:12]}): nothing to compare row by row"
        )
    comp = registry.get(a["competition"])
    prepared = data.by_fingerprint(comp, a["data_fingerprint"])
    if prepared is None:
        raise UsageError(
            f"the data both were scored on ({a['data_fingerprint'][:12]}) is no longer on disk"
        )
    fmt = comp.spec.submission
    labels = prepared.test_labels()
    labels = labels[labels["Usage"] == "Public"][[fmt.id_col, fmt.target]]
    frame = labels.rename(columns={fmt.target: "truth"})
    for key, row in (("a", a), ("b", b)):
        preds = pd.read_csv(predictions_of(row))[[fmt.id_col, fmt.target]]
        frame = frame.merge(preds.rename(columns={fmt.target: key}), on=fmt.id_col)
    out = {
        "a": a_id,
        "b": b_id,
        "competition": comp.name,
        "metric": comp.spec.metric,
        "rows": len(frame),
        "scores": {"a": a["public_score"], "b": b["public_score"]},
        "changed": int((frame["a"] != frame["b"]).sum()),
    }
    if fmt.allowed is not None or fmt.kind == "label":
        out.update(_classification(frame))
    else:
        out.update(_regression(frame, fmt.id_col))
        if comp.name == "movielens":
            test = prepared.load("test")[[fmt.id_col, "user", "movie"]]
            out.update(_who_moved(frame.merge(test, on=fmt.id_col)))
    return out


def _classification(f: pd.DataFrame) -> dict:
    right_a, right_b = f["a"] == f["truth"], f["b"] == f["truth"]
    flips, per_class = [], []
    for label, g in f.groupby("truth", sort=True):
        ra, rb = g["a"] == g["truth"], g["b"] == g["truth"]
        per_class.append(
            {
                "label": _plain(label),
                "rows": len(g),
                "a_accuracy": float(ra.mean()),
                "b_accuracy": float(rb.mean()),
            }
        )
        w2r, r2w = int((~ra & rb).sum()), int((ra & ~rb).sum())
        if w2r or r2w:
            flips.append({"label": _plain(label), "wrong_to_right": w2r, "right_to_wrong": r2w})
    return {
        "wrong_to_right": int((~right_a & right_b).sum()),
        "right_to_wrong": int((right_a & ~right_b).sum()),
        "wrong_to_other_wrong": int((~right_a & ~right_b & (f["a"] != f["b"])).sum()),
        "flips": flips,
        "per_class": per_class,
    }


def _quantiles(err: pd.Series) -> dict:
    q = np.quantile(err, [0.5, 0.9, 0.99])
    return {"mean": float(err.mean()), "p50": float(q[0]), "p90": float(q[1]), "p99": float(q[2])}


def _regression(f: pd.DataFrame, id_col: str) -> dict:
    err_a, err_b = (f["a"] - f["truth"]).abs(), (f["b"] - f["truth"]).abs()
    move = (f["b"] - f["a"]).abs()
    top = f.assign(change=move).nlargest(TOP, "change")
    return {
        "error": {"a": _quantiles(err_a), "b": _quantiles(err_b)},
        "better": int((err_b < err_a).sum()),
        "worse": int((err_b > err_a).sum()),
        "moved_most": [
            {"id": _plain(r[id_col]), "a": float(r["a"]), "b": float(r["b"])}
            for _, r in top.iterrows()
        ],
    }


def _who_moved(f: pd.DataFrame) -> dict:
    f = f.assign(delta=(f["b"] - f["truth"]).abs() - (f["a"] - f["truth"]).abs())
    out = {}
    for col, key in (("user", "users"), ("movie", "movies")):
        g = f.groupby(col)["delta"].agg(["mean", "size"]).reset_index()
        g = g.reindex(g["mean"].abs().sort_values(ascending=False).index).head(TOP)
        out[key] = [
            {col: _plain(r[col]), "rows": int(r["size"]), "error_change": float(r["mean"])}
            for _, r in g.iterrows()
        ]
    return out


def _plain(v):
    """numpy scalars as plain Python values (for JSON)."""
    return v.item() if hasattr(v, "item") else v
