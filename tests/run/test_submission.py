"""Reading a submission file without running it."""

import pytest

from harness.errors import UsageError
from harness.run.submission import read
from tests.conftest import write


def test_code_file_declares_entry_docstring_and_literal_config(tmp_path):
    sub = read(
        write(
            tmp_path / "m.py",
            '"""My model."""\nCONFIG = {"lr": 0.1}\n'
            "def fit_predict(train, valid, test):\n    return 0\n",
        )
    )
    assert (sub.kind, sub.entry, sub.docstring, sub.config, sub.problem) == (
        "code",
        "fit_predict",
        "My model.",
        {"lr": 0.1},
        None,
    )
    assert len(sub.sha256) == 64 and "CONFIG" in sub.content


def test_star_imports_and_train_entry(tmp_path):
    sub = read(
        write(
            tmp_path / "m.py",
            "from fastai.tabular.all import *\ndef train(dls):\n    return None\n",
        )
    )
    assert sub.entry == "train" and sub.problem is None and sub.config is None


def test_config_that_is_not_a_literal_is_left_to_the_worker(tmp_path):
    sub = read(write(tmp_path / "m.py", "CONFIG = dict(lr=1)\ndef train(dls): pass\n"))
    assert sub.config is None and sub.problem is None


@pytest.mark.parametrize(
    "code, problem",
    [
        ("def train(dls)\n  pass\n", "m.py, line 1: syntax error: expected ':'"),
        ("def train(dls): pass\ndef fit_predict(a, b, c): pass\n", "defines both"),
        (
            "def fit_predict(train): pass\n",
            "m.py, line 1: fit_predict must take 3 argument(s), as in fit_predict(train, valid, test)",
        ),
    ],
)
def test_rejections_say_what_and_where(tmp_path, code, problem):
    assert problem in read(write(tmp_path / "m.py", code)).problem


def test_csv_and_usage_errors(tmp_path):
    assert read(write(tmp_path / "p.csv", "a,b\n")).kind == "csv"
    with pytest.raises(UsageError, match="no such file"):
        read(tmp_path / "missing.py")
    with pytest.raises(UsageError, match=r"a notebook \(\.ipynb\), a \.py file .* or a \.csv"):
        read(write(tmp_path / "model.r", "x <- 1"))


def test_a_file_with_neither_entry_runs_as_on_kaggle(tmp_path):
    """Kaggle's way: the script runs top to bottom and hands in the CSV it writes."""
    sub = read(write(tmp_path / "m.py", '"""Kaggle style."""\nx = 1\n'))
    assert (sub.entry, sub.problem, sub.docstring) == ("script", None, "Kaggle style.")
