"""Helpers for fastai tabular data, shared by competitions and the worker."""

from __future__ import annotations

import pandas as pd


def fill_unseen_gaps(train: pd.DataFrame, df: pd.DataFrame, cont_names, log=None) -> pd.DataFrame:
    """Fills gaps in `df`'s continuous columns that have none in `train`, with train medians.

    fastai's FillMissing learns fill values only for columns with gaps in the training
    split and refuses a valid or test set with gaps elsewhere (Titanic has one passenger
    without a fare); the course patched `tst_df` by hand, here it happens for everyone.
    """
    out = df
    for name in cont_names:
        if name not in df or train[name].isna().any() or not df[name].isna().any():
            continue
        value = train[name].median()
        if log:
            log(
                f"[harness] {df[name].isna().sum()} missing {name} where training has none;"
                f" filled with the training median {value:g}"
            )
        out = out if out is not df else df.copy()
        out[name] = out[name].fillna(value)
    return out


def test_with_gaps_filled(learn, train: pd.DataFrame, test: pd.DataFrame, log=None):
    """The test set made safe for a tabular learner's test_dl; other learners get it as is."""
    from fastai.tabular.core import TabularPandas

    ds = learn.dls.train_ds
    if not isinstance(ds, TabularPandas):
        return test
    return fill_unseen_gaps(train, test, ds.cont_names, log)
