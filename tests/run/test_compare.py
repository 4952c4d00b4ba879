"""`harness diff A B`: what changed between two submissions' predictions, public rows only."""

import pandas as pd
import pytest

from harness.competition import data, registry
from harness.errors import UsageError
from harness.run import compare, pipeline
from tests.conftest import cli, cli_json


def labels(name: str) -> pd.DataFrame:
    return data.current(registry.get(name)).test_labels()


def submit_csv(frame: pd.DataFrame, path) -> int:
    frame.to_csv(path, index=False)
    row = pipeline.submit("titanic", path, "ann", log=lambda *_: None)
    assert row["status"] == "scored", row["error"]
    return row["id"]


def test_two_titanic_submissions_with_known_flips(ready, tmp_path):
    truth = labels("titanic")
    zeros = truth[["PassengerId"]].assign(Survived=0)
    public = truth[truth["Usage"] == "Public"]
    private = truth[truth["Usage"] == "Private"]
    fixed = public[public["Survived"] == 1]["PassengerId"].head(7)  # wrong -> right
    broken = public[public["Survived"] == 0]["PassengerId"].head(3)  # right -> wrong
    hidden = private["PassengerId"].head(20)  # changed, but private: never counted
    ones = zeros.copy()
    ones.loc[ones["PassengerId"].isin(pd.concat([fixed, broken, hidden])), "Survived"] = 1
    a = submit_csv(zeros, tmp_path / "a.csv")
    b = submit_csv(ones, tmp_path / "b.csv")

    d = compare.prediction_diff(a, b)
    assert (d["rows"], d["changed"]) == (len(public), 10)
    assert (d["wrong_to_right"], d["right_to_wrong"], d["wrong_to_other_wrong"]) == (7, 3, 0)
    assert d["flips"] == [
        {"label": 0, "wrong_to_right": 0, "right_to_wrong": 3},
        {"label": 1, "wrong_to_right": 7, "right_to_wrong": 0},
    ]
    survived = (public["Survived"] == 1).sum()
    assert d["per_class"][1] == {
        "label": 1,
        "rows": int(survived),
        "a_accuracy": 0.0,
        "b_accuracy": pytest.approx(7 / survived),
    }
    assert d["scores"]["b"] - d["scores"]["a"] == pytest.approx(4 / len(public))

    code, out = cli_json("diff", str(a), str(b), home=ready)
    assert code == 0 and out == {**d, "per_class": out["per_class"]}
    human = cli("diff", str(a), str(b), home=ready)
    assert "wrong -> right 7, right -> wrong 3" in human.stdout
    with pytest.raises(UsageError, match="no submission with id 999"):
        compare.prediction_diff(a, 999)


def test_movielens_lists_what_moved_most_without_labels(ready, tmp_path):
    truth = labels("movielens")
    flat = truth[["id"]].assign(rating=3.5)
    moved = flat.copy()
    ids = truth[truth["Usage"] == "Public"]["id"].head(3).tolist()
    moved.loc[moved["id"].isin(ids), "rating"] = [1.0, 5.0, 2.0]
    for name, frame in (("a.csv", flat), ("b.csv", moved)):
        frame.to_csv(tmp_path / name, index=False)
    a = pipeline.submit("movielens", tmp_path / "a.csv", "ann", log=lambda *_: None)["id"]
    b = pipeline.submit("movielens", tmp_path / "b.csv", "ann", log=lambda *_: None)["id"]
    d = compare.prediction_diff(a, b)
    assert d["changed"] == 3 and d["better"] + d["worse"] == 3
    top = [r["id"] for r in d["moved_most"][:3]]
    assert top[0] == ids[0] and set(top) == set(ids)  # 2.5 first, then the two 1.5 moves
    assert all(set(r) == {"id", "a", "b"} for r in d["moved_most"])  # no label per row
    assert len(d["users"]) <= compare.TOP and {"user", "rows", "error_change"} == set(d["users"][0])
