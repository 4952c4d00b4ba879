"""MovieLens 100k: both sources agree, the split keeps test users and movies known."""

import math

import numpy as np
import pandas as pd
import pytest

from harness.competition import data, registry
from harness.run import pipeline
from tests.conftest import write


@pytest.fixture
def movielens():
    return registry.get("movielens")


def test_offline_tables_are_movielens_100k(ready, movielens):
    raw = data.data_dir("movielens") / "raw" / "offline"
    ratings, movies = movielens.module.read_raw("offline", raw)
    assert len(ratings) == 100_000 and list(ratings.columns) == [
        "user",
        "movie",
        "rating",
        "timestamp",
    ]
    assert (ratings.user.nunique(), ratings.movie.nunique(), len(movies)) == (943, 1682, 1682)
    assert set(ratings.rating) == {1, 2, 3, 4, 5}
    titles = movies.set_index("movie").title
    assert titles[1] == "Toy Story (1995)" and titles[50] == "Star Wars (1977)"
    assert titles[12] == "Usual Suspects, The (1995)" and titles[267] == "unknown"


def test_the_fastai_files_give_the_same_splits(home, movielens, data_root):
    """u.data and u.item written in their real formats from the offline tables, by hand."""
    offline = data.current(movielens) or data.fetch_and_prepare(movielens, log=lambda *_: None)
    ratings, movies = movielens.module.read_raw(
        "offline", data_root / "movielens" / "raw" / "offline"
    )
    raw = data.data_dir("movielens") / "raw" / "fastai"
    raw.mkdir(parents=True)
    shuffled = ratings.sample(frac=1, random_state=0)  # u.data is not sorted
    shuffled.to_csv(raw / "u.data", sep="\t", header=False, index=False)
    item = movies.assign(date="01-Jan-1995", video="", url="http://us.imdb.com/", genre=0)
    (raw / "u.item").write_bytes(item.to_csv(sep="|", header=False, index=False).encode("latin-1"))
    fastai = data.fetch_and_prepare(movielens, "fastai", log=lambda *_: None)
    assert fastai.fingerprint == offline.fingerprint and fastai.source == "fastai"


def test_every_test_user_and_movie_is_in_train(ready, movielens):
    p = data.current(movielens)
    train, valid, test = (p.load(s) for s in ("train", "valid", "test"))
    for col in ("user", "movie", "title"):
        assert set(test[col]) <= set(train[col]) and set(valid[col]) <= set(train[col])
    assert len(train) + len(valid) + len(test) == 100_000
    # 10% test and 10% of the rest valid, less the few ratings kept in train
    assert 9_900 < len(test) <= 10_000 and 8_900 < len(valid) <= 9_000
    assert list(test.id) == list(range(1, len(test) + 1))
    files = pd.read_csv(p.files / "train.csv")
    assert list(files.columns) == ["user", "movie", "rating", "timestamp"]
    assert len(files) == len(train) + len(valid)
    assert list(pd.read_csv(p.files / "test.csv").columns) == ["id", "user", "movie", "timestamp"]


def test_mse_is_shown_beside_rmse(ready, tmp_path):
    sub = write(
        tmp_path / "mean.py",
        "def fit_predict(train, valid, test):\n    return [train.rating.mean()] * len(test)\n",
    )
    row = pipeline.submit("movielens", sub, "ann")
    assert row["metric"] == "rmse" and row["higher_is_better"] is False
    assert math.isclose(row["extra_scores"]["mse"]["public"], row["public_score"] ** 2)
    assert 1.0 < row["public_score"] < 1.3  # the mean rating alone: RMSE about 1.1


ONE_EPOCH = '''"""collab_learner, one epoch."""
from fastai.collab import *

def train(dls):
    learn = collab_learner(dls, n_factors=20, y_range=(0, 5.5))
    learn.fit_one_cycle(1, 5e-3, wd=0.1)
    return learn
'''


def test_a_learner_with_embeddings_leaves_its_diagnostics(ready, tmp_path):
    row = pipeline.submit("movielens", write(tmp_path / "one.py", ONE_EPOCH), "ann")
    assert row["status"] == "scored", row["log"][-2000:]
    assert 0.85 < row["public_score"] < 1.1
    found = {a["name"]: a["path"] for a in row["artifacts"]}
    assert set(found) == {"movie_bias.csv", "movie_bias.png", "movie_pca.png", "nearest_movies.csv"}
    bias = pd.read_csv(found["movie_bias.csv"])
    assert len(bias) == 10 and bias["bias"].is_monotonic_increasing
    assert bias["bias"].max() < bias["bias "].min()  # lowest ten below highest ten
    titles = set(pd.read_csv(data.current(registry.get("movielens")).files / "movies.csv").title)
    assert set(bias["lowest bias"]) <= titles
    near = pd.read_csv(found["nearest_movies.csv"])
    assert "Star Wars (1977)" in set(near.movie) and (near.movie != near.nearest).all()
    assert pipeline.reproduce(row["id"])["identical"] is True  # same seed, same score


def test_movie_parameters_are_found_in_each_course_model(ready, movielens):
    """Untrained real models of the three shapes the course builds."""
    from fastai.collab import collab_learner
    from fastai.learner import Learner
    from fastai.losses import MSELossFlat
    from fastai.torch_core import Module
    from torch import nn, zeros

    p = data.current(movielens)
    dls = movielens.dls(p.load("train").head(2000), p.load("valid").head(200))
    n_users, n_titles = len(dls.classes["user"]), len(dls.classes["title"])

    class DotProductBias(Module):
        def __init__(self):
            self.user_factors = nn.Parameter(zeros(n_users, 8))
            self.user_bias = nn.Parameter(zeros(n_users))
            self.movie_factors = nn.Parameter(zeros(n_titles, 8))
            self.movie_bias = nn.Parameter(zeros(n_titles))

    dot = collab_learner(dls, n_factors=8)
    course = Learner(dls, DotProductBias(), loss_func=MSELossFlat())
    net = collab_learner(dls, use_nn=True, layers=[10])
    expected = [
        (dot, dot.model.i_bias.weight, dot.model.i_weight.weight),
        (course, course.model.movie_bias, course.model.movie_factors),
        (net, None, net.model.embeds[1].weight),
    ]
    for learn, want_bias, want_factors in expected:
        bias, factors = movielens.module.movie_params(learn)
        assert factors.shape[0] == n_titles
        assert np.array_equal(factors, want_factors.detach().numpy())
        if want_bias is None:
            assert bias is None
        else:
            assert np.array_equal(bias, want_bias.detach().numpy().reshape(-1))
