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
                f"[run] {df[name].isna().sum()} missing {name} where training has none;"
                f" filled with the training median {value:g}"
            )
        out = out if out is not df else df.copy()
        out[name] = out[name].fillna(value)
    return out


def is_text(s: pd.Series) -> bool:
    """A column a tabular model takes as categorical: neither numbers nor booleans."""
    return not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s))


def columns(train: pd.DataFrame, known, cat_names, cont_names, cat_default, cont_default):
    """The categorical and continuous columns: the given ones, else the competition's
    defaults present in train plus the columns a submission's `features(df)` added
    (every column not in `known`): text as categorical, numbers as continuous."""
    new = [c for c in train.columns if c not in known]
    if cat_names is None:
        cat_names = [c for c in cat_default if c in train] + [c for c in new if is_text(train[c])]
    if cont_names is None:
        cont_names = [c for c in cont_default if c in train]
        cont_names += [c for c in new if not is_text(train[c])]
    return cat_names, cont_names


def dataloaders(train, valid, cat_names, cont_names, y_names: str, y_block, bs: int = 64):
    """fastai tabular DataLoaders of train and valid (in that order): Categorify,
    FillMissing, Normalize, after valid's gaps that train lacks are filled."""
    from fastai.tabular.all import Categorify, FillMissing, IndexSplitter, Normalize, TabularPandas

    valid = fill_unseen_gaps(train, valid, cont_names, log=print)
    df = pd.concat([train, valid], ignore_index=True)
    splits = IndexSplitter(list(range(len(train), len(df))))(df)
    to = TabularPandas(
        df,
        procs=[Categorify, FillMissing, Normalize],
        cat_names=cat_names,
        cont_names=cont_names,
        y_names=y_names,
        y_block=y_block,
        splits=splits,
    )
    return to.dataloaders(bs=bs, path=".", num_workers=0)


def test_with_gaps_filled(learn, train: pd.DataFrame, test: pd.DataFrame, log=None):
    """The test set made safe for a tabular learner's test_dl; other learners get it as is."""
    from fastai.tabular.core import TabularPandas

    ds = learn.dls.train_ds
    if not isinstance(ds, TabularPandas):
        return test
    return fill_unseen_gaps(train, test, ds.cont_names, log)
