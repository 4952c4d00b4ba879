"""What a run decided for its author, and what it warns them about.

The process that runs a member's code (the worker) collects them here as the run goes:
the roles a tabular competition's DataLoaders gave the frame's columns, a continuous
column that is all NaN (or infinite) in train, a loss that went NaN. Each is logged as a
`[run]` line when it happens, and `collected()` hands them to the worker's
result.json (`warnings`, `decisions`), which the host checks (`output.check_result`)
and stores beside the score. Silent choices cost members runs: a column of NaN that
trains 16 epochs of `nan` loss and is scored without a word.
"""

from __future__ import annotations

import math

MAX_NAMES_SHOWN = 12  # columns named in one log line; the decisions keep every one

_warnings: list[str] = []
_decisions: dict[str, list[str]] = {}
# the losses of every epoch: the first one that was not finite, and how many were not
_losses = {"first": None, "bad": 0, "epochs": 0}


def warn(line: str) -> None:
    """A warning for the run's author: logged now, recorded once."""
    print(f"[run] warning: {line}", flush=True)
    if line not in _warnings:
        _warnings.append(line)


def epoch(fit: int, epoch: int, n_epoch: int, row: dict) -> None:
    """One epoch's values (`Progress`): a NaN or infinite loss is noted, the first logged."""
    _losses["epochs"] += 1
    bad = [
        k
        for k in ("train_loss", "valid_loss")
        if isinstance(row.get(k), float) and not math.isfinite(row[k])
    ]
    if not bad:
        return
    _losses["bad"] += 1
    if _losses["first"] is None:
        _losses["first"] = (fit, epoch, n_epoch, {k: row[k] for k in bad})
        what = ", ".join(f"{k} {row[k]}" for k in bad)
        print(f"[run] warning: {what} in fit {fit}, epoch {epoch + 1}", flush=True)


def _loss_warning() -> str | None:
    if _losses["first"] is None:
        return None
    fit, epoch, n_epoch, values = _losses["first"]
    which = {
        ("train_loss",): "the training loss",
        ("valid_loss",): "the valid loss",
        ("train_loss", "valid_loss"): "the training and valid losses",
    }[tuple(values)]
    went = " and ".join(dict.fromkeys(str(v) for v in values.values()))
    why = (
        "the model learned nothing from there; look for NaN or infinite inputs, or lower "
        "the learning rate"
        if "train_loss" in values
        else "look for NaN or infinite inputs in the valid set"
    )
    return (
        f"{which} went {went} in fit {fit}, epoch {epoch + 1} of {n_epoch} "
        f"({_losses['bad']} of {_losses['epochs']} epochs with a NaN or infinite loss): {why}"
    )


def collected() -> dict:
    """What the run decided and warns about, for result.json (empty fields left out)."""
    out: dict = {}
    warnings = [*_warnings, *filter(None, [_loss_warning()])]
    if warnings:
        out["warnings"] = warnings
    if _decisions:
        out["decisions"] = {k: list(v) for k, v in _decisions.items()}
    return out


def _names(columns) -> str:
    shown = ", ".join(columns[:MAX_NAMES_SHOWN])
    more = len(columns) - MAX_NAMES_SHOWN
    return shown + (f" and {more} more" if more > 0 else "") if columns else "none"


def tabular(dls, frame, target: str) -> None:
    """The roles a tabular competition's DataLoaders gave `frame`'s columns (the train
    frame they were built from, after the submission's features(df)), logged and
    recorded; a continuous column without a single value in train is warned about.

    DataLoaders of another kind (images) record nothing: their inputs have no columns
    to choose among.
    """
    from fastai.tabular.core import TabularPandas

    ds = getattr(dls, "train_ds", None)
    if not isinstance(ds, TabularPandas):
        return
    columns = [str(c) for c in frame.columns]
    targets = {str(t) for t in (*ds.y_names, target)}
    cat, cont = [str(c) for c in ds.cat_names], [str(c) for c in ds.cont_names]
    roles = {
        "categorical": [c for c in cat if c in columns],
        "continuous": [c for c in cont if c in columns],
    }
    # FillMissing's flags (Age_na) and any input the competition derives
    if added := [c for c in (*cat, *cont) if c not in columns]:
        roles["added"] = added
    roles["dropped"] = [c for c in columns if c not in {*cat, *cont, *targets}]
    roles["target"] = [str(t) for t in ds.y_names]
    _decisions.update(roles)
    for role, found in roles.items():
        why = {
            "dropped": " (neither categorical nor continuous: not an input)",
            "added": " (made by the DataLoaders: FillMissing flags a column's gaps)",
        }.get(role, "")
        print(f"[run] columns {role} ({len(found)}): {_names(found)}{why}", flush=True)
    by_name = {str(c): c for c in frame.columns}
    for name in roles["continuous"]:
        _check_continuous(frame[by_name[name]], name, ds)


def _check_continuous(col, name: str, ds) -> None:
    """A warning for a continuous input with no value at all, or with infinite ones."""
    import numpy as np
    import pandas as pd

    values = pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    if len(values) and np.isnan(values).all():
        after = ds.xs[name] if name in ds.xs else None
        if after is not None and after.isna().all():
            became = (
                "FillMissing has no median to fill it with, so the model's input stays NaN "
                "and so will every loss"
            )
        elif after is not None:
            became = f"the DataLoaders made it {after.iloc[0]:g} in every row: no information"
        else:
            became = "the DataLoaders left it out"
        warn(
            f"continuous column {name} is all NaN in train: {became}; fill it or drop it "
            "in features(df)"
        )
    elif (n := int(np.isinf(values).sum())) > 0:
        warn(
            f"continuous column {name} holds {n} infinite values in train: Normalize turns "
            "them (and the column's mean) into NaN, and every loss with them; replace them "
            "in features(df)"
        )
