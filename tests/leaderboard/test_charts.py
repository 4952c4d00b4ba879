"""The chart data: timing of each submission and the epochs in long form."""

import json

import pandas as pd

from leaderboard import charts

POINTS = pd.DataFrame(
    [
        # submission_id, user, filename, arch, parameters, message, score, seconds_per_epoch,
        # train_seconds
        (1, "ann", "resnet.py", "resnet34", 21_300_000, None, 0.05, 31.5, 400.0),
        (2, "bob", "rule.py", None, None, "hi", 0.20, None, 0.01),
        (3, "cat", "p.csv", None, None, None, 0.30, None, None),  # a CSV: never trained
    ],
    columns=[
        "submission_id",
        "user",
        "filename",
        "arch",
        "parameters",
        "message",
        "score",
        "seconds_per_epoch",
        "train_seconds",
    ],
)


def test_seconds_per_epoch_where_logged_else_the_whole_run():
    df = charts.timing(POINTS).set_index("submission_id")
    assert df.loc[1, ["seconds", "timing", "model"]].tolist() == [31.5, "per epoch", "resnet34"]
    assert df.loc[2, ["seconds", "timing", "model"]].tolist() == [0.01, "whole run", "rule.py"]
    assert 3 not in df.index


def test_score_vs_time_hovers_user_and_model():
    spec = charts.score_vs_time(POINTS, "error_rate").to_dict()
    tips = [t["field"] for t in spec["encoding"]["tooltip"]]
    assert {"user", "model", "filename", "parameters", "score", "seconds"} <= set(tips)
    assert spec["encoding"]["x"]["scale"]["type"] == "log"
    assert charts.score_vs_time(POINTS.iloc[:0], "error_rate").to_dict()  # no points: a chart


def test_epochs_count_across_fits_and_keep_metrics_apart():
    epochs = [
        {"fit": 1, "epoch": 0, "train_loss": 0.9, "valid_loss": 0.8, "metrics": {"acc": 0.5}},
        {"fit": 2, "epoch": 0, "train_loss": 0.7, "valid_loss": None, "metrics": {}},
    ]
    df = charts.epochs_frame(epochs)
    assert df[["step", "series", "value", "kind"]].values.tolist() == [
        [1, "train_loss", 0.9, "loss"],
        [1, "valid_loss", 0.8, "loss"],
        [1, "acc", 0.5, "metric"],
        [2, "train_loss", 0.7, "loss"],
    ]
    assert charts.epochs_frame([]).empty
    both = pd.concat([df.assign(submission="#1"), df.assign(submission="#2")])
    spec = json.loads(charts.losses(both, by="submission").to_json())
    assert spec["encoding"]["color"]["field"] == "submission"
    assert spec["encoding"]["strokeDash"]["field"] == "series"
