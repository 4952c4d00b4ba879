"""`harness list` and `harness data`: the competitions and their files."""

from pathlib import Path

import pandas as pd

from tests.conftest import cli, cli_json


def test_list_names_every_competition(home):
    code, rows = cli_json("list", home=home)
    assert code == 0
    titanic = next(r for r in rows if r["name"] == "titanic")
    assert titanic["metric"] == "accuracy" and titanic["better"] == "higher"


def test_data_path_prints_the_kaggle_style_files(ready):
    proc = cli("data", "path", "titanic", home=ready)
    assert proc.returncode == 0
    folder = Path(proc.stdout.strip())
    assert sorted(p.name for p in folder.iterdir()) == [
        "sample_submission.csv",
        "test.csv",
        "train.csv",
    ]
    assert list(pd.read_csv(folder / "sample_submission.csv").columns) == [
        "PassengerId",
        "Survived",
    ]
