"""A submission from file to stored score, for each kind, and its reproducibility."""

from pathlib import Path

import numpy as np
import pandas as pd

from harness.competition import data, registry
from harness.run import pipeline
from harness.store import submissions
from tests.conftest import cli, harness_here_json, write

TINY_FASTAI = '''"""Two epochs of fastai's tabular_learner, lr_find asked of the harness."""
from fastai.tabular.all import *

CONFIG = {"epochs": 2, "lr": 0.03, "lr_find": True}


def features(df):
    df["Family"] = df.SibSp + df.Parch
    df["Title"] = df.Name.str.split(", ", expand=True)[1].str.split(".", expand=True)[0]
    return df


def train(dls):
    assert "Family" in dls.cont_names and "Title" in dls.cat_names
    learn = tabular_learner(dls, metrics=accuracy, layers=[10, 10])
    learn.fit(CONFIG["epochs"], lr=CONFIG["lr"])
    return learn
'''


def hand_accuracy(pred_of_test) -> tuple[float, float]:
    """Public and private accuracy computed here, straight from the hidden labels."""
    prepared = data.current(registry.get("titanic"))
    labels = prepared.test_labels()
    test = prepared.load("test")
    preds = pd.Series(np.asarray(pred_of_test(test)), index=test["PassengerId"])
    hit = labels["Survived"].to_numpy() == preds.loc[labels["PassengerId"]].to_numpy()
    public = (labels["Usage"] == "Public").to_numpy()
    return hit[public].mean(), hit[~public].mean()


def test_fit_predict_is_scored_against_the_hidden_labels(ready, tmp_path):
    path = write(
        tmp_path / "women.py",
        '"""Women survive."""\nCONFIG = {"rule": "sex"}\n'
        "def fit_predict(train, valid, test):\n"
        "    return (test['Sex'] == 'female').astype(int)\n",
    )
    row = pipeline.submit("titanic", path, "ann", "first try")
    public, private = hand_accuracy(lambda t: (t["Sex"] == "female").astype(int))
    assert row["status"] == "scored" and row["error"] is None
    assert row["public_score"] == public and row["private_score"] == private
    assert 0.7 < public < 0.85  # the gender rule: Kaggle's is 0.766
    assert (row["docstring"], row["config"], row["message"]) == (
        "Women survive.",
        {"rule": "sex"},
        "first try",
    )
    assert row["entry"] == "fit_predict" and row["device"] == "cpu" and row["seed"] == 42
    assert row["versions"]["torch"] and row["versions"]["fastai"]
    assert row["data_fingerprint"] == data.current(registry.get("titanic")).fingerprint
    assert row["wall_seconds"] > 0 and row["peak_memory_mb"] > 10


def test_fit_predict_may_return_the_submission_frame(ready, tmp_path):
    path = write(
        tmp_path / "frame.py",
        "import pandas as pd\n"
        "def fit_predict(train, valid, test):\n"
        "    return pd.DataFrame({'PassengerId': test.PassengerId, 'Survived': 0})\n",
    )
    row = pipeline.submit("titanic", path, "ann")
    assert row["public_score"] == hand_accuracy(lambda t: np.zeros(len(t), int))[0]


def test_fastai_train_with_features_records_epochs_model_lr_find_and_reproduces(ready, tmp_path):
    path = write(tmp_path / "tiny_fastai.py", TINY_FASTAI)
    first = pipeline.submit("titanic", path, "ann")
    assert first["status"] == "scored", first["log"][-3000:]
    assert 0.6 < first["public_score"] <= 1
    # lr_find runs are not epochs: the two of the fit only
    assert [(e["fit"], e["epoch"]) for e in first["epochs"]] == [(1, 0), (1, 1)]
    assert all(e["train_loss"] > 0 and 0 <= e["metrics"]["accuracy"] <= 1 for e in first["epochs"])
    assert first["config"] == {"epochs": 2, "lr": 0.03, "lr_find": True}
    assert "[run] fit 1 epoch 2/2" in first["log"]
    # the model and the lr_find the CONFIG asked for
    model = first["model"]
    assert model["architecture"] == "TabularModel" and model["pretrained"] is None
    assert 0 < model["trainable"] == model["parameters"] < 10_000
    found = {a["name"]: a for a in first["artifacts"]}
    assert {"lr_find.png", "lr_find.csv"} <= set(found) and "lr_find_2.csv" not in found
    curve = pd.read_csv(found["lr_find.csv"]["path"])
    assert {"suggested minimum", "suggested steep", "suggested valley"} <= set(curve)
    assert (curve["lr"].diff().dropna() > 0).all() and curve["loss"].notna().all()
    assert "[run] lr_find before training (CONFIG lr_find)" in first["log"]
    assert "\r" not in first["log"] and "\u2588" not in first["log"]  # no progress-bar residue
    shown = cli("show", str(first["id"]), home=ready).stdout
    assert f"TabularModel: {model['parameters']:,} parameters" in shown
    assert "seconds_per_epoch" in shown and "Learning-rate finder" in shown
    again = pipeline.reproduce(first["id"])  # a fresh run with the same seed: the same bits
    assert again["identical"] is True and again["reproduced_public_score"] == first["public_score"]


LR_FIND = '''"""Asks the harness for lr_find."""
from fastai.tabular.all import *

CONFIG = {"lr_find": True}


def train(dls):
    learn = tabular_learner(dls, metrics=accuracy, layers=[8])
    learn.fit(1, lr=0.01)
    return learn
'''
OWN_LR_FIND = """
    lr_min, lr_steep = learn.lr_find(suggest_funcs=(minimum, steep), num_it=30)
    learn.fit(1, lr=lr_steep)
"""


def test_a_submissions_own_lr_find_is_recorded_instead(ready, tmp_path):
    text = LR_FIND.replace("    learn.fit(1, lr=0.01)\n", OWN_LR_FIND)
    row = pipeline.submit("titanic", write(tmp_path / "own.py", text), "ann")
    assert row["status"] == "scored", row["log"][-3000:]
    names = {a["name"] for a in row["artifacts"]}
    assert {"lr_find.png", "lr_find.csv"} <= names and "lr_find_2.csv" not in names
    curve = pd.read_csv(next(a["path"] for a in row["artifacts"] if a["name"] == "lr_find.csv"))
    assert len(curve) <= 30 and "suggested valley" not in curve
    assert "CONFIG lr_find" not in row["log"]


def test_a_valid_csv_is_scored_and_a_broken_one_rejected(ready, tmp_path):
    files = data.current(registry.get("titanic")).files
    sample = pd.read_csv(files / "sample_submission.csv")
    ok = pipeline.submit(
        "titanic", write(tmp_path / "zeros.csv", sample.to_csv(index=False)), "ann"
    )
    assert ok["status"] == "scored" and ok["kind"] == "csv"
    assert ok["public_score"] == hand_accuracy(lambda t: np.zeros(len(t), int))[0]
    lines = sample.to_csv(index=False).splitlines()
    lines[5] = lines[5].split(",")[0] + ",0.5"  # row 5 is line 6 of the file
    runs_before = set((ready / "runs").iterdir())
    bad = pipeline.submit("titanic", write(tmp_path / "half.csv", "\n".join(lines) + "\n"), "bob")
    assert bad["status"] == "rejected" and bad["public_score"] is None
    assert bad["error"].startswith("half.csv, row 5 (line 6), column Survived: '0.5'")
    assert set((ready / "runs").iterdir()) == runs_before  # nothing else written


def test_the_report_draws_the_valid_set_never_the_hidden_test(ready, tmp_path):
    path = write(
        tmp_path / "women.py",
        "def fit_predict(train, valid, test):\n    return (test['Sex'] == 'female').astype(int)\n",
    )
    row = pipeline.submit("titanic", path, "ann")
    found = {a["name"]: a for a in row["artifacts"]}
    assert set(found) == {"confusion_matrix.csv", "confusion_matrix.png"}
    assert all("validation set" in a["title"] for a in row["artifacts"])
    cm = pd.read_csv(found["confusion_matrix.csv"]["path"])
    counts = cm[["predicted died", "predicted survived"]].to_numpy()
    valid = data.current(registry.get("titanic")).load("valid")
    assert counts.sum() == len(valid)  # the valid rows, not one of the hidden test's
    women = valid["Sex"] == "female"
    assert counts[0, 0] == ((~women) & (valid["Survived"] == 0)).sum()
    assert counts[1, 1] == (women & (valid["Survived"] == 1)).sum()
    with open(found["confusion_matrix.png"]["path"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_a_broken_report_is_noted_and_the_score_kept(ready, tmp_path, monkeypatch):
    # the report is drawn on the host, after the run: the run's own breakage changes nothing
    path = write(
        tmp_path / "zero.py",
        "import competitions.titanic as titanic\n\n\n"
        "def broken(*args):\n    raise RuntimeError('the run broke it')\n\n\n"
        "def fit_predict(train, valid, test):\n    titanic.report = broken\n"
        "    return [0] * len(test)\n",
    )
    row = pipeline.submit("titanic", path, "ann")
    assert row["status"] == "scored" and "the run broke it" not in row["log"]
    assert {a["name"] for a in row["artifacts"]} == {"confusion_matrix.csv", "confusion_matrix.png"}

    def broken(*args):
        raise RuntimeError("plotting went wrong")

    monkeypatch.setattr(registry.get("titanic").module, "report", broken)
    row = pipeline.submit("titanic", path, "ann")
    assert row["status"] == "scored" and row["public_score"] is not None
    assert row["log"].endswith(
        "[harness] the valid set's report was not drawn: RuntimeError: plotting went wrong\n"
    )
    assert row["artifacts"] == [] and row["diagnostics"] == "failed"


WOMEN = "def fit_predict(train, valid, test):\n    return (test['Sex'] == 'female').astype(int)\n"


def test_the_score_is_recorded_before_the_report_is_drawn(ready, tmp_path, monkeypatch):
    """While the host draws the report, the row is in the store with its score, its
    diagnostics pending: `harness show` (and so the board and the API) reads it."""
    titanic = registry.get("titanic").module
    draw, seen = titanic.report, {}

    def watched(*args):
        seen["store"] = submissions.submission(seen["said"]["id"])
        seen["show"] = harness_here_json("show", str(seen["said"]["id"]), home=ready)
        draw(*args)

    monkeypatch.setattr(titanic, "report", watched)
    path = write(tmp_path / "women.py", WOMEN)
    row = pipeline.submit("titanic", path, "ann", on_scored=lambda r: seen.update(said=r))
    assert seen["said"]["status"] == "scored" and seen["said"]["diagnostics"] == "pending"
    meanwhile = seen["store"]
    assert (meanwhile["status"], meanwhile["diagnostics"]) == ("scored", "pending")
    assert (
        meanwhile["public_score"]
        == row["public_score"]
        == hand_accuracy(lambda t: (t["Sex"] == "female").astype(int))[0]
    )
    assert meanwhile["artifacts"] == []  # the pictures follow
    code, shown = seen["show"]
    assert code == 0 and shown["public_score"] == row["public_score"]
    assert shown["diagnostics"] == "pending"
    assert row["diagnostics"] == "drawn" and {a["name"] for a in row["artifacts"]} == {
        "confusion_matrix.csv",
        "confusion_matrix.png",
    }
    assert set(row["seconds"]) >= {"score", "report"}


SHORT_COLLAB = '''"""collab_learner on a tenth of an epoch; after its predictions, a link."""
import json, os, sys, threading, time
from pathlib import Path
from fastai.callback.training import ShortEpochCallback
from fastai.collab import *


def late():  # once the host was told the predictions are written: a link it refuses
    job = json.loads(Path(sys.argv[1]).read_text())
    for _ in range(6000):
        if (Path(job["out"]) / "scored").exists():
            os.symlink("/etc/passwd", Path(job["artifacts"]) / "late.csv")
            return
        time.sleep(0.05)


def train(dls):
    if LATE:
        threading.Thread(target=late).start()
    learn = collab_learner(dls, n_factors=8, y_range=(0, 5.5))
    learn.fit_one_cycle(1, 5e-3, cbs=ShortEpochCallback(0.1, short_valid=False))
    return learn
'''


def test_a_run_is_scored_while_it_draws_what_its_model_learned(ready, tmp_path):
    """MovieLens draws what a collab_learner learned after its predictions: the host
    records the score meanwhile, then the run's end (its log, its figures, its pictures)."""
    seen = []

    def said(row):
        seen.append((row, submissions.submission(row["id"])))

    path = write(tmp_path / "short.py", SHORT_COLLAB.replace("if LATE:", "if False:"))
    row = pipeline.submit("movielens", path, "ann", on_scored=said)
    assert row["status"] == "scored", row["log"][-2000:]
    ((early, stored),) = seen
    assert stored["status"] == "scored" and stored["diagnostics"] == "pending"
    assert stored["public_score"] == row["public_score"] == early["public_score"]
    assert stored["artifacts"] == [] and "[harness] measured by the host" not in stored["log"]
    assert "[run] diagnostics: what the model learned" in row["log"]
    assert row["log"].index("measured by the host") > row["log"].index("what the model learned")
    assert row["wall_seconds"] > stored["wall_seconds"]
    assert row["diagnostics"] == "drawn"
    assert {a["name"] for a in row["artifacts"]} >= {"movie_bias.csv", "movie_pca.png"}
    assert row["reported"]["seconds"]["diagnose"] > 0
    assert set(row["seconds"]) >= {"setup", "run", "read_back", "score", "report"}

    # what the run breaks after its score costs it its diagnostics, never its score
    seen.clear()
    path = write(tmp_path / "late.py", SHORT_COLLAB.replace("if LATE:", "if True:"))
    row = pipeline.submit("movielens", path, "bob", on_scored=said)
    assert seen and row["status"] == "scored" and row["public_score"] == seen[0][0]["public_score"]
    assert row["diagnostics"] == "failed" and row["error"] is None
    assert (
        "[harness] after its score, while drawing its diagnostics: the run's output was "
        "refused: artifacts/late.csv is a symbolic link; links and special files are refused"
    ) in row["log"]
    assert not (Path(row["run_dir"]) / "artifacts" / "late.csv").is_symlink()
