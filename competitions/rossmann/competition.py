"""Rossmann store sales: forecast six weeks of daily sales of German drugstores.

Kaggle's 2015 competition and the course's entity-embeddings example (fast.ai lesson 8;
Guo & Berkhahn, 2016): daily sales of each store, split by time (the last 48 days are
the hidden test), scored by RMSPE on days with sales. A tabular net with embeddings for
store, day, month, state and the rest reaches about 0.1 on Kaggle's data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.competition import Format, Spec, Splits, hidden_test, sibling, tabular, time_split
from harness.competition.secret import secret_seed
from harness.competition.sources import SourceError, kaggle_competition_files

SPEC = Spec(
    version=1,
    metric="rmspe",
    submission=Format("Id", "Sales", "float", min_value=0.0),
    public_fraction=0.5,
    seed=42,
    sources=("offline", "offline-full", "kaggle"),
    kaggle="rossmann-store-sales",
    # a perfect model scores 0.067 offline (the generated noise); Kaggle's winners 0.10
    plausible_best=0.06,
)


simulate = sibling(__file__, "simulate")  # the offline data generator
features = sibling(__file__, "features")  # the course's feature engineering, vectorised
models = sibling(__file__, "models")  # the baselines' shared nets and embedding features
add_features, FEATURES = features.add_features, features.FEATURES

OFFLINE_STORES = {"offline": 100, "offline-full": 1115}  # full: Kaggle's size, ~1M rows
TEST_DAYS = 48  # Kaggle's test period
VALID_DAYS = 42  # six weeks before it
KAGGLE_FILES = ("train.csv", "store.csv", "test.csv")
RULES = f"https://www.kaggle.com/competitions/{SPEC.kaggle}/rules"

TRAIN_COLUMNS = "Store DayOfWeek Date Sales Customers Open Promo StateHoliday SchoolHoliday".split()
TEST_COLUMNS = "Id Store DayOfWeek Date Open Promo StateHoliday SchoolHoliday".split()
STORE_COLUMNS = ["Store", *features.STORE_FEATURES[1:]]  # store.csv; State is apart
# the course's choice (fast.ai 2019, lesson 6's notebook) less weather, Google Trends and
# events, which Kaggle's files do not have
CAT_NAMES = (
    "Store DayOfWeek Year Month Day StateHoliday CompetitionMonthsOpen Promo2Weeks StoreType "
    "Assortment PromoInterval CompetitionOpenSinceYear Promo2SinceYear State Week Promo_fw "
    "Promo_bw StateHoliday_fw StateHoliday_bw SchoolHoliday_fw SchoolHoliday_bw"
).split()
CONT_NAMES = "CompetitionDistance AfterStateHoliday BeforeStateHoliday Promo SchoolHoliday".split()
KNOWN = set(TRAIN_COLUMNS) | set(FEATURES) | {"Id"}
NOT_INPUTS = {"Sales", "Customers", "Date", "Open", "Id", "LogSales"}
MAX_LOG_SALES = 20.0  # sales of at most 20 a day are logs: exp(20) is 485 million


def fetch(source: str, raw_dir: Path) -> None:
    """Offline: Kaggle's four files, generated (the hidden days' noise with the secret).
    Kaggle: train, store and test.csv."""
    if source == "kaggle":
        try:
            kaggle_competition_files(SPEC.kaggle, raw_dir, KAGGLE_FILES)
        except SourceError as e:
            if _forbidden(e):
                raise SourceError(
                    f"Kaggle refused the download of {SPEC.kaggle} (403 Forbidden): the "
                    f"competition's rules are not accepted for your account. Accept them at "
                    f"{RULES}, signed in as your token's account, then fetch again; or put "
                    f"{', '.join(KAGGLE_FILES)} in {raw_dir} by hand"
                ) from e
            raise
        if not (raw_dir / "store_states.csv").exists():
            print(
                f"no store_states.csv in {raw_dir}: State is unknown (fast.ai's rossmann.tgz "
                "has the file; put it there for the course's State feature)"
            )
        return
    # the hidden test's sales noise comes from the seed mixed with the installation's
    # secret: the public seed does not rebuild its labels (HARNESS_SECRET=public does)
    tables = simulate.simulate(
        OFFLINE_STORES[source],
        seed=SPEC.seed,
        hidden_from=str(np.datetime64(simulate.END, "D") - (TEST_DAYS - 1)),
        hidden_seed=secret_seed(SPEC.seed, "rossmann/hidden-noise"),
    )
    for name, df in tables.items():
        df.to_csv(raw_dir / f"{name}.csv", index=False)


def _forbidden(e: BaseException) -> bool:
    """Whether an HTTP 403 from the kaggle client lies under `e`."""
    for _ in range(5):  # the core may wrap the client's error more than once
        e = e.__cause__ or e.__context__
        if e is None:
            return False
        status = getattr(getattr(e, "response", None), "status_code", None)
        if (status or getattr(e, "status", None)) == 403:  # requests; the older ApiException
            return True
    return False


def read_raw(raw_dir: Path) -> dict[str, pd.DataFrame]:
    """train, test, store (with State, NaN when store_states.csv is absent), parsed."""
    kinds = {"StateHoliday": str}
    train = pd.read_csv(raw_dir / "train.csv", dtype=kinds, parse_dates=["Date"])
    test = pd.read_csv(raw_dir / "test.csv", dtype=kinds, parse_dates=["Date"])
    store = pd.read_csv(raw_dir / "store.csv")
    states = raw_dir / "store_states.csv"
    if states.exists():
        store = store.merge(pd.read_csv(states), on="Store", how="left")
    else:
        store["State"] = np.nan
    return {"train": train, "test": test, "store": store}


def prepare(source: str, raw_dir: Path):
    """Split by time as Kaggle did: the last 48 days hidden, the 42 days before valid.

    Features are computed once over the whole timeline (train.csv and test.csv's later
    days, as the course concatenated them), so elapsed times see across split edges.
    The hidden test is ordered as Kaggle's test.csv (latest date first, then store) with
    Id 1..n; its earlier half, by date, is the public board.
    """
    raw = read_raw(raw_dir)
    labelled = raw["train"].sort_values(["Date", "Store"], kind="stable", ignore_index=True)
    later = raw["test"][raw["test"].Date > labelled.Date.max()].drop(columns="Id")
    both = add_features(pd.concat([labelled, later], ignore_index=True), raw["store"])
    # test.csv's rows lack Sales and Customers: give the labelled rows their types back
    featured = both.iloc[: len(labelled)].astype(labelled.dtypes.to_dict())
    rest, test_pos = time_split(labelled.Date, TEST_DAYS)
    train_pos, valid_pos = time_split(labelled.Date.iloc[rest], VALID_DAYS)
    train, valid = featured.iloc[rest[train_pos]], featured.iloc[rest[valid_pos]]
    test = featured.iloc[test_pos].sort_values(
        ["Date", "Store"], ascending=[False, True], kind="stable", ignore_index=True
    )
    early_first = np.lexsort((test.Store, test.Date))  # the public board: the earlier days
    features, labels = hidden_test(test, SPEC, drop=["Customers"], public_order=early_first)
    files = pd.concat([train, valid])[TRAIN_COLUMNS].sort_values(
        ["Date", "Store"], ascending=[False, True], kind="stable"
    )
    files = {
        "train.csv": _kaggle_dates(files),
        "test.csv": _kaggle_dates(features[TEST_COLUMNS]),
        "store.csv": raw["store"][STORE_COLUMNS],
    }
    if raw["store"].State.notna().any():
        files["store_states.csv"] = raw["store"][["Store", "State"]]
    return Splits(
        train=train,
        valid=valid,
        test=features,
        test_labels=labels,
        kaggle_test=raw["test"] if source == "kaggle" else None,
        files=files,
    )


def _kaggle_dates(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(Date=df.Date.dt.strftime("%Y-%m-%d"))


def dls(train: pd.DataFrame, valid: pd.DataFrame, bs: int = 512, cat_names=None, cont_names=None):
    """fastai tabular DataLoaders on log(Sales) of the days with sales, as the course.

    Categorify, FillMissing and Normalize; the course's categories and continuous
    columns (CAT_NAMES, CONT_NAMES). Days without sales (closed) are left out of both
    train and valid. `from_dls_target` turns the model's predictions back into sales. Columns a submission's `features(df)` adds join the defaults: text
    columns as categorical, numeric ones as continuous.
    """
    from fastai.tabular.all import RegressionBlock

    train, valid = train[train.Sales > 0], valid[valid.Sales > 0]
    known = [*KNOWN, *NOT_INPUTS]
    cat_names, cont_names = tabular.columns(
        train, known, cat_names, cont_names, CAT_NAMES, CONT_NAMES
    )
    train, valid = (d.assign(LogSales=np.log(d.Sales).astype(np.float32)) for d in (train, valid))
    return tabular.dataloaders(
        train, valid, cat_names, cont_names, "LogSales", RegressionBlock(), bs=bs
    )


def from_dls_target(preds) -> np.ndarray:
    """Sales from the predictions of log(Sales), the target dls trains on."""
    return np.exp(np.asarray(preds, dtype=float))


def to_submission(test: pd.DataFrame, preds) -> pd.DataFrame:
    """Id,Sales from predicted sales, with 0 on closed days (Kaggle scores only open ones)."""
    sales = np.asarray(preds, dtype=float).reshape(len(test)).copy()
    if len(sales) and 0 < np.nanmax(sales) <= MAX_LOG_SALES:
        raise ValueError(
            f"predictions are sales, as in the Sales column; got values up to "
            f"{np.nanmax(sales):g}, which look like log(Sales): return np.exp of them"
        )
    sales[test["Open"].fillna(1).to_numpy() == 0] = 0.0  # Kaggle's NaN Open: assume open
    return pd.DataFrame({"Id": test["Id"].to_numpy(), "Sales": sales})


def diagnose(learn, out: Path) -> None:
    """2-D PCA maps of the learned store, day-of-week, month and state embeddings."""
    from harness.competition.artifacts import pyplot, save_figure, save_table

    found = models.embeddings(learn)
    if not found:
        print("[run] no learned embeddings in this model: no diagnostics")
        return
    plt, rows = pyplot(), []
    items = learn.dls.train_ds.items  # coded categories of the training rows
    for name, title, labels in (
        ("Store", "Store embeddings", None),
        ("DayOfWeek", "Day-of-week embeddings", ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]),
        (
            "Month",
            "Month embeddings",
            ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
        ),
        ("State", "State embeddings", None),
    ):
        if name not in found:
            continue
        classes, weights = found[name]
        used = np.unique(items[name].to_numpy())
        used = used[used > 0]  # row 0 is fastai's #na#, never trained
        if len(used) < 3:
            continue
        xy = pca2(weights[used])
        names = [str(classes[i]) for i in used]
        if labels is not None:
            names = [labels[int(float(n)) - 1] for n in names]
        rows += [
            {"variable": name, "level": n, "pc1": a, "pc2": b}
            for n, (a, b) in zip(names, xy, strict=True)
        ]
        if name == "State":
            fig = _state_figure(plt, names, xy)
        else:
            fig, ax = plt.subplots(figsize=(7, 6))
            if name == "Store" and "StoreType" in items:  # coloured by store type
                kinds = items.groupby("Store").StoreType.first().reindex(used).to_numpy()
                types = learn.dls.classes["StoreType"]
                for k in np.unique(kinds):
                    ax.scatter(*xy[kinds == k].T, s=14, label=f"type {types[k]}")
                ax.legend(fontsize=8)
            else:
                ax.scatter(xy[:, 0], xy[:, 1], s=14)
            step = max(1, len(names) // 60)  # label at most about 60 points
            for n, (a, b) in list(zip(names, xy, strict=True))[::step]:
                ax.annotate(n, (a, b), fontsize=7, xytext=(2, 2), textcoords="offset points")
            ax.set(title=f"{title}: first two principal components", xlabel="PC 1", ylabel="PC 2")
        save_figure(out, f"{name.lower()}_embedding", fig, f"{title}, PCA")
    if rows:
        save_table(out, "embedding_pca", pd.DataFrame(rows), "Embeddings, first two PCs")


def pca2(w: np.ndarray) -> np.ndarray:
    """The rows of w on their first two principal components."""
    centred = w - w.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    return np.c_[xy, np.zeros((len(xy), 2 - xy.shape[1]))]  # a 1-wide embedding: y = 0


def _state_figure(plt, names: list[str], xy: np.ndarray):
    """State embeddings beside the map, rotated onto it (the paper's figure, roughly)."""
    known = [n for n in names if n in simulate.STATES]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.5))
    axes[0].scatter(xy[:, 0], xy[:, 1], s=20)
    for n, (a, b) in zip(names, xy, strict=True):
        axes[0].annotate(n, (a, b), fontsize=9, xytext=(3, 3), textcoords="offset points")
    axes[0].set(
        title="State embeddings: first two principal components", xlabel="PC 1", ylabel="PC 2"
    )
    if len(known) >= 3:
        geo = np.array([simulate.STATES[n][:2] for n in known])
        emb = xy[[names.index(n) for n in known]]
        # orthogonal Procrustes: the rotation (or reflection) and scale that lay the
        # embedding map best onto the real one
        g0, e0 = geo - geo.mean(0), emb - emb.mean(0)
        u, sv, vt = np.linalg.svd(e0.T @ g0)
        fitted = e0 @ (u @ vt) * (sv.sum() / max((e0**2).sum(), 1e-12)) + geo.mean(0)
        r = np.corrcoef(_distances(emb), _distances(geo))[0, 1]
        axes[1].scatter(geo[:, 0], geo[:, 1], s=20, color="lightgray", label="map")
        axes[1].scatter(fitted[:, 0], fitted[:, 1], s=20, color="tab:red", label="embedding")
        for n, g, f in zip(known, geo, fitted, strict=True):
            axes[1].plot([g[0], f[0]], [g[1], f[1]], color="lightgray", lw=0.8)
            axes[1].annotate(n, f, fontsize=9, xytext=(3, 3), textcoords="offset points")
        axes[1].legend(fontsize=8)
        axes[1].set(
            title=f"Rotated onto the map (distance correlation {r:.2f})",
            xlabel="longitude",
            ylabel="latitude",
        )
    fig.tight_layout()
    return fig


def _distances(p: np.ndarray) -> np.ndarray:
    d = np.sqrt(((p[:, None] - p[None]) ** 2).sum(-1))
    return d[np.triu_indices(len(p), 1)]
