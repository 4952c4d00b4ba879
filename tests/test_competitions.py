"""The contract every competition keeps, checked for each discovered one."""

import pandas as pd
import pytest

from harness.competition import data, registry
from harness.run import pipeline
from harness.run.scoring import score
from harness.validate import validate_csv

NAMES = sorted(registry.discover())


@pytest.fixture(params=NAMES)
def comp(request, ready):
    return registry.get(request.param)


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


def test_a_sample_submission_runs_end_to_end(comp, tmp_path):
    p = data.current(comp)
    row = pipeline.submit(comp.name, p.files / "sample_submission.csv", "tester")
    assert row["status"] == "scored" and row["public_score"] is not None
