"""Iris: tell three species of iris apart by their flowers' measurements.

The template competition (docs/adding-a-competition.md): the smallest real one, its data
shipped beside this file. Fisher's 150 irises, 50 of each species, four measurements in
centimetres; the metric is accuracy. A nearest-centroid rule scores about 0.9.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from harness.competition import Format, Spec, Splits, hidden_test, stratified_split, tabular

SPECIES = ("setosa", "versicolor", "virginica")

SPEC = Spec(
    version=1,  # bump it whenever the data, the split or the metric change
    metric="accuracy",
    submission=Format("id", "species", "label", allowed=SPECIES),
    public_fraction=0.5,
    seed=42,
    sources=("offline",),  # the first is the default; add "kaggle" with SPEC.kaggle's slug
)

HERE = Path(__file__).resolve().parent
COLUMNS = ["id", "sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
CONT_NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
TEST_FRACTION = 0.3  # 45 irises: 15 of each species, 23 public and 22 private
VALID_FRACTION = 0.2  # fastai's RandomSplitter default


def fetch(source: str, raw_dir: Path) -> None:
    """The shipped iris.csv, copied as it is (a real source would download here)."""
    shutil.copyfile(HERE / "iris.csv", raw_dir / "iris.csv")


def prepare(source: str, raw_dir: Path) -> Splits:
    """Seeded, stratified splits: a hidden test (30%), then valid (20% of the rest).

    The file is sorted by species, so the rows are shuffled and numbered first: a test
    row's id must not tell its species.
    """
    df = pd.read_csv(raw_dir / "iris.csv")
    df = df.iloc[np.random.default_rng(SPEC.seed).permutation(len(df))].reset_index(drop=True)
    df.insert(0, "id", np.arange(1, len(df) + 1))
    rest, test = stratified_split(df["species"], TEST_FRACTION, SPEC.seed)
    labelled = df.iloc[rest].reset_index(drop=True)
    train, valid = stratified_split(labelled["species"], VALID_FRACTION, SPEC.seed)
    features, labels = hidden_test(df.iloc[test], SPEC)
    return Splits(
        train=labelled.iloc[train], valid=labelled.iloc[valid], test=features, test_labels=labels
    )


def dls(train: pd.DataFrame, valid: pd.DataFrame, bs: int = 16):
    """fastai tabular DataLoaders of the four measurements, species as a category, for a
    `train(dls)` submission; columns a submission's `features(df)` adds join them."""
    from fastai.tabular.all import CategoryBlock

    cat_names, cont_names = tabular.columns(train, COLUMNS, None, None, [], CONT_NAMES)
    return tabular.dataloaders(
        train, valid, cat_names, cont_names, "species", CategoryBlock(), bs=bs
    )
