"""The run says what it decided: the columns' roles, and what its author must know.

Real sandboxed runs on Titanic: tiny `train(dls)` files (one epoch) and `fit_predict`
files, through `pipeline.submit` and the `harness` command.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from harness.competition import data, registry
from harness.paths import REPO_ROOT
from harness.run import pipeline
from harness.run.output import MAX_WARNINGS, WARNING_CHARS, Malformed, check_result
from harness.run.submission import read
from tests.conftest import cli_json, harness_here, harness_here_json, write

NAN_COLUMN = '''"""A feature function that leaves a column without a single value."""
from fastai.tabular.all import *


def features(df):
    df["Deck"] = float("nan")  # meant to be parsed from Cabin, never filled


def train(dls):
    learn = tabular_learner(dls, metrics=accuracy, layers=[8])
    learn.fit(1, lr=0.01)
    return learn
'''
INF_COLUMN = '''"""Fare per person, divided by zero where nobody travelled with them."""
from fastai.tabular.all import *


def features(df):
    df["FarePer"] = df.Fare / (df.SibSp + df.Parch)


def train(dls):
    learn = tabular_learner(dls, metrics=accuracy, layers=[8])
    learn.fit(1, lr=0.01)
    return learn
'''


def counts() -> tuple[int, int]:
    """The prepared Titanic's test and valid rows."""
    prepared = data.current(registry.get("titanic"))
    return len(prepared.load("test")), len(prepared.load("valid"))


def test_an_all_nan_column_is_named_and_its_role_recorded(ready, tmp_path):
    row = pipeline.submit("titanic", write(tmp_path / "deck.py", NAN_COLUMN), "ann")
    assert row["status"] == "scored", row["log"][-3000:]
    roles = row["decisions"]
    assert roles["categorical"] == ["Pclass", "Sex", "Embarked"]
    assert roles["continuous"] == ["Age", "SibSp", "Parch", "Fare", "Deck"]
    assert roles["dropped"] == ["PassengerId", "Name", "Ticket", "Cabin"]
    assert roles["target"] == ["Survived"] and "Deck_na" in roles["added"]
    column, loss = row["warnings"]
    assert column.startswith("continuous column Deck is all NaN in train: ")
    assert "stays NaN" in column
    assert loss.startswith("the training and valid losses went nan in fit 1, epoch 1 of 1 ")
    assert "(1 of 1 epochs with a NaN or infinite loss): the model learned nothing" in loss
    log = row["log"]
    assert "[run] columns continuous (5): Age, SibSp, Parch, Fare, Deck" in log
    assert "[run] columns dropped (4): PassengerId, Name, Ticket, Cabin" in log
    assert "[run] warning: continuous column Deck is all NaN" in log
    # `harness show` says it too
    shown = harness_here("show", str(row["id"])).stdout
    warned = [ln.split(None, 1)[1] for ln in shown.splitlines() if ln.startswith("warning ")]
    assert warned == [column, loss]
    assert "columns, as the DataLoaders took them:" in shown
    assert "  continuous: Age, SibSp, Parch, Fare, Deck" in shown
    # ...and the board's submission page, beside the score
    at = AppTest.from_file(str(REPO_ROOT / "leaderboard" / "app.py"), default_timeout=60)
    at.session_state["_member"] = row["user_name"]  # its member, signed in: the page is theirs
    at.query_params.update(submission=str(row["id"]))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [w.value.replace("\\", "") for w in at.warning] == [column, loss]
    line = "Columns: categorical Pclass, Sex, Embarked; continuous Age, SibSp, Parch, Fare, Deck;"
    assert any(t.value.startswith(line) for t in at.text)


def test_a_nan_loss_says_which_fit_and_epoch_in_the_json(ready, tmp_path):
    code = write(tmp_path / "fare_per.py", INF_COLUMN)
    status, row = cli_json("submit", "titanic", str(code), "--user", "ann")
    assert status == 0 and row["status"] == "scored", row
    inf, loss = row["warnings"]
    assert inf.startswith("continuous column FarePer holds ") and "infinite values" in inf
    assert loss.startswith("the training and valid losses went nan in fit 1, epoch 1 of 1 ")
    status, shown = harness_here_json("show", str(row["id"]))
    assert status == 0 and shown["warnings"] == row["warnings"]
    assert "FarePer" in shown["decisions"]["continuous"]


def test_a_feature_function_the_harness_does_not_read_is_named(ready, tmp_path):
    code = write(
        tmp_path / "notebook_names.py",
        "def add_features(df):\n"
        "    df['Family'] = df.SibSp + df.Parch\n\n\n"
        "def fit_predict(train, valid, test):\n"
        "    return (test['Sex'] == 'female').astype(int)\n",
    )
    proc = harness_here("submit", "titanic", str(code), "--user", "ann")
    assert proc.returncode == 0, proc.stderr
    line = (
        "warning: add_features is defined but never called: fit_predict must call it itself "
        "(the harness applies features(df) only before train(dls))"
    )
    assert line in proc.stdout


def test_a_forgotten_return_and_a_wrong_count_say_what_test_held(ready, tmp_path):
    n_test, n_valid = counts()
    forgot = write(
        tmp_path / "forgot.py",
        "def fit_predict(train, valid, test):\n    preds = [0] * len(test)\n",
    )
    row = pipeline.submit("titanic", forgot, "ann")
    assert row["status"] == "failed"
    assert row["error"].startswith("fit_predict returned None: did it forget `return`? ")
    rows = f"{n_test} test rows + {n_valid} valid rows"
    assert rows in row["error"]
    short = write(
        tmp_path / "short.py",
        "def fit_predict(train, valid, test):\n    return [0] * 418\n",
    )
    row = pipeline.submit("titanic", short, "ann")
    assert row["error"] == (
        f"fit_predict returned 418 predictions for the {n_test + n_valid} rows of test: "
        f"{rows} (the valid set without Survived, after the test rows)"
    )


@pytest.mark.parametrize(
    ("code", "entry", "expected"),
    [
        (  # the course's feature function under its notebook name
            "def add_features(df): pass\ndef train(dls): pass\n",
            "train",
            [
                "add_features is defined but never called: the harness applies features(df) "
                "(feature engineering), not add_features; rename it features"
            ],
        ),
        (  # helpers the entry point calls, or passes on, are read
            "def add_features(df): pass\ndef fit(learn): pass\n"
            "def features(df):\n    return df.pipe(add_features)\n"
            "def train(dls):\n    return fit(dls)\n",
            "train",
            [],
        ),
        (  # a typo of the entry point: the file runs as a script instead
            "def fitpredict(train, valid, test): pass\n",
            "script",
            [
                "fitpredict is defined but never called: the file defines neither train(dls) "
                "nor fit_predict(train, valid, test), so it runs as a script, top to bottom; "
                "the harness would call fit_predict(train, valid, test)"
            ],
        ),
        (  # features is applied only before train(dls)
            "def features(df): pass\ndef predict(m, x): pass\n"
            "def fit_predict(train, valid, test): pass\n",
            "fit_predict",
            [
                "features is defined but never called: the harness applies features(df) only "
                "before train(dls); fit_predict must call it itself",
                "predict is defined but never called: the harness calls fit_predict(train, "
                "valid, test) only",
            ],
        ),
        (  # other names, decorated and private functions are none of its business
            "import functools\ndef plot_losses(x): pass\ndef _fit(x): pass\n"
            "@functools.cache\ndef preprocess(x): pass\ndef train(dls): pass\n",
            "train",
            [],
        ),
    ],
)
def test_functions_that_look_meant_but_are_not_read(tmp_path, code, entry, expected):
    sub = read(write(tmp_path / "sub.py", code))
    assert sub.entry == entry and list(sub.warnings) == expected


def test_hostile_warnings_and_decisions_are_refused_or_cleaned(ready, tmp_path):
    for bad in ("not a list", [1, 2], {"a": "b"}):
        with pytest.raises(Malformed, match="warnings is not a list of strings"):
            check_result({"warnings": bad})
    for bad in (
        ["x"],
        {"categorical": "Age"},
        {"continuous": [1]},
        {str(i): [] for i in range(11)},
    ):
        with pytest.raises(Malformed, match="decisions is not an object"):
            check_result({"decisions": bad})
    many = check_result({"warnings": ["x" * 10_000] * 1000})["warnings"]
    assert len(many) == MAX_WARNINGS + 1 and many[-1].startswith("and 980 more warnings")
    assert all(len(w) <= WARNING_CHARS for w in many)
    # a real run's result.json, rewritten by the member's code once the worker has written it
    forger = write(
        tmp_path / "forger.py",
        "import atexit, json, sys\nfrom pathlib import Path\n\n"
        "def forge():\n"
        "    out = Path(json.loads(Path(sys.argv[1]).read_text())['out'])\n"
        "    result = json.loads((out / 'result.json').read_text())\n"
        "    result['warnings'] = ['\\x1b[31mred\\x1b[0m\\nsecond line\\u202e', 'y' * 5000]\n"
        "    result['decisions'] = {'categorical\\r': ['Age\\x00\\x07']}\n"
        "    (out / 'result.json').write_text(json.dumps(result))\n\n"
        "def fit_predict(train, valid, test):\n"
        "    atexit.register(forge)\n"
        "    return (test['Sex'] == 'female').astype(int)\n",
    )
    row = pipeline.submit("titanic", forger, "ann")
    assert row["status"] == "scored", row["error"]
    red, long = row["warnings"]
    assert red == "[31mred [0m second line"
    assert len(long) == WARNING_CHARS and long.endswith("…")
    assert row["decisions"] == {"categorical": ["Age"]}
