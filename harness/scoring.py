"""The scorer: joins predictions with the hidden labels, in the harness's own process."""

from __future__ import annotations

import pandas as pd

from harness.registry import Competition


def score(comp: Competition, labels: pd.DataFrame, preds: pd.DataFrame) -> tuple[float, float]:
    """Public and private scores of validated predictions.

    Args:
        labels: the hidden test labels: id, target and Usage.
        preds: validated predictions with the id and target columns, one row per test id.

    Returns:
        (public score, private score) under the competition's metric.
    """
    spec = comp.spec
    merged = labels.merge(preds, on=spec.id_col, suffixes=("", "_pred"), validate="one_to_one")
    if len(merged) != len(labels):
        raise ValueError(f"predictions cover {len(merged)} of {len(labels)} test rows")
    public = (merged["Usage"] == "Public").to_numpy()
    y, yhat = merged[spec.target].to_numpy(), merged[f"{spec.target}_pred"].to_numpy()
    return comp.metric(y[public], yhat[public]), comp.metric(y[~public], yhat[~public])
