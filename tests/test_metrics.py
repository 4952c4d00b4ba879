"""Metrics: hand-computed values, directions, and the errors they raise."""

import math

import numpy as np
import pandas as pd
import pytest

from harness.metrics import METRICS, Metric, get_metric

FLOAT_METRICS = ["mse", "rmse", "mae", "rmspe"]


@pytest.mark.parametrize(
    "name, y_true, y_pred, expected",
    [
        # 3 of 4 equal
        ("accuracy", [0, 1, 1, 0], [0, 1, 0, 0], 0.75),
        # string labels: "cat" and "dog" match, "cow" != "pig": 2/3
        ("accuracy", ["cat", "dog", "cow"], ["cat", "dog", "pig"], 2 / 3),
        # 1 - 3/4
        ("error_rate", [0, 1, 1, 0], [0, 1, 0, 0], 0.25),
        # errors 1, -2, 0 -> squares 1, 4, 0 -> mean 5/3
        ("mse", [1.0, 2.0, 3.0], [2.0, 0.0, 3.0], 5 / 3),
        # sqrt(5/3)
        ("rmse", [1.0, 2.0, 3.0], [2.0, 0.0, 3.0], math.sqrt(5 / 3)),
        # |1| + |-2| + |0| = 3 -> mean 1
        ("mae", [1.0, 2.0, 3.0], [2.0, 0.0, 3.0], 1.0),
        # middle row (y=0) ignored: errors (100-110)/100=-0.1 and (50-40)/50=0.2
        # -> sqrt((0.01 + 0.04) / 2) = sqrt(0.025) = 0.158113883...
        ("rmspe", [100, 0, 50], [110, 5, 40], 0.158113883008419),
        # no zeros: (10-5)/10=0.5, (20-20)/20=0 -> sqrt(0.25/2) = 0.353553390...
        ("rmspe", [10.0, 20.0], [5.0, 20.0], 0.353553390593274),
    ],
)
def test_hand_computed_values(name, y_true, y_pred, expected):
    score = get_metric(name)(y_true, y_pred)
    assert isinstance(score, float)
    assert score == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "name, higher",
    [
        ("accuracy", True),
        ("error_rate", False),
        ("mse", False),
        ("rmse", False),
        ("mae", False),
        ("rmspe", False),
    ],
)
def test_direction(name, higher):
    m = get_metric(name)
    assert m.higher_is_better is higher
    assert m.is_better(0.9, 0.1) is higher
    assert m.is_better(0.1, 0.9) is not higher
    assert not m.is_better(0.5, 0.5)  # a tie is not an improvement


def test_every_metric_is_registered_under_its_name_with_a_one_line_description():
    assert set(METRICS) == {"accuracy", "error_rate", "mse", "rmse", "mae", "rmspe"}
    for name, m in METRICS.items():
        assert isinstance(m, Metric) and m.name == name
        assert m.description and "\n" not in m.description


@pytest.mark.parametrize("name", sorted(METRICS))
def test_perfect_predictions_score_the_best_value(name):
    y = np.array([3.0, 1.0, 4.0, 1.0, 5.0])
    assert get_metric(name)(y, y.copy()) == (1.0 if name == "accuracy" else 0.0)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_a_perfect_score_beats_an_imperfect_one(name):
    m = get_metric(name)
    y = np.array([3.0, 1.0, 4.0, 1.0, 5.0])
    assert m.is_better(m(y, y), m(y, y + 1))


def test_inputs_are_flattened_and_pandas_is_accepted():
    m = get_metric("mae")
    # (2,1) column vs flat list: |1-2| + |3-3| = 1 -> mean 0.5
    assert m(np.array([[1.0], [3.0]]), [2.0, 3.0]) == 0.5
    assert m(pd.Series([1.0, 3.0]), pd.Series([2.0, 3.0], index=[7, 8])) == 0.5
    assert get_metric("accuracy")(pd.Series(["a", "b"], dtype="string"), ["a", "c"]) == 0.5


@pytest.mark.parametrize("name", sorted(METRICS))
def test_length_mismatch_is_an_error(name):
    with pytest.raises(ValueError, match="3 values but y_pred has 2"):
        get_metric(name)([1.0, 2.0, 3.0], [1.0, 2.0])


@pytest.mark.parametrize("name", sorted(METRICS))
def test_empty_inputs_are_an_error(name):
    with pytest.raises(ValueError, match="empty"):
        get_metric(name)([], [])


@pytest.mark.parametrize("name", FLOAT_METRICS)
def test_nan_predictions_are_an_error_that_counts_them(name):
    with pytest.raises(ValueError, match="y_pred contains 2 NaN values"):
        get_metric(name)([1.0, 2.0, 3.0], [np.nan, 2.0, np.nan])
    with pytest.raises(ValueError, match="y_pred contains 1 NaN value$"):
        get_metric(name)([1.0, 2.0], [None, 2.0])


def test_non_numeric_input_to_a_float_metric_is_an_error():
    with pytest.raises(ValueError, match="numeric"):
        get_metric("mse")([1.0, 2.0], ["a", "b"])


def test_rmspe_with_every_target_zero_is_an_error():
    with pytest.raises(ValueError, match="every y_true value is 0"):
        get_metric("rmspe")([0, 0, 0], [1, 2, 3])


def test_unknown_metric_suggests_the_close_name():
    with pytest.raises(KeyError) as e:
        get_metric("acuracy")
    assert e.value.args[0] == "Unknown metric 'acuracy'. Did you mean: accuracy?"
    with pytest.raises(KeyError, match="Did you mean: rmse"):
        get_metric("RMSE")


def test_unknown_metric_with_nothing_close_lists_the_known_ones():
    with pytest.raises(KeyError) as e:
        get_metric("auc")
    msg = e.value.args[0]
    assert msg.startswith("Unknown metric 'auc'. Known metrics: ")
    assert all(name in msg for name in METRICS)
