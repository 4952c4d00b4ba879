"""What image competitions' reports share: class probabilities and the most confused pairs."""

from __future__ import annotations

import numpy as np
import pandas as pd


def probabilities(raw, n: int, classes: int) -> np.ndarray | None:
    """The model's outputs as class probabilities, (n, classes); None when not per class.

    fastai's get_preds applies the loss's activation (softmax for cross-entropy), so raw
    outputs are probabilities already; a loss without one leaves logits, softmaxed here.
    """
    if raw is None:
        return None
    raw = np.asarray(raw, dtype=np.float64)
    if raw.shape != (n, classes) or not np.isfinite(raw).all():
        return None
    if (raw >= 0).all() and np.allclose(raw.sum(axis=1), 1, atol=1e-3):
        return raw
    e = np.exp(raw - raw.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def most_confused(actual, predicted, top: int = 15) -> pd.DataFrame:
    """As fastai's ClassificationInterpretation.most_confused: (actual, predicted, count)
    of the mistakes, most frequent first, ties by actual then predicted."""
    pairs = pd.DataFrame({"actual": actual, "predicted": predicted})
    pairs = pairs[pairs.actual != pairs.predicted]
    counts = pairs.value_counts().rename("count").reset_index()
    counts = counts.sort_values(["count", "actual", "predicted"], ascending=[False, True, True])
    return counts.head(top).reset_index(drop=True)
