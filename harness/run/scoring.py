"""The scorer: joins predictions with the hidden labels, in the harness's own process."""

from __future__ import annotations

import pandas as pd

from harness.competition.registry import Competition
from harness.metrics import Metric, get_metric


def score(
    comp: Competition, labels: pd.DataFrame, preds: pd.DataFrame, metric: Metric | None = None
) -> tuple[float, float]:
    """Public and private scores of validated predictions.

    Args:
        labels: the hidden test labels: id, target and Usage.
        preds: validated predictions with the id and target columns, one row per test id.
        metric: another metric than the competition's own (one of its `also` metrics).

    Returns:
        (public score, private score).
    """
    metric = metric or comp.metric
    spec = comp.spec
    merged = labels.merge(preds, on=spec.id_col, suffixes=("", "_pred"), validate="one_to_one")
    if len(merged) != len(labels):
        raise ValueError(f"predictions cover {len(merged)} of {len(labels)} test rows")
    public = (merged["Usage"] == "Public").to_numpy()
    y, yhat = merged[spec.target].to_numpy(), merged[f"{spec.target}_pred"].to_numpy()
    return metric(y[public], yhat[public]), metric(y[~public], yhat[~public])


def also_scores(comp: Competition, labels: pd.DataFrame, preds: pd.DataFrame) -> dict:
    """The competition's `also` metrics: {name: {"public": x, "private": y}}."""
    out = {}
    for name in comp.spec.also:
        public, private = score(comp, labels, preds, get_metric(name))
        out[name] = {"public": public, "private": private}
    return out
