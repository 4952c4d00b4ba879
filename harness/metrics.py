"""Competition metrics: pure functions of (y_true, y_pred), each with a declared direction.

A competition names its metric in `Spec.metric`; the leaderboard sorts by the metric's
direction and shows its one-line description. Every metric takes two equal-length, non-empty
1-D arrays (anything `np.asarray` accepts; extra dimensions are flattened) and returns a float.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Metric:
    """A named scoring function and the direction in which scores improve.

    Attributes:
        name: the key in `METRICS`, e.g. "accuracy".
        fn: the raw function of two 1-D numpy arrays; call the Metric itself, which checks
            its inputs first.
        higher_is_better: True for accuracy-like scores, False for errors and losses.
        description: one line for the leaderboard: what it computes, inputs and edge cases.
    """

    name: str
    fn: Callable[[np.ndarray, np.ndarray], float]
    higher_is_better: bool
    description: str

    def __call__(self, y_true, y_pred) -> float:
        """Scores predictions against the truth.

        Args:
            y_true: the true targets, array-like; flattened to 1-D.
            y_pred: the predictions, array-like of the same length; flattened to 1-D.

        Returns:
            The score as a Python float.

        Raises:
            ValueError: the lengths differ, the inputs are empty, or the metric rejects the
                values (NaN in a float metric, all-zero targets for rmspe).
        """
        y_true = np.asarray(y_true).ravel()
        y_pred = np.asarray(y_pred).ravel()
        if len(y_true) != len(y_pred):
            raise ValueError(
                f"{self.name}: y_true has {len(y_true)} values but y_pred has {len(y_pred)}"
            )
        if len(y_true) == 0:
            raise ValueError(f"{self.name}: cannot score empty inputs")
        return float(self.fn(y_true, y_pred))

    def is_better(self, a: float, b: float) -> bool:
        """Whether score `a` is strictly better than score `b` under this metric's direction.

        Args:
            a: the candidate score.
            b: the score to beat.

        Returns:
            True when `a` beats `b`; False on a tie (or when either is NaN).
        """
        return a > b if self.higher_is_better else a < b

    @property
    def sign(self) -> float:
        """-1 or 1: sorting ascending on `sign * score` puts the best score first."""
        return -1.0 if self.higher_is_better else 1.0

    @property
    def better(self) -> str:
        """ "higher" or "lower", as in "accuracy (higher is better)"."""
        return "higher" if self.higher_is_better else "lower"


def _floats(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as float64, refusing non-numeric values and NaN."""
    out = []
    for what, arr in (("y_true", y_true), ("y_pred", y_pred)):
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{what} must be numeric for this metric: {e}") from None
        n_nan = int(np.isnan(arr).sum())
        if n_nan:
            # NaN would silently turn the whole score into NaN, which sorts unpredictably
            raise ValueError(f"{what} contains {n_nan} NaN value{'s' if n_nan != 1 else ''}")
        out.append(arr)
    return out[0], out[1]


def _accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of exactly equal labels."""
    return float(np.mean(y_true == y_pred))


def _error_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """1 - accuracy."""
    return 1.0 - _accuracy(y_true, y_pred)


def _mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean squared error."""
    y, yhat = _floats(y_true, y_pred)
    return float(np.mean((y - yhat) ** 2))


def _rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error."""
    return float(np.sqrt(_mse(y_true, y_pred)))


def _mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean absolute error."""
    y, yhat = _floats(y_true, y_pred)
    return float(np.mean(np.abs(y - yhat)))


def _rmspe(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared percentage error over rows whose true value is not 0."""
    y, yhat = _floats(y_true, y_pred)
    # Kaggle Rossmann: days with zero sales are ignored in scoring (the ratio is undefined)
    keep = y != 0
    if not keep.any():
        raise ValueError("rmspe: every y_true value is 0, so no row can be scored")
    y, yhat = y[keep], yhat[keep]
    return float(np.sqrt(np.mean(((y - yhat) / y) ** 2)))


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "accuracy",
            _accuracy,
            True,
            "fraction of predictions equal to the label; int or string labels, 1 is perfect",
        ),
        Metric(
            "error_rate",
            _error_rate,
            False,
            "1 - accuracy: fraction of predictions not equal to the label; 0 is perfect",
        ),
        Metric(
            "mse",
            _mse,
            False,
            "mean squared error of numeric predictions; NaN is an error; 0 is perfect",
        ),
        Metric(
            "rmse",
            _rmse,
            False,
            "root mean squared error of numeric predictions; NaN is an error; 0 is perfect",
        ),
        Metric(
            "mae",
            _mae,
            False,
            "mean absolute error of numeric predictions; NaN is an error; 0 is perfect",
        ),
        Metric(
            "rmspe",
            _rmspe,
            False,
            "root mean squared percentage error (Kaggle Rossmann); rows with y_true = 0 "
            "are ignored; 0 is perfect",
        ),
    )
}


def get_metric(name: str) -> Metric:
    """Looks a metric up by name.

    Args:
        name: a key of `METRICS`, e.g. "accuracy".

    Returns:
        The metric.

    Raises:
        KeyError: no metric has that name; the message suggests close names, or lists the
            known ones when none is close.
    """
    try:
        return METRICS[name]
    except KeyError:
        pass
    close = difflib.get_close_matches(str(name).lower(), list(METRICS))
    if close:
        hint = f"Did you mean: {', '.join(close)}?"
    else:
        hint = f"Known metrics: {', '.join(sorted(METRICS))}"
    raise KeyError(f"Unknown metric {name!r}. {hint}")
