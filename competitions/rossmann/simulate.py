"""A generator of Rossmann-like store sales with Kaggle's exact schema.

`simulate(n_stores, seed)` returns Kaggle's `train.csv`, `test.csv` and `store.csv`
tables and the external `store_states.csv` (fast.ai's), as DataFrames. Everything is
computed on a stores × days grid with numpy: a million rows take a couple of seconds.
The generating model is described in the competition's README; in short, log sales are
a sum of store, store-type, assortment and state levels, a growth trend, weekly and
yearly seasonality, Christmas and Easter, promotions, school and public holidays of the
store's state, competitors opening nearby, refurbishment closures and AR(1) noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

START, END = "2013-01-01", "2015-07-31"  # Kaggle's train.csv
TEST_DAYS = 48  # Kaggle's test.csv: 2015-08-01 to 2015-09-17

# German states as in fast.ai's store_states.csv (Bremen and Lower Saxony share a code):
# rough centroid (longitude, latitude) and share of stores
STATES = {
    "NW": (7.5, 51.5, 0.255),
    "BY": (11.4, 48.9, 0.16),
    "SH": (9.8, 54.2, 0.10),
    "HE": (9.0, 50.6, 0.10),
    "BE": (13.4, 52.5, 0.083),
    "SN": (13.2, 51.0, 0.067),
    "HB,NI": (9.2, 52.8, 0.065),
    "BW": (9.0, 48.5, 0.04),
    "ST": (11.7, 52.0, 0.05),
    "RP": (7.4, 49.9, 0.036),
    "TH": (11.0, 50.9, 0.032),
    "HH": (10.0, 53.55, 0.025),
}
STATE_NAMES = list(STATES)
STORE_TYPES = {"a": 0.54, "b": 0.015, "c": 0.133, "d": 0.312}  # Kaggle's shares
# log-sales level of each store type and assortment (Kaggle's means by type, roughly)
TYPE_LEVEL = {"a": 0.0, "b": 0.35, "c": 0.0, "d": -0.02}
ASSORTMENT_LEVEL = {"a": 0.0, "b": 0.15, "c": 0.08}
BASKET = {"a": 8.8, "b": 5.1, "c": 8.6, "d": 11.3}  # euros a customer, by store type
PROMO_INTERVALS = ["Jan,Apr,Jul,Oct", "Feb,May,Aug,Nov", "Mar,Jun,Sept,Dec"]
# yearly seasonality in log sales, at mid-month (Kaggle's monthly means, roughly)
MONTH_LEVEL = np.array([-0.03, -0.03, 0.01, 0.02, 0.02, 0.01, 0.0, -0.04, -0.05, -0.04, 0.03, 0.08])
# Monday..Sunday without promotion; Monday also gains most from a promotion
DOW_LEVEL = np.array([0.05, -0.02, -0.05, -0.04, 0.02, -0.10, 0.10])
GAP = ("2014-07-01", "2014-12-31")  # Kaggle lacks these six months for 180 stores
GAP_SHARE = 180 / 1115


def easter(years: np.ndarray) -> np.ndarray:
    """Easter Sunday of each year (anonymous Gregorian algorithm), as datetime64[D]."""
    y = np.asarray(years)
    a, b, c = y % 19, y // 100, y % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month = (h + m - 7 * n + 114) // 31
    day = (h + m - 7 * n + 114) % 31 + 1
    return pd.to_datetime(dict(year=y, month=month, day=day)).to_numpy().astype("datetime64[D]")


def _day(year: int, month: int, day: int) -> np.datetime64:
    return np.datetime64(f"{year:04d}-{month:02d}-{day:02d}", "D")


def public_holidays(days: np.ndarray) -> np.ndarray:
    """Kaggle's StateHoliday code per state and day: 0 none, 1 'a', 2 'b' (Easter), 3 'c'.

    The real German holidays of 2013-2016: national ones, and Epiphany, Corpus Christi,
    Assumption, Reformation Day, All Saints and Repentance Day where they are law.
    """
    out = np.zeros((len(STATES), len(days)), dtype=np.int8)
    index = {s: i for i, s in enumerate(STATE_NAMES)}
    pos = {d: i for i, d in enumerate(days)}

    def mark(day, code, states=STATE_NAMES):
        if day in pos:
            out[[index[s] for s in states], pos[day]] = code

    years = np.arange(
        days[0].astype("datetime64[Y]").astype(int) + 1970,
        days[-1].astype("datetime64[Y]").astype(int) + 1971,
    )
    for year, e in zip(years, easter(years), strict=True):
        for m, d in ((1, 1), (5, 1), (10, 3)):
            mark(_day(year, m, d), 1)
        mark(e - 2, 2)  # Good Friday
        mark(e + 1, 2)  # Easter Monday
        mark(e + 39, 1)  # Ascension
        mark(e + 50, 1)  # Whit Monday
        mark(_day(year, 12, 25), 3)
        mark(_day(year, 12, 26), 3)
        mark(_day(year, 1, 6), 1, ["BW", "BY", "ST"])
        mark(e + 60, 1, ["BW", "BY", "HE", "NW", "RP"])  # Corpus Christi
        mark(_day(year, 8, 15), 1, ["BY"])
        mark(_day(year, 10, 31), 1, ["SN", "ST", "TH"])
        mark(_day(year, 11, 1), 1, ["BW", "BY", "NW", "RP"])
        nov22 = _day(year, 11, 22)
        weekday = (nov22.astype(int) + 3) % 7  # 1970-01-01 was a Thursday (3)
        mark(nov22 - (weekday - 2) % 7, 1, ["SN"])  # the Wednesday before Nov 23
    return out


def school_holidays(days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Whether schools are out, per state and day: Christmas, winter, Easter, Whitsun,
    a six-week summer slot that rotates between years (late in Bavaria and
    Baden-Württemberg, as in reality) and autumn."""
    out = np.zeros((len(STATES), len(days)), dtype=bool)
    first = days[0].astype("datetime64[Y]").astype(int) + 1970 - 1
    last = days[-1].astype("datetime64[Y]").astype(int) + 1970 + 1
    years = np.arange(first, last + 1)
    eas = easter(years)

    def span(i, start, length):
        out[i] |= (days >= start) & (days < start + np.timedelta64(int(length), "D"))

    def monday(day):
        return day - (day.astype(int) + 3) % 7

    for i, state in enumerate(STATE_NAMES):
        lon, lat, _ = STATES[state]
        group = int(rng.integers(0, 6))  # its place in the summer rotation
        for year, e in zip(years, eas, strict=True):
            span(i, _day(year, 12, 21) + rng.integers(0, 3), 15 + rng.integers(0, 3))
            if lon > 10 or state in ("BY", "HB,NI", "HH"):  # east and some others: Feb week
                span(i, monday(_day(year, 2, 1)) + 7 * int(rng.integers(0, 4)), 7)
            span(i, monday(e - 13) + 7 * int(rng.integers(0, 2)), 14 + rng.integers(0, 3))
            if state == "BY":
                span(i, e + 50, 12)
            elif state == "BW":
                span(i, e + 50, 6)
            else:
                span(i, e + 40, 1)  # the Friday after Ascension
            if state in ("BY", "BW"):
                span(i, monday(_day(year, 7, 30)) + 3 * (state == "BY"), 45)
            else:
                slot = (group + year) % 6
                span(i, monday(_day(year, 6, 22)) + 7 * slot, 42 + rng.integers(0, 3))
            if state == "BY":
                span(i, monday(_day(year, 10, 29)), 7)
            else:
                weeks = 2 if lat < 51 else 1 + int(rng.integers(0, 2))
                span(i, monday(_day(year, 10, 1)) + 7 * int(rng.integers(0, 3)), 7 * weeks)
    return out


def promo_days(days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rossmann's chain-wide promotion: Monday to Friday of every other week, with the
    rhythm slipping by a week a few times a year."""
    weeks = (days - days[0] + (days[0].astype(int) + 3) % 7).astype(int) // 7
    slips = np.cumsum(rng.random(weeks.max() + 1) < 0.06)
    weekday = (days.astype(int) + 3) % 7
    return ((weeks + slips[weeks]) % 2 == 0) & (weekday < 5)


def _allocate(n: int, shares: dict, rng: np.random.Generator) -> np.ndarray:
    """n labels in the given shares (largest remainder, each at least once), shuffled."""
    names = list(shares)
    p = np.array([shares[k] for k in names], dtype=float)
    p /= p.sum()
    counts = np.floor(p * n).astype(int)
    counts[np.argsort(-(p * n - counts), kind="stable")[: n - counts.sum()]] += 1
    if n >= len(names):
        while (counts == 0).any():  # take one from the largest for each missing label
            counts[np.argmax(counts)] -= 1
            counts[np.argmin(counts)] += 1
    return rng.permutation(np.repeat(np.array(names, dtype=object), counts))


def stores(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """store.csv, store_states.csv and each store's hidden traits (numpy arrays)."""
    urban, tourist = rng.normal(size=n), rng.normal(size=n)
    kind = _allocate(n, STORE_TYPES, rng)
    state = _allocate(n, {s: v[2] for s, v in STATES.items()}, rng)
    p_ext = 1 / (1 + np.exp(-(0.8 * urban - 0.1)))  # extended assortment: urban stores
    assortment = np.where(rng.random(n) < p_ext, "c", "a").astype(object)
    assortment[(kind == "b") & (rng.random(n) < 0.5)] = "b"
    distance = np.exp(np.log(2300) - 0.6 * urban + rng.normal(0, 0.9, n))
    distance = np.clip(np.round(distance, -1), 20, 75860)
    distance[rng.permutation(n)[: round(n * 0.003)]] = np.nan
    known = rng.random(n) < 0.68
    year = rng.choice(np.arange(1990, 2016), size=n, p=_year_weights())
    year[rng.random(n) < 0.01] = 1900
    month = rng.integers(1, 13, n).astype(float)
    month[(year == 2015) & (month > 9)] = 9
    promo2 = (rng.random(n) < 0.51).astype(int)
    p2_year = rng.integers(2009, 2016, n).astype(float)
    p2_week = rng.integers(1, 51, n).astype(float)
    interval = rng.choice(PROMO_INTERVALS, size=n, p=[0.59, 0.23, 0.18]).astype(object)
    no_comp = ~known | np.isnan(distance)
    table = pd.DataFrame(
        {
            "Store": np.arange(1, n + 1),
            "StoreType": kind,
            "Assortment": assortment,
            "CompetitionDistance": distance,
            "CompetitionOpenSinceMonth": np.where(no_comp, np.nan, month),
            "CompetitionOpenSinceYear": np.where(no_comp, np.nan, year.astype(float)),
            "Promo2": promo2,
            "Promo2SinceWeek": np.where(promo2 == 1, p2_week, np.nan),
            "Promo2SinceYear": np.where(promo2 == 1, p2_year, np.nan),
            "PromoInterval": np.where(promo2 == 1, interval, np.nan),
        }
    )
    south = np.array([(51 - STATES[s][1]) / 2.5 for s in state])
    east = np.array([np.clip((STATES[s][0] - 10) / 3, 0, 1) for s in state])
    traits = {
        "urban": urban,
        "tourist": tourist,
        "state": np.array([STATE_NAMES.index(s) for s in state]),
        "level": (
            np.log(5500)
            + 0.12 * urban
            + 0.05 * tourist
            + 0.04 * south
            - 0.06 * east
            + np.array([TYPE_LEVEL[k] for k in kind])
            + np.array([ASSORTMENT_LEVEL[a] for a in assortment])
            - 0.08 * promo2
            + rng.normal(0, 0.28, n)
        ),
        "growth": rng.normal(0.03, 0.05, n),  # per year
        "dow": DOW_LEVEL
        + np.c_[0.02 - 0.03 * urban, np.zeros((n, 4)), 0.07 * urban, np.zeros(n)]
        + rng.normal(0, 0.03, (n, 7)),
        "promo": 0.30 - 0.05 * urban + rng.normal(0, 0.06, n),
        "school": 0.02 + 0.06 * tourist - 0.03 * urban + rng.normal(0, 0.02, n),
        "christmas": 1 + 0.15 * urban + rng.normal(0, 0.1, n),
        "sundays": (kind == "b") | (tourist > 2.4),
        "basket": np.array([BASKET[k] for k in kind]) * np.exp(rng.normal(0, 0.1, n)),
        "noise": 0.05 + 0.02 * rng.random(n) + 0.03 * (kind == "b"),
        "comp_open": pd.to_datetime(
            dict(
                year=np.where(no_comp, 1900, year),
                month=np.where(no_comp, 1, month).astype(int),
                day=15,
            )
        )
        .to_numpy()
        .astype("datetime64[D]"),
        "comp_hit": np.where(no_comp, 0.0, 0.03 + 0.3 * np.exp(-np.nan_to_num(distance) / 2500)),
    }
    states = pd.DataFrame({"Store": table.Store, "State": state})
    return table, states, traits


def _year_weights() -> np.ndarray:
    years = np.arange(1990, 2016)
    w = np.where(years >= 2013, 3.0, np.where(years >= 2005, 2.5, 0.5))
    return w / w.sum()


def simulate(
    n_stores: int = 1115,
    seed: int = 0,
    start: str = START,
    end: str = END,
    test_days: int = TEST_DAYS,
    hidden_from: str | None = None,
    hidden_seed: int | None = None,
) -> dict[str, pd.DataFrame]:
    """Kaggle's tables for `n_stores` stores from `start` to `end`, plus a test period.

    `hidden_from` and `hidden_seed`: from that day on, the sales noise (the AR(1)
    innovations and the daily noise) is drawn from `hidden_seed` instead of `seed`, so
    the days a competition hides cannot be rebuilt from the public seed; everything
    before the day, and every other draw, stays as `seed` makes it. Without them (or with
    `hidden_seed == seed`) the tables are the published ones.

    Returns:
        {"train": train.csv (Date descending, then Store, as Kaggle), "test": test.csv
        (the `test_days` days after `end`: Id, no Sales or Customers), "store": store.csv,
        "store_states": store_states.csv}. The same arguments give the same tables.
    """
    from scipy.signal import lfilter  # AR(1) noise; scipy is slow to import, so only here

    rng = np.random.default_rng(seed)
    days = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + test_days + 1)
    n_d = len(days)
    store, store_states, t = stores(n_stores, rng)
    holiday = public_holidays(days)[t["state"]]  # stores × days
    school = school_holidays(days, rng)[t["state"]]
    promo = np.broadcast_to(promo_days(days, rng), (n_stores, n_d))
    dates = pd.DatetimeIndex(days)
    weekday = dates.day_of_week.to_numpy()
    month, dom = dates.month.to_numpy(), dates.day.to_numpy()
    years = (days - days[0]).astype(float) / 365.25

    # who is open: Sundays and holidays closed (type b and a few tourist stores excepted),
    # a rare closed day, and refurbishments of two to twelve weeks
    sunday = weekday == 6
    open_ = np.ones((n_stores, n_d), dtype=bool)
    open_[:, sunday] = t["sundays"][:, None]
    on_holiday = rng.random((n_stores, n_d)) < np.where(t["sundays"], 0.6, 0.01)[:, None]
    open_ &= (holiday == 0) | on_holiday
    open_[:, (month == 12) & ((dom == 25) | (dom == 26))] = False
    open_ &= rng.random((n_stores, n_d)) > 0.002
    refurb = np.flatnonzero(rng.random(n_stores) < 0.06)
    starts = rng.integers(0, n_d - 14, len(refurb))
    lengths = rng.integers(14, 85, len(refurb))
    d = np.arange(n_d)
    closed = (d >= starts[:, None]) & (d < (starts + lengths)[:, None])
    open_[refurb] &= ~closed
    since_reopen = np.full((n_stores, n_d), np.inf)
    since_reopen[refurb] = np.where(
        d >= (starts + lengths)[:, None], d - (starts + lengths)[:, None], np.inf
    )

    log_s = t["level"][:, None] + t["growth"][:, None] * years
    log_s = log_s + t["dow"][:, weekday]
    # seasonality: monthly levels interpolated daily, then Christmas shopping
    doy_mid = np.array([pd.Timestamp(2013, m, 15).day_of_year for m in range(1, 13)])
    doy = dates.day_of_year.to_numpy()
    season = np.interp(
        doy,
        np.r_[doy_mid[-1] - 365, doy_mid, doy_mid[0] + 365],
        np.r_[MONTH_LEVEL[-1], MONTH_LEVEL, MONTH_LEVEL[0]],
    )
    xmas = np.where((month == 12) & (dom <= 23), 0.3 * (dom / 23) ** 2, 0.0)
    xmas = xmas + np.where((month == 12) & (dom >= 27) & (dom <= 30), 0.15, 0.0)
    short = np.where((month == 12) & ((dom == 24) | (dom == 31)), -0.3, 0.0)
    log_s = log_s + season + short + t["christmas"][:, None] * xmas
    log_s = log_s + np.where(dom <= 3, 0.04, 0.0) - np.where(dom >= 28, 0.02, 0.0)  # payday
    # Easter: the week before Good Friday sells more
    eas = easter(np.unique(dates.year.to_numpy()))
    before_easter = ((days[:, None] >= eas - 7) & (days[:, None] < eas - 2)).any(axis=1)
    log_s = log_s + 0.06 * before_easter
    # the days around a closed public holiday of the store's state
    hol = holiday > 0
    day_before = np.zeros_like(hol)
    day_before[:, :-1] = hol[:, 1:] & ~hol[:, :-1]
    day_after = np.zeros_like(hol)
    day_after[:, 1:] = hol[:, :-1] & ~hol[:, 1:]
    log_s = log_s + 0.10 * day_before + 0.06 * day_after - 0.1 * hol
    log_s = log_s + t["promo"][:, None] * promo + 0.05 * promo * (weekday == 0)
    log_s = log_s + t["school"][:, None] * school
    # Promo2: a little more in the months of the store's interval, once it has begun
    p2_since = (
        pd.to_datetime(
            store.Promo2SinceYear.fillna(2100).astype(int).astype(str)
            + store.Promo2SinceWeek.fillna(1).astype(int).map("{:02d}".format)
            + "1",
            format="%G%V%u",
        )
        .to_numpy()
        .astype("datetime64[D]")
    )
    months = {
        "Jan": 1,
        "Feb": 2,
        "Mar": 3,
        "Apr": 4,
        "May": 5,
        "Jun": 6,
        "Jul": 7,
        "Aug": 8,
        "Sept": 9,
        "Oct": 10,
        "Nov": 11,
        "Dec": 12,
    }
    first_month = store.PromoInterval.fillna("Jan").str.split(",").str[0].map(months)
    in_interval = (month[None, :] - first_month.to_numpy()[:, None]) % 3 == 0
    log_s = log_s + 0.03 * (in_interval & (days[None, :] >= p2_since[:, None]))
    # a competitor opening nearby: a drop phased in over two months, a third recovered
    # within a year
    age = (days[None, :] - t["comp_open"][:, None]).astype(float)
    new_comp = t["comp_open"] >= days[0]
    hit = np.clip(age / 60, 0, 1) * (1 - 0.3 * np.clip(age / 365, 0, 1))
    log_s = log_s - (t["comp_hit"] * new_comp)[:, None] * hit
    # after a refurbishment: a reopening rush, and a slightly better store
    log_s = log_s + 0.3 * np.exp(-since_reopen / 10) + 0.05 * np.isfinite(since_reopen)
    innovations = rng.normal(size=(n_stores, n_d))
    daily = rng.normal(0, 0.03, (n_stores, n_d))
    if hidden_from is not None and hidden_seed is not None and hidden_seed != seed:
        hidden = days >= np.datetime64(hidden_from, "D")
        secret = np.random.default_rng(hidden_seed)  # the main stream is left as it was
        innovations[:, hidden] = secret.normal(size=(n_stores, int(hidden.sum())))
        daily[:, hidden] = secret.normal(0, 0.03, (n_stores, int(hidden.sum())))
    noise = lfilter([1.0], [1.0, -0.6], innovations, axis=1)  # causal: earlier days unchanged
    log_s = log_s + t["noise"][:, None] * 0.8 * noise + daily

    sales = np.where(open_, np.round(np.exp(log_s)), 0).astype(np.int64)
    sales[open_ & (rng.random((n_stores, n_d)) < 5e-5)] = 0  # open, yet nothing sold
    basket = t["basket"][:, None] * np.exp(rng.normal(0, 0.04, (n_stores, n_d)))
    customers = np.where(sales > 0, np.round(sales / basket), 0).astype(np.int64)

    present = np.ones((n_stores, n_d), dtype=bool)
    gap = (days >= np.datetime64(GAP[0])) & (days <= np.datetime64(GAP[1]))
    if gap.any():
        present[np.ix_(rng.permutation(n_stores)[: round(n_stores * GAP_SHARE)], gap)] = False
    codes = np.array(["0", "a", "b", "c"], dtype=object)
    # rows in Kaggle's order: the latest date first, stores ascending within a date
    order = (slice(None), slice(None, None, -1))
    cols = {
        "Store": np.broadcast_to(store.Store.to_numpy()[:, None], (n_stores, n_d)),
        "DayOfWeek": np.broadcast_to((weekday + 1).astype(np.int64), (n_stores, n_d)),
        "Date": np.broadcast_to(np.datetime_as_string(days), (n_stores, n_d)),
        "Sales": sales,
        "Customers": customers,
        "Open": open_.astype(np.int64),
        "Promo": promo.astype(np.int64),
        "StateHoliday": codes[holiday],
        "SchoolHoliday": school.astype(np.int64),
    }
    keep = present[order].T.ravel()
    flat = {k: np.asarray(v)[order].T.ravel()[keep] for k, v in cols.items()}
    df = pd.DataFrame(flat)
    is_test = df.Date > end
    train = df[~is_test].reset_index(drop=True)
    test = df[is_test].drop(columns=["Sales", "Customers"]).reset_index(drop=True)
    test.insert(0, "Id", np.arange(1, len(test) + 1))
    return {"train": train, "test": test, "store": store, "store_states": store_states}
