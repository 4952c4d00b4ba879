"""The leaderboard's charts: Altair specs (Streamlit ships Altair) over plain DataFrames."""

from __future__ import annotations

import altair as alt
import pandas as pd

LOSSES = ("train_loss", "valid_loss")
EPOCH_COLUMNS = ["step", "fit", "epoch", "series", "value", "kind"]


def best_over_time(steps: pd.DataFrame, metric: str) -> alt.Chart:
    """Each user's best public score, stepping up (or down) at each improvement.

    Args:
        steps: `board.best_over_time` rows: user, submitted_at, best, submission_id.
    """
    return (
        alt.Chart(steps, title=f"Best public {metric} over time")
        .mark_line(interpolate="step-after", point=True)
        .encode(
            x=alt.X("submitted_at:T", title="submitted (UTC)"),
            y=alt.Y("best:Q", title=f"best public {metric}", scale=alt.Scale(zero=False)),
            color=alt.Color("user:N", title="user"),
            tooltip=[
                alt.Tooltip("user:N"),
                alt.Tooltip("best:Q", format=".5f", title=f"best {metric}"),
                alt.Tooltip("submitted_at:T", format="%Y-%m-%d %H:%M", title="submitted"),
                alt.Tooltip("submission_id:Q", title="submission"),
            ],
        )
    )


def timing(points: pd.DataFrame) -> pd.DataFrame:
    """Adds seconds (per epoch, else the whole run), timing and model; drops untimed rows."""
    cols = ["submission_id", "user", "filename", "arch", "parameters", "message", "score"]
    if points.empty:
        return pd.DataFrame(columns=[*cols, "seconds", "timing", "model"])
    per_epoch = points["seconds_per_epoch"].notna()
    out = points.assign(
        seconds=points["seconds_per_epoch"].where(per_epoch, points["train_seconds"]),
        timing=per_epoch.map({True: "per epoch", False: "whole run"}),
        model=points["arch"].where(points["arch"].notna(), points["filename"]),
    )
    return out[out["seconds"].notna()][[*cols, "seconds", "timing", "model"]]


def score_vs_time(points: pd.DataFrame, metric: str) -> alt.Chart:
    """Public score against training time, one point per submission, hover for who and what.

    Args:
        points: `board.score_vs_time` rows. Pets plots error rate against seconds per
            epoch for each architecture (CONFIG's "arch", else the one the worker
            recorded); any competition gets the same.
    """
    return (
        alt.Chart(timing(points), title=f"Public {metric} against training time")
        .mark_point(filled=True, size=70, opacity=0.8)
        .encode(
            x=alt.X(
                "seconds:Q", title="seconds per epoch (or per run)", scale=alt.Scale(type="log")
            ),
            y=alt.Y("score:Q", title=f"public {metric}", scale=alt.Scale(zero=False)),
            color=alt.Color("model:N", title="arch or file"),
            shape=alt.Shape("timing:N", title="time"),
            tooltip=[
                alt.Tooltip("user:N"),
                alt.Tooltip("model:N", title="arch or file"),
                alt.Tooltip("filename:N", title="file"),
                alt.Tooltip("parameters:Q", format=",d"),
                alt.Tooltip("score:Q", format=".5f", title=metric),
                alt.Tooltip("seconds:Q", format=".2f"),
                alt.Tooltip("timing:N", title="time"),
                alt.Tooltip("submission_id:Q", title="submission"),
            ],
        )
    )


def epochs_frame(epochs: list[dict]) -> pd.DataFrame:
    """The epochs table in long form: one row per (epoch, loss or metric); step counts across fits."""
    rows = []
    for step, e in enumerate(epochs, 1):
        values = [(k, e.get(k), "loss") for k in LOSSES]
        values += [(k, v, "metric") for k, v in (e.get("metrics") or {}).items()]
        rows += [
            (step, e["fit"], e["epoch"], name, v, kind) for name, v, kind in values if v is not None
        ]
    return pd.DataFrame(rows, columns=EPOCH_COLUMNS)


def losses(curves: pd.DataFrame, by: str | None = None) -> alt.Chart:
    """Training and validation loss per epoch; `by` colours several submissions on one chart."""
    if by is None:
        return _curves(curves, "loss", "Training and validation loss", color="series:N")
    return _curves(
        curves, "loss", "Training and validation loss", color=f"{by}:N", strokeDash="series:N"
    )


def metrics(curves: pd.DataFrame) -> alt.Chart:
    """The validation metrics fastai logged per epoch."""
    return _curves(curves, "metric", "Validation metrics", color="series:N")


def _curves(curves: pd.DataFrame, kind: str, title: str, **encodings) -> alt.Chart:
    df = curves[curves["kind"] == kind]
    tooltip = ["series:N", "fit:Q", "epoch:Q", alt.Tooltip("value:Q", format=".4f")]
    if "submission" in df:
        tooltip.insert(0, "submission:N")
    return (
        alt.Chart(df, title=title)
        .mark_line(point=True)
        .encode(
            x=alt.X("step:Q", title="epoch (counted across fits)", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y("value:Q", title=kind, scale=alt.Scale(zero=False)),
            tooltip=tooltip,
            **encodings,
        )
    )


def shake_up(rows: pd.DataFrame) -> alt.Chart:
    """Public rank to private rank, one line per member or team: the shake-up.

    Args:
        rows: `leaderboards.private_board` rows (user, public_rank, rank, moved).
    """
    long = pd.DataFrame(
        [
            (r.user, board, rank, r.moved)
            for r in rows.itertuples()
            for board, rank in (("public", r.public_rank), ("private", r.rank))
        ],
        columns=["user", "board", "rank", "moved"],
    )
    base = alt.Chart(long, title="Shake-up: public rank to private rank")
    encode = {
        "x": alt.X("board:N", sort=["public", "private"], title=None),
        "y": alt.Y(
            "rank:Q",
            scale=alt.Scale(reverse=True, zero=False),
            axis=alt.Axis(tickMinStep=1, format="d"),
            title="rank",
        ),
        "color": alt.Color("user:N", title="member or team"),
        "tooltip": [
            alt.Tooltip("user:N"),
            alt.Tooltip("board:N"),
            alt.Tooltip("rank:Q"),
            alt.Tooltip("moved:Q", title="places up (down < 0)"),
        ],
    }
    return base.mark_line(point=True).encode(detail="user:N", **encode)


def overfit(rows: pd.DataFrame, metric: str) -> alt.Chart:
    """Each one's counted submission scored on valid, public and private: who fitted the
    public board (a fall from public to private), who trusted their validation set.

    Args:
        rows: `leaderboards.private_board` rows (user, valid_score, public_score, score).
    """
    long = pd.DataFrame(
        [
            (r.user, part, value, r.submission_id)
            for r in rows.itertuples()
            for part, value in (
                ("valid", r.valid_score),
                ("public", r.public_score),
                ("private", r.score),
            )
            if value is not None and value == value
        ],
        columns=["user", "part", "score", "submission_id"],
    )
    return (
        alt.Chart(long, title=f"Valid, public and private {metric}")
        .mark_line(point=True)
        .encode(
            x=alt.X("part:N", sort=["valid", "public", "private"], title=None),
            y=alt.Y("score:Q", title=metric, scale=alt.Scale(zero=False)),
            color=alt.Color("user:N", title="member or team"),
            tooltip=[
                alt.Tooltip("user:N"),
                alt.Tooltip("part:N"),
                alt.Tooltip("score:Q", format=".5f", title=metric),
                alt.Tooltip("submission_id:Q", title="submission"),
            ],
        )
    )
