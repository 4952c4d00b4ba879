"""The contract every competition keeps, checked for each discovered one, and for the
template competition of docs/adding-a-competition.md (`template/iris`), discovered from
its own folder as HARNESS_COMPETITIONS points there."""

import math
from pathlib import Path

import pandas as pd
import pytest

from harness.competition import data, registry
from harness.paths import submissions_dir
from harness.run import pipeline
from harness.run.scoring import score
from harness.run.submission import read
from harness.validate import validate_csv
from tests.conftest import REPO, write

NAMES = sorted(registry.discover())
TEMPLATES = REPO / "docs" / "template" / "competitions"


@pytest.fixture(params=[*NAMES, *(f"template/{n}" for n in sorted(registry.discover(TEMPLATES)))])
def comp(request, monkeypatch):
    if not request.param.startswith("template/"):
        request.getfixturevalue("ready")  # the session's prepared data
        return registry.get(request.param)
    request.getfixturevalue("home")  # its own home: the template's data is prepared here
    monkeypatch.setenv("HARNESS_COMPETITIONS", str(TEMPLATES))
    comp = registry.get(request.param.removeprefix("template/"))
    data.fetch_and_prepare(comp, "offline", log=lambda *_: None)  # 150 rows: under a second
    return comp


def test_spec_is_sound(comp):
    assert comp.spec.problems() == []
    assert comp.doc.strip(), "the leaderboard shows the docstring"
    assert (comp.path.parent / "README.md").exists()


def test_preparing_again_gives_the_same_data(comp, tmp_path, monkeypatch, data_root):
    """Two independent preparations, in two homes, give the same fingerprint."""
    session = data.current(comp)
    monkeypatch.setenv("HARNESS_HOME", str(tmp_path / "fresh"))
    again = data.fetch_and_prepare(comp, "offline", log=lambda *_: None)
    assert again.fingerprint == session.fingerprint
    assert again.path.name == session.path.name and again.path != session.path
    assert data.current(comp).path == again.path


def test_splits_are_disjoint_and_the_test_has_no_labels(comp):
    p = data.current(comp)
    spec = comp.spec
    train, valid, test = (p.load(s) for s in ("train", "valid", "test"))
    labels = p.test_labels()
    assert spec.target not in test.columns and spec.train_target not in test.columns
    assert spec.train_target in train.columns and spec.train_target in valid.columns
    assert test[spec.id_col].is_unique
    if spec.id_col in train:  # some competitions give ids to test rows only
        ids = [set(x[spec.id_col]) for x in (train, valid, test)]
        assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert list(labels[spec.id_col]) == list(test[spec.id_col])
    assert (labels["Usage"] == "Public").sum() == round(len(labels) * spec.public_fraction)


def test_user_files_and_sample_submission_follow_the_format(comp):
    p = data.current(comp)
    spec = comp.spec
    assert spec.train_target in pd.read_csv(p.files / "train.csv").columns
    test = pd.read_csv(p.files / "test.csv")
    assert spec.target not in test.columns and spec.train_target not in test.columns
    # Kaggle's digit-recognizer numbers its test rows instead of giving them an id column
    ids = test[spec.id_col] if spec.id_col in test else p.load("test")[spec.id_col]
    sample = validate_csv(p.files / "sample_submission.csv", spec.submission, ids)
    assert len(sample) == len(test)


def test_the_metric_ranks_the_truth_first(comp):
    p = data.current(comp)
    labels = p.test_labels()
    truth = labels[[comp.spec.id_col, comp.spec.target]]
    public, private = score(comp, labels, truth)
    best = 1.0 if comp.metric.higher_is_better else 0.0
    assert (public, private) == (best, best)
    sample = pd.read_csv(p.files / "sample_submission.csv")
    worse = score(comp, labels, sample)[0]
    assert comp.metric.is_better(public, worse)


MAJORITY = '''"""The most common training target for every test row."""

def fit_predict(train, valid, test):
    return [train[{target!r}].mode()[0]] * len(test)
'''


def test_a_code_submission_runs_end_to_end_and_is_scored_as_by_hand(comp, tmp_path):
    """Worker, the default or own to_submission, format check, scorer: the stored score is
    finite, in the metric's range, and the metric of the stored predictions by hand."""
    code = MAJORITY.format(target=comp.spec.train_target)
    row = pipeline.submit(comp.name, write(tmp_path / "majority.py", code), "tester")
    assert row["status"] == "scored", row["log"][-2000:]
    scores = row["public_score"], row["private_score"]
    assert all(math.isfinite(x) for x in scores)
    if comp.metric.higher_is_better:  # accuracy-like: a share of the rows
        assert all(0 <= x <= 1 for x in scores)
    else:  # errors and losses
        assert all(x >= 0 for x in scores)
    p = data.current(comp)
    labels, test = p.test_labels(), p.load("test")
    preds = validate_csv(
        Path(row["run_dir"]) / "out" / "predictions.csv",
        comp.spec.submission,
        test[comp.spec.id_col],
    )
    merged = labels.merge(preds, on=comp.spec.id_col, suffixes=("", "_pred"))
    assert len(merged) == len(labels)
    public = (merged.Usage == "Public").to_numpy()
    y, yhat = merged[comp.spec.target].to_numpy(), merged[f"{comp.spec.target}_pred"].to_numpy()
    assert scores == (comp.metric(y[public], yhat[public]), comp.metric(y[~public], yhat[~public]))


BASELINES = sorted(
    (path.parent.name, path) for name in NAMES for path in (submissions_dir() / name).glob("*.py")
)


@pytest.mark.parametrize("name, path", BASELINES, ids=[f"{n}/{p.name}" for n, p in BASELINES])
def test_every_baseline_reads_cleanly(name, path):
    """Each course baseline names its entry and, for the leaderboard, a docstring; a
    fastai one states its epochs in CONFIG, stored with its score."""
    sub = read(path)
    assert sub.problem is None and sub.docstring and sub.entry in ("train", "fit_predict")
    if sub.entry == "train":
        assert sub.config and "epochs" in sub.config


def test_every_competition_has_baselines():
    assert {name for name, _ in BASELINES} == set(NAMES)
