"""Rossmann: the generator, the time split, the course's features, the Kaggle path,
RMSPE end to end, a tiny embedding net with its diagnostics, the baselines."""

import numpy as np
import pandas as pd
import pytest
import requests

from harness.competition import data, registry
from harness.competition.sources import SourceError
from harness.metrics import get_metric
from harness.paths import submissions_dir
from harness.run import pipeline
from harness.run.submission import read
from tests.conftest import write

TRAIN = [
    "Store",
    "DayOfWeek",
    "Date",
    "Sales",
    "Customers",
    "Open",
    "Promo",
    "StateHoliday",
    "SchoolHoliday",
]
TEST = ["Id", "Store", "DayOfWeek", "Date", "Open", "Promo", "StateHoliday", "SchoolHoliday"]
STORE = [
    "Store",
    "StoreType",
    "Assortment",
    "CompetitionDistance",
    "CompetitionOpenSinceMonth",
    "CompetitionOpenSinceYear",
    "Promo2",
    "Promo2SinceWeek",
    "Promo2SinceYear",
    "PromoInterval",
]


@pytest.fixture(scope="module")
def rossmann():
    return registry.get("rossmann").module


@pytest.fixture(scope="module")
def tables(rossmann):
    """40 stores over Kaggle's whole period, generated once."""
    return rossmann.simulate.simulate(40, seed=7)


def test_the_generator_is_deterministic_and_has_kaggles_schema(rossmann, tables):
    again = rossmann.simulate.simulate(40, seed=7)
    for name in tables:
        pd.testing.assert_frame_equal(tables[name], again[name])
    other = rossmann.simulate.simulate(40, seed=8)
    assert not tables["train"].Sales.equals(other["train"].Sales)
    train, test, store = tables["train"], tables["test"], tables["store"]
    assert list(train.columns) == TRAIN and list(test.columns) == TEST
    assert list(store.columns) == STORE
    assert list(tables["store_states"].columns) == ["Store", "State"]
    assert set(tables["store_states"].State) <= set(rossmann.simulate.STATES)
    for col in ("Store", "DayOfWeek", "Sales", "Customers", "Open", "Promo", "SchoolHoliday"):
        assert pd.api.types.is_integer_dtype(train[col]), col
    assert set(train.StateHoliday) == {"0", "a", "b", "c"}
    assert (train.Date.min(), train.Date.max()) == ("2013-01-01", "2015-07-31")
    assert (test.Date.min(), test.Date.max()) == ("2015-08-01", "2015-09-17")
    assert list(test.Id) == list(range(1, len(test) + 1)) and len(test) == 40 * 48
    # Kaggle's order: the latest date first, stores ascending within a date
    dates = pd.to_datetime(train.Date)
    assert dates.is_monotonic_decreasing
    assert (train.groupby("Date").Store.apply(lambda s: s.is_monotonic_increasing)).all()
    weekday = dates.dt.day_of_week + 1
    assert (weekday == train.DayOfWeek).all()
    assert set(store.StoreType) == {"a", "b", "c", "d"} and set(store.Assortment) <= {"a", "b", "c"}
    assert set(store.PromoInterval.dropna()) <= set(rossmann.simulate.PROMO_INTERVALS)
    assert store.Promo2SinceYear.isna().equals(store.Promo2 == 0)
    # Kaggle lacks the second half of 2014 for some stores
    per_store = train.groupby("Store").size()
    assert per_store.max() == 942 and (per_store == 942 - 184).sum() == round(40 * 180 / 1115)


def test_closed_days_sell_nothing_and_the_structure_is_there(tables):
    train = tables["train"].merge(tables["store"], on="Store")
    closed = train[train.Open == 0]
    assert (closed.Sales == 0).all() and (closed.Customers == 0).all()
    open_ = train[train.Open == 1]
    assert (open_.Sales > 0).mean() > 0.999  # Kaggle also has a few open days without sales
    assert ((open_.Customers > 0) == (open_.Sales > 0)).all()
    sunday = train.DayOfWeek == 7
    assert train[sunday].Open.mean() < 0.2 and train[~sunday].Open.mean() > 0.9
    assert train[sunday & (train.StoreType == "b")].Open.mean() > 0.9  # type b opens Sundays
    holiday = train.StateHoliday != "0"
    assert train[holiday].Open.mean() < 0.2
    christmas = train.Date.str.endswith(("12-25", "12-26"))
    assert (train[christmas].StateHoliday == "c").all() and (train[christmas].Open == 0).all()
    assert set(train[train.Date == "2015-04-03"].StateHoliday) == {"b"}  # Good Friday
    # per store, as a ratio, so store sizes cancel out
    ratio = open_.groupby(["Store", "Promo"]).Sales.mean().unstack()
    assert (ratio[1] / ratio[0]).median() > 1.2
    month = open_.Date.str[5:7]
    december = open_[month == "12"].groupby("Store").Sales.mean()
    rest = open_[~month.isin(["11", "12"])].groupby("Store").Sales.mean()
    assert (december / rest).median() > 1.1
    sat = open_[open_.DayOfWeek == 6].groupby("Store").Sales.mean()
    mon = open_[open_.DayOfWeek == 1].groupby("Store").Sales.mean()
    assert (mon / sat).median() > 1.1
    # school holidays differ between states (summer slots rotate)
    school = train[train.Date.between("2014-06-20", "2014-09-15")]
    by_state = school.merge(tables["store_states"], on="Store").groupby("State").SchoolHoliday
    starts = by_state.apply(lambda s: s.index[s.to_numpy() == 1].size)
    assert starts.nunique() > 1
    # a store type's level: b sells most (Kaggle's means: b about 10,000, others 7,000)
    by_type = open_.groupby("StoreType").Sales.mean()
    assert by_type.idxmax() == "b" and 5000 < open_.Sales.mean() < 9000


def test_the_split_is_by_time_as_on_kaggle(ready, rossmann):
    comp = registry.get("rossmann")
    p = data.current(comp)
    train, valid, test = (p.load(s) for s in ("train", "valid", "test"))
    labels = p.test_labels()
    days = sorted(pd.concat([train.Date, valid.Date, test.Date]).unique())
    test_days, valid_days = sorted(test.Date.unique()), sorted(valid.Date.unique())
    assert test_days == days[-48:] and valid_days == days[-90:-48]
    assert train.Date.max() < valid.Date.min() and valid.Date.max() < test.Date.min()
    assert {"Sales", "Customers"}.isdisjoint(test.columns)
    assert list(test.Id) == list(range(1, len(test) + 1))
    assert test.Date.is_monotonic_decreasing
    assert len(test) == rossmann.OFFLINE_STORES["offline"] * 48  # every store, every day
    # the earlier half of the test days is public
    usage = test.merge(labels, on="Id").groupby("Usage").Date
    assert usage.max()["Public"] < usage.min()["Private"]
    assert p.manifest["public_rows"] == p.manifest["private_rows"] == len(test) // 2
    assert set(rossmann.FEATURES) <= set(train.columns) and set(rossmann.FEATURES) <= set(
        test.columns
    )
    files = {
        f: pd.read_csv(p.files / f, dtype={"StateHoliday": str})
        for f in ("train.csv", "test.csv", "store.csv", "store_states.csv")
    }
    assert list(files["train.csv"].columns) == TRAIN and list(files["test.csv"].columns) == TEST
    assert list(files["store.csv"].columns) == STORE
    assert len(files["train.csv"]) == len(train) + len(valid)
    assert files["train.csv"].Date.max() < files["test.csv"].Date.min()


def test_features_on_a_hand_made_frame(rossmann):
    days = pd.date_range("2015-03-01", periods=10)  # a Sunday
    df = pd.DataFrame(
        {
            "Store": np.repeat([1, 2], 10),
            "Date": np.tile(days, 2),
            "Promo": np.tile([0, 1, 1, 0, 0, 0, 0, 0, 1, 0], 2),
            "StateHoliday": ["0"] * 4 + ["a"] + ["0"] * 15,  # store 1, 2015-03-05
            "SchoolHoliday": [0] * 10 + [1, 1] + [0] * 8,  # store 2, the first two days
        }
    )
    store = pd.DataFrame(
        {
            "Store": [1, 2],
            "StoreType": ["a", "c"],
            "Assortment": ["a", "c"],
            "CompetitionDistance": [500.0, np.nan],
            "CompetitionOpenSinceMonth": [2, np.nan],
            "CompetitionOpenSinceYear": [2015, np.nan],
            "Promo2": [1, 0],
            "Promo2SinceWeek": [10, np.nan],
            "Promo2SinceYear": [2015, np.nan],
            "PromoInterval": ["Mar,Jun,Sept,Dec", np.nan],
            "State": ["BY", "NW"],
        }
    )
    shuffled = df.sample(frac=1, random_state=0)
    out = rossmann.add_features(shuffled, store, cap=30)
    assert list(out.index) == list(range(20)) and (out.Date.to_numpy() == shuffled.Date).all()
    out = out.sort_values(["Store", "Date"]).set_index(["Store", out.Date.dt.day])
    one, two = out.loc[1], out.loc[2]
    assert list(one.AfterStateHoliday) == [30] * 4 + [0, 1, 2, 3, 4, 5]
    assert list(one.BeforeStateHoliday) == [4, 3, 2, 1, 0] + [30] * 5
    assert list(one.StateHoliday_bw) == [0] * 4 + [1] * 6  # the 7 days up to each day
    assert list(one.StateHoliday_fw) == [1] * 5 + [0] * 5  # the 7 days from each day
    assert set(two.AfterStateHoliday) == set(two.BeforeStateHoliday) == {30}
    assert list(two.AfterSchoolHoliday) == [0, 0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert list(one.AfterPromo) == [30, 0, 0, 1, 2, 3, 4, 5, 0, 1]
    assert list(one.BeforePromo) == [1, 0, 0, 5, 4, 3, 2, 1, 0, 30]
    assert list(one.Promo_fw) == [2, 2, 2, 1, 1, 1, 1, 1, 1, 0]
    # date parts as fastai's add_datepart, store joins and the course's elapsed columns
    assert list(one.Day) == list(range(1, 11)) and set(one.Month) == {3} and one.Week.iloc[0] == 9
    assert one.Is_month_start.iloc[0] and not one.Is_month_start.iloc[1]
    assert list(one.State.unique()) == ["BY"] and one.Elapsed.iloc[0] == days[0].timestamp()
    assert list(one.CompetitionDaysOpen) == [14 + d for d in range(10)]  # since Feb 15
    assert set(one.CompetitionMonthsOpen) == {0}
    assert set(two.CompetitionDaysOpen) == {0} and set(two.CompetitionOpenSinceYear) == {1900}
    assert list(one.Promo2Days) == [0] + list(range(0, 9))  # ISO week 10 of 2015 began on Mar 2
    assert set(two.Promo2Weeks) == {0} and set(two.Promo2SinceYear) == {1900}


def test_kaggle_files_placed_by_hand(home, rossmann):
    comp = registry.get("rossmann")
    tables = rossmann.simulate.simulate(6, seed=3, start="2015-01-01")
    raw = data.data_dir("rossmann") / "raw" / "kaggle"
    raw.mkdir(parents=True)
    for name in ("train", "test", "store"):  # no store_states.csv: it is not Kaggle's
        tables[name].to_csv(raw / f"{name}.csv", index=False)
    p = data.fetch_and_prepare(comp, "kaggle", log=lambda *_: None)
    assert p.source == "kaggle" and data.current(comp).fingerprint == p.fingerprint
    assert p.manifest["rows"]["test"] == 6 * 48 and p.manifest["rows"]["valid"] == 6 * 42
    assert sum(p.manifest["rows"].values()) == len(tables["train"])
    kaggle_test = pd.read_csv(p.path / "kaggle" / "test.csv", dtype={"StateHoliday": str})
    pd.testing.assert_frame_equal(kaggle_test, tables["test"])
    assert p.load("train").State.isna().all()  # unknown without store_states.csv
    assert not (p.files / "store_states.csv").exists()
    labels = p.test_labels().merge(p.load("test"), on="Id")
    truth = tables["train"].assign(Date=pd.to_datetime(tables["train"].Date))
    merged = labels.merge(truth, on=["Store", "Date"], suffixes=("", "_kaggle"))
    assert len(merged) == len(labels) and (merged.Sales == merged.Sales_kaggle).all()


def test_a_403_says_to_accept_the_rules(home, monkeypatch, rossmann):
    """The kaggle client's 403 (rules not accepted), however the core words its error."""

    def forbidden(slug, raw_dir, names):
        response = requests.Response()
        response.status_code = 403
        cause = requests.HTTPError("You must accept this competition's rules", response=response)
        raise SourceError(f"Kaggle download of {slug} failed") from cause

    monkeypatch.setattr(rossmann, "kaggle_competition_files", forbidden)
    with pytest.raises(
        SourceError, match="https://www.kaggle.com/competitions/rossmann-store-sales/rules"
    ) as e:
        data.fetch_and_prepare(registry.get("rossmann"), "kaggle", log=lambda *_: None)
    assert "403" in str(e.value) and "accept" in str(e.value).lower()
    # other failures keep their own message

    def no_credentials(slug, raw_dir, names):
        raise SourceError("no Kaggle credentials")

    monkeypatch.setattr(rossmann, "kaggle_competition_files", no_credentials)
    with pytest.raises(SourceError, match="^no Kaggle credentials$"):
        data.fetch_and_prepare(registry.get("rossmann"), "kaggle", log=lambda *_: None)


def test_rmspe_ignores_days_without_sales_end_to_end(ready, tmp_path):
    p = data.current(registry.get("rossmann"))
    labels = p.test_labels()
    assert (labels.Sales == 0).any()  # closed days are in the hidden test
    # right on every day with sales, absurd on the others: a perfect score
    sales = np.where(labels.Sales > 0, labels.Sales, 1e6)
    path = tmp_path / "truth.csv"
    pd.DataFrame({"Id": labels.Id, "Sales": sales}).to_csv(path, index=False)
    row = pipeline.submit("rossmann", path, "ann")
    assert (row["public_score"], row["private_score"]) == (0.0, 0.0)
    # 10% too high everywhere: an RMSPE of 0.1 exactly
    pd.DataFrame({"Id": labels.Id, "Sales": labels.Sales * 1.1}).to_csv(path, index=False)
    row = pipeline.submit("rossmann", path, "ann")
    assert row["metric"] == "rmspe" and row["higher_is_better"] is False
    assert row["public_score"] == pytest.approx(0.1) and row["private_score"] == pytest.approx(0.1)


def test_submissions_are_in_sales_and_the_nets_log_is_undone(rossmann):
    test = pd.DataFrame({"Id": [1, 2, 3], "Open": [1, 0, np.nan]})
    sub = rossmann.to_submission(test, [100.0, 200.0, 300.0])
    assert list(sub.columns) == ["Id", "Sales"]
    assert np.allclose(sub.Sales, [100.0, 0.0, 300.0])  # Kaggle's NaN Open counts as open
    # dls trains on log(Sales); the train(dls) path turns its predictions back into sales
    assert np.allclose(rossmann.from_dls_target(np.log([100.0, 200.0])), [100.0, 200.0])
    with pytest.raises(ValueError, match="look like log\\(Sales\\)"):
        rossmann.to_submission(test, np.log([5000.0, 6000.0, 7000.0]))


STORE_MEDIAN = '''"""Each store's median sales on its days with sales: a fit_predict in sales."""

def fit_predict(train, valid, test):
    sold = train[train.Sales > 0]
    return test.Store.map(sold.groupby("Store").Sales.median()).to_numpy()
'''


def test_a_fit_predict_returning_sales_is_scored(ready, tmp_path):
    """The submission's unit, as in the Sales column and Kaggle's Id,Sales."""
    row = pipeline.submit("rossmann", write(tmp_path / "median.py", STORE_MEDIAN), "ann")
    assert row["status"] == "scored", row["log"][-2000:]
    p = data.current(registry.get("rossmann"))
    train, test, labels = p.load("train"), p.load("test"), p.test_labels()
    sold = train[train.Sales > 0]
    median = test.Store.map(sold.groupby("Store").Sales.median()).to_numpy()
    public = (labels.Usage == "Public").to_numpy()
    by_hand = get_metric("rmspe")(labels.Sales[public].to_numpy(), median[public])
    assert row["public_score"] == pytest.approx(by_hand) and 0.05 < by_hand < 0.5


TINY = '''"""A tiny net with entity embeddings, a fifth of an epoch."""
from fastai.tabular.all import *

def train(dls):
    learn = tabular_learner(dls, layers=[20, 10], y_range=(0, 12), metrics=exp_rmspe)
    learn.fit_one_cycle(1, 1e-2, cbs=ShortEpochCallback(pct=0.2, short_valid=False))
    return learn
'''


def test_a_tiny_embedding_net_leaves_its_maps_and_reproduces(ready, tmp_path, rossmann):
    row = pipeline.submit("rossmann", write(tmp_path / "tiny.py", TINY), "ann")
    assert row["status"] == "scored", row["log"][-3000:]
    assert 0 < row["public_score"] < 1  # barely trained, yet better than nothing
    found = {a["name"]: a["path"] for a in row["artifacts"]}
    assert set(found) == {
        "store_embedding.png",
        "dayofweek_embedding.png",
        "month_embedding.png",
        "state_embedding.png",
        "embedding_pca.csv",
    }
    pcs = pd.read_csv(found["embedding_pca.csv"])
    levels = pcs.groupby("variable")["level"].apply(list)
    assert levels["DayOfWeek"] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert len(levels["Month"]) == 12 and len(levels["Store"]) == rossmann.OFFLINE_STORES["offline"]
    assert set(levels["State"]) == set(rossmann.simulate.STATES)
    assert pipeline.reproduce(row["id"])["identical"] is True  # same seed, same score


def test_the_one_hot_net_has_nothing_learned_to_map_and_trees_get_codes(ready, rossmann, tmp_path):
    """Untrained nets on a slice of the data: one-hot inputs, embeddings, tree inputs."""
    import torch

    p = data.current(registry.get("rossmann"))
    train, valid = p.load("train").tail(3000), p.load("valid").head(500)
    dls = rossmann.dls(train, valid, bs=64)
    models = rossmann.models
    one_hot = models.tabular_net(dls, one_hot=True)
    emb = one_hot.model.embeds[dls.cat_names.index("DayOfWeek")]
    assert not emb.weight.requires_grad and torch.equal(emb.weight, torch.eye(8))
    assert models.embeddings(one_hot) == {}
    rossmann.diagnose(one_hot, tmp_path / "none")
    assert not (tmp_path / "none").exists()
    net = models.tabular_net(dls)
    found = models.embeddings(net)
    assert list(found) == list(dls.cat_names)
    # trees: fastai's own category codes, or the embedding rows they index
    sold = train[train.Sales > 0]
    codes = models.tree_inputs(dls, sold)
    assert (codes[list(dls.cat_names)].to_numpy() == dls.train_ds.cats.to_numpy()).all()
    vectors = models.tree_inputs(dls, sold, net)
    width = sum(w.shape[1] for _, w in found.values()) + len(dls.cont_names)
    assert vectors.shape == (len(codes), width)
    store = found["Store"][1][dls.train_ds.cats.Store.to_numpy()]
    assert np.allclose(vectors.filter(regex="^Store_").to_numpy(), store)


BASELINES = sorted((submissions_dir() / "rossmann").glob("*.py"))


@pytest.mark.parametrize("path", BASELINES, ids=lambda p: p.name)
def test_every_net_of_the_table_is_the_courses_trained_alike(path, rossmann):
    config = read(path).config or {}
    net = config.get("net", config)
    if "layers" in net:
        assert {k: net[k] for k in rossmann.models.NET} == rossmann.models.NET
