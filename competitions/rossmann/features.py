"""The course's Rossmann features, vectorised with numpy: a million rows in seconds.

`add_features(df, store)` joins the store table and adds what the course's notebook
computed (the Rossmann data-cleaning notebook of fast.ai 2019, lesson 6):
date parts, the age of the nearest competitor and of Promo2, and for school holidays,
state holidays and promotions the days since the last and until the next one and their
counts over the 7 days before and after. The notebook looped over rows; here the
elapsed times come from running maxima over a stores × days grid.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CAP = 60  # days: an elapsed time reads at most this, and this when no event is in sight
EVENTS = ("SchoolHoliday", "StateHoliday", "Promo")
DATE_PARTS = (
    "Year Month Week Day Dayofyear Is_month_end Is_month_start Is_quarter_end "
    "Is_quarter_start Is_year_end Is_year_start Elapsed"
).split()
STORE_FEATURES = (
    "State StoreType Assortment CompetitionDistance CompetitionOpenSinceMonth "
    "CompetitionOpenSinceYear Promo2 Promo2SinceWeek Promo2SinceYear PromoInterval"
).split()
FEATURES = (
    STORE_FEATURES
    + DATE_PARTS
    + ["CompetitionDaysOpen", "CompetitionMonthsOpen", "Promo2Days", "Promo2Weeks"]
    + [f"{w}{e}" for e in EVENTS for w in ("After", "Before")]
    + [f"{e}_{w}" for e in EVENTS for w in ("bw", "fw")]
)


def add_features(df: pd.DataFrame, store: pd.DataFrame, cap: int = CAP) -> pd.DataFrame:
    """The course's Rossmann features, vectorised; rows keep their order.

    Args:
        df: rows in Kaggle's train or test layout (Store, Date, Promo, StateHoliday,
            SchoolHoliday, ...), Date parsed; several stores and days at once.
        store: store.csv, with State beside it.
        cap: the most days an elapsed time reads; no event before (or after) a row
            within the data also reads `cap`.

    Returns:
        df joined with the store columns, plus date parts (fastai's add_datepart),
        days since the competitor opened (CompetitionDaysOpen, CompetitionMonthsOpen up
        to 24) and since Promo2 began (Promo2Days, Promo2Weeks up to 25), as the course;
        for each event (SchoolHoliday, StateHoliday, Promo): days since the last one
        (After...) and until the next (Before...) at the same store, 0 on the day itself,
        and how many of the 7 days up to (..._bw) and from (..._fw) the day have it.
    """
    store = store.copy()
    store["CompetitionOpenSinceYear"] = store.CompetitionOpenSinceYear.fillna(1900).astype(int)
    store["CompetitionOpenSinceMonth"] = store.CompetitionOpenSinceMonth.fillna(1).astype(int)
    store["Promo2SinceYear"] = store.Promo2SinceYear.fillna(1900).astype(int)
    store["Promo2SinceWeek"] = store.Promo2SinceWeek.fillna(1).astype(int)
    comp_since = pd.to_datetime(
        dict(year=store.CompetitionOpenSinceYear, month=store.CompetitionOpenSinceMonth, day=15)
    )
    promo2_since = pd.to_datetime(
        store.Promo2SinceYear.astype(str) + store.Promo2SinceWeek.map("{:02d}".format) + "1",
        format="%G%V%u",
    )  # the Monday of ISO week Promo2SinceWeek
    out = df.merge(store, on="Store", how="left", validate="many_to_one")
    s = out.Store.map(pd.Series(np.arange(len(store)), index=store.Store)).to_numpy()
    date = out.Date
    out["Year"], out["Month"], out["Day"] = date.dt.year, date.dt.month, date.dt.day
    out["Week"] = date.dt.isocalendar().week.astype(np.int64).to_numpy()
    out["Dayofyear"] = date.dt.day_of_year
    for part in DATE_PARTS[5:-1]:  # Is_month_end ... Is_year_start
        out[part] = getattr(date.dt, part.lower())
    out["Elapsed"] = date.to_numpy().astype("datetime64[s]").astype(np.int64)
    days = (date.to_numpy() - comp_since.to_numpy()[s]) // np.timedelta64(1, "D")
    days = np.where(out.CompetitionOpenSinceYear < 1990, 0, np.maximum(days, 0))
    out["CompetitionDaysOpen"] = days
    out["CompetitionMonthsOpen"] = np.minimum(days // 30, 24)
    days = (date.to_numpy() - promo2_since.to_numpy()[s]) // np.timedelta64(1, "D")
    days = np.where(out.Promo2SinceYear < 1990, 0, np.maximum(days, 0))
    out["Promo2Days"] = days
    out["Promo2Weeks"] = np.clip(days // 7, 0, 25)
    day = ((date - date.min()) // pd.Timedelta(days=1)).to_numpy()
    for event in EVENTS:
        happens = (out[event].astype(str) != "0").to_numpy()
        after, before, bw, fw = elapsed(s, day, happens, cap)
        out[f"After{event}"], out[f"Before{event}"] = after, before
        out[f"{event}_bw"], out[f"{event}_fw"] = bw, fw
    return out


def elapsed(group: np.ndarray, day: np.ndarray, event: np.ndarray, cap: int = CAP):
    """Days since and until an event within each group, and 7-day counts back and ahead.

    Args:
        group: an integer code per row (the store), 0..n_groups-1.
        day: an integer day number per row, from 0.
        event: whether the event happens on the row's day.
        cap: the largest value of the elapsed times; also theirs when no event is known.

    Returns:
        (after, before, bw, fw), one int64 value per row. Days without a row count as
        days without the event.
    """
    grid = np.zeros((group.max() + 1, day.max() + 1), dtype=bool)
    grid[group, day] = event
    idx = np.arange(grid.shape[1])
    big = grid.shape[1] + cap + 1
    last = np.maximum.accumulate(np.where(grid, idx, -big), axis=1)
    nxt = np.minimum.accumulate(np.where(grid, idx, 2 * big)[:, ::-1], axis=1)[:, ::-1]
    after = np.minimum(idx - last, cap)
    before = np.minimum(nxt - idx, cap)
    counts = np.zeros((grid.shape[0], grid.shape[1] + 1), dtype=np.int64)
    np.cumsum(grid, axis=1, out=counts[:, 1:])
    n = grid.shape[1]
    bw = counts[:, idx + 1] - counts[:, np.maximum(idx - 6, 0)]
    fw = counts[:, np.minimum(idx + 7, n)] - counts[:, idx]
    return (after[group, day], before[group, day], bw[group, day], fw[group, day])
