"""Times Rossmann's feature preparation at full size: 1,115 stores × 942 days, ~1M rows.

Generates Kaggle-sized data (train.csv plus test.csv's 48 later days, as prepare joins
them), then times `add_features` (the course's features: store join, date parts,
competition and Promo2 ages, elapsed times and 7-day counts of holidays and promotions)
and the whole `prepare` (read the CSVs, features, time split). Prints seconds and
rows per second; best of --repeat runs.

    .venv/bin/python bench/rossmann_features.py [--repeat N] [--stores N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from harness.competition.registry import get


def best(fn, repeat: int) -> tuple[float, object]:
    """The shortest of `repeat` timed calls, and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stores", type=int, default=1115)
    args = parser.parse_args()
    rossmann = get("rossmann").module

    seconds, tables = best(lambda: rossmann.simulate.simulate(args.stores, seed=42), 1)
    n_train = len(tables["train"])
    print(
        f"generate: {n_train:,} train rows + {len(tables['test']):,} test rows "
        f"({args.stores} stores) in {seconds:.2f} s"
    )
    later = tables["test"].drop(columns="Id")
    df = pd.concat([tables["train"], later], ignore_index=True)
    df["Date"] = pd.to_datetime(df.Date)
    df["StateHoliday"] = df.StateHoliday.astype(str)
    store = tables["store"].merge(tables["store_states"], on="Store")
    seconds, out = best(lambda: rossmann.add_features(df, store), args.repeat)
    print(
        f"add_features: {len(df):,} rows, {out.shape[1] - df.shape[1]} columns added, "
        f"{seconds:.2f} s, {len(df) / seconds:,.0f} rows/s (best of {args.repeat})"
    )

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp)
        t0 = time.perf_counter()
        for name, table in tables.items():
            table.to_csv(raw / f"{name}.csv", index=False)
        print(f"write the raw CSVs: {time.perf_counter() - t0:.2f} s")
        seconds, splits = best(lambda: rossmann.prepare("offline-full", raw), args.repeat)
    rows = len(splits.train) + len(splits.valid) + len(splits.test)
    print(
        f"prepare (read the CSVs, features, time split): {rows:,} rows in {seconds:.2f} s, "
        f"{rows / seconds:,.0f} rows/s (best of {args.repeat})"
    )


if __name__ == "__main__":
    main()
