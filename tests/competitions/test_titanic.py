"""Titanic: sources, Kaggle's sizes and schema, the baselines."""

import hashlib
import shutil

import pandas as pd
import pytest

from harness.competition import data, registry
from tests.conftest import KAGGLE_TITANIC

KAGGLE_COLUMNS = [
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


@pytest.fixture
def titanic():
    return registry.get("titanic")


def test_offline_data_has_kaggles_sizes_ids_and_columns(ready, titanic):
    p = data.current(titanic)
    train = pd.read_csv(p.files / "train.csv")
    test = pd.read_csv(p.files / "test.csv")
    assert list(train.columns) == KAGGLE_COLUMNS
    assert list(test.columns) == [c for c in KAGGLE_COLUMNS if c != "Survived"]
    assert (len(train), len(test)) == (891, 418)
    assert list(train.PassengerId) == list(range(1, 892))
    assert list(test.PassengerId) == list(range(892, 1310))
    assert p.manifest["rows"] == {"train": 713, "valid": 178, "test": 418}
    assert (p.manifest["public_rows"], p.manifest["private_rows"]) == (209, 209)
    # titanic3's survival rate, and no leaky column (boat, body, home.dest) anywhere
    assert 0.36 < pd.concat([train.Survived, p.test_labels().Survived]).mean() < 0.40
    for df in (train, test, p.load("train"), p.load("test")):
        assert not {"Boat", "Body", "Home.dest", "boat"} & set(df.columns)


def test_kaggle_files_placed_by_hand(home, titanic):
    md5 = {
        f: hashlib.md5((KAGGLE_TITANIC / f).read_bytes()).hexdigest()
        for f in ("train.csv", "test.csv")
    }
    assert md5 == {
        "train.csv": "2309cc5f04782ed9bb6016d9f4e381cf",
        "test.csv": "7533b82eae4b582610cbd68aa636b017",
    }
    raw = data.data_dir("titanic") / "raw" / "kaggle"
    raw.mkdir(parents=True)
    for f in ("train.csv", "test.csv"):
        shutil.copy(KAGGLE_TITANIC / f, raw / f)
    p = data.fetch_and_prepare(titanic, "kaggle", log=lambda *_: None)
    rows = p.manifest["rows"]
    assert rows["test"] == round(891 * 418 / 1309) and sum(rows.values()) == 891
    labelled = pd.read_csv(KAGGLE_TITANIC / "train.csv")
    # the hidden test is carved out of Kaggle's train.csv, labels and all
    labels = p.test_labels().merge(labelled, on="PassengerId", suffixes=("", "_kaggle"))
    assert len(labels) == rows["test"] and (labels.Survived == labels.Survived_kaggle).all()
    assert pd.read_csv(p.path / "kaggle" / "test.csv").equals(
        pd.read_csv(KAGGLE_TITANIC / "test.csv")
    )
    assert p.source == "kaggle" and data.current(titanic).fingerprint == p.fingerprint


def test_a_wrong_source_is_named(home, titanic):
    with pytest.raises(
        data.DataError, match="titanic has no source 'url'; choose one of: offline, kaggle"
    ):
        data.fetch_and_prepare(titanic, "url")
