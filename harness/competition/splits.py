"""Deterministic, seeded splits for a competition's prepare step.

Every split returns numpy int64 arrays of row positions, sorted ascending, for `df.iloc[idx]`.
Randomness comes only from `np.random.default_rng(seed)`, never from global RNG state, so the
same inputs and seed give the same split on every machine (for a given numpy version: numpy
does not promise identical Generator streams across releases).

Sizes round with Python's `round`, which rounds halves to even: round(2.5) == 2.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

PUBLIC, PRIVATE = "Public", "Private"  # Kaggle's solution-file Usage values


def _check_fraction(fraction: float, what: str = "fraction") -> None:
    """Raises unless 0 < fraction < 1."""
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real):
        raise ValueError(f"{what} must be a number in (0, 1), got {fraction!r}")
    if not 0 < fraction < 1:
        raise ValueError(f"{what} must be in (0, 1), got {fraction!r}")


def _rng(seed: int) -> np.random.Generator:
    """A fresh generator; refuses seed=None, which would draw OS entropy and be unrepeatable."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(int(seed))


def _check_n(n: int, what: str = "n") -> None:
    """Raises unless n is an integer >= 2."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 2:
        raise ValueError(f"{what} must be an integer >= 2, got {n!r}")


def _part_size(n: int, fraction: float, caller: str) -> int:
    """round(n * fraction), refusing a size that leaves either side empty."""
    k = round(n * fraction)
    if k == 0 or k == n:
        side = "part" if k == 0 else "rest"
        raise ValueError(
            f"{caller}: round({n} * {fraction}) = {k} leaves the {side} empty; "
            "use a larger n or a fraction further from 0 and 1"
        )
    return k


def _positions(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions where mask is False, positions where it is True), both int64 and sorted."""
    return np.flatnonzero(~mask).astype(np.int64), np.flatnonzero(mask).astype(np.int64)


def _codes(values, what: str) -> tuple[np.ndarray, int]:
    """Integer codes of values in sorted-value order (so row order cannot change the split)."""
    arr = pd.Series(np.asarray(values, dtype=object).ravel())
    n_missing = int(arr.isna().sum())
    if n_missing:
        raise ValueError(f"{what} contain {n_missing} missing value(s)")
    try:
        codes, uniques = pd.factorize(arr, sort=True)
    except TypeError as e:  # pandas orders most mixed types itself; this catches the rest
        raise ValueError(f"{what} must be mutually comparable to split them: {e}") from None
    return codes.astype(np.int64), len(uniques)


def random_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Splits positions 0..n-1 at random into a rest and a part.

    Args:
        n: the number of rows, at least 2.
        fraction: the part's share, in (0, 1); the part holds exactly round(n * fraction) rows.
        seed: a non-negative integer seed.

    Returns:
        (rest, part): disjoint sorted int64 position arrays that together cover 0..n-1.

    Raises:
        ValueError: n < 2, fraction outside (0, 1), a bad seed, or a size that leaves a
            side empty (e.g. n=3, fraction=0.1).
    """
    _check_n(n)
    _check_fraction(fraction)
    rng = _rng(seed)
    k = _part_size(n, fraction, "random_split")
    mask = np.zeros(n, dtype=bool)
    mask[rng.permutation(n)[:k]] = True
    return _positions(mask)


def stratified_split(labels, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Splits rows at random within each class, so class proportions carry over to the part.

    Each class contributes floor or ceil of count * fraction rows (largest remainder first,
    ties to the smaller class value), so the part holds exactly round(n * fraction) rows.
    A class too small for its share may contribute 0 rows.

    Args:
        labels: one class label per row (ints, strings, ...), at least 2 rows, no missing.
        fraction: the part's share, in (0, 1).
        seed: a non-negative integer seed.

    Returns:
        (rest, part): disjoint sorted int64 position arrays that together cover every row.

    Raises:
        ValueError: fewer than 2 rows, missing labels, fraction outside (0, 1), a bad seed,
            or a size that leaves a side empty.
    """
    codes, n_classes = _codes(labels, "labels")
    n = len(codes)
    _check_n(n, "the number of labels")
    _check_fraction(fraction)
    rng = _rng(seed)
    k = _part_size(n, fraction, "stratified_split")
    counts = np.bincount(codes, minlength=n_classes)
    quota = counts * fraction
    take = np.floor(quota).astype(np.int64)
    # round(n*f) - sum(floors) never exceeds the classes with a remainder, so each gets <= +1
    short = k - int(take.sum())
    # stable sort: equal remainders go to the class that sorts first, on every machine
    order = np.argsort(-(quota - take), kind="stable")
    take[order[:short]] += 1
    mask = np.zeros(n, dtype=bool)
    for c in range(n_classes):
        members = np.flatnonzero(codes == c)
        mask[rng.permutation(members)[: take[c]]] = True
    return _positions(mask)


def time_split(dates, days: int | pd.Timedelta) -> tuple[np.ndarray, np.ndarray]:
    """Splits rows into those before the final period and those in it (like Kaggle's test).

    With an integer, the final period is the last `days` calendar days counting back from the
    latest date inclusive: times of day are ignored, and days=48 keeps rows whose date is
    after max_date - 48 days. With a Timedelta, rows whose timestamp is after
    max_timestamp - days are kept, times of day included.

    Args:
        dates: one date per row: datetime64 values, Timestamps or parseable strings, no missing.
        days: the length of the final period, a positive int (calendar days) or Timedelta.

    Returns:
        (before, last_period): disjoint sorted int64 position arrays covering every row.

    Raises:
        ValueError: fewer than 2 rows, missing or unparseable dates, a non-positive period,
            or a period that leaves a side empty.
    """
    try:
        ts = pd.DatetimeIndex(pd.to_datetime(pd.Series(np.asarray(dates).ravel())))
    except (TypeError, ValueError) as e:
        raise ValueError(f"dates could not be read as dates: {e}") from None
    _check_n(len(ts), "the number of dates")
    n_missing = int(ts.isna().sum())
    if n_missing:
        raise ValueError(f"dates contain {n_missing} missing value(s)")
    if isinstance(days, pd.Timedelta):
        period = days
    elif isinstance(days, numbers.Integral) and not isinstance(days, bool):
        period = pd.Timedelta(days=int(days))
        ts = ts.normalize()  # whole calendar days: a time of day must not move the boundary
    else:
        raise ValueError(f"days must be an int or a pd.Timedelta, got {days!r}")
    if period <= pd.Timedelta(0):
        raise ValueError(f"days must be positive, got {days!r}")
    cutoff = ts.max() - period
    mask = np.asarray(ts > cutoff)
    if mask.all():
        raise ValueError(
            f"time_split: a final period of {period} covers every row "
            f"(dates {ts.min()} to {ts.max()})"
        )
    return _positions(mask)


def group_split(groups, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Splits rows so that every group lies wholly on one side (e.g. all rows of one store).

    Groups are shuffled, then the part takes the shortest run of them from the front whose
    row count is closest to n * fraction, keeping at least one group on each side. The part's
    share is therefore approximate, and coarse when groups are few or uneven.

    Args:
        groups: one group key per row, at least 2 distinct groups, no missing.
        fraction: the part's target share of rows, in (0, 1).
        seed: a non-negative integer seed.

    Returns:
        (rest, part): disjoint sorted int64 position arrays covering every row.

    Raises:
        ValueError: fewer than 2 distinct groups, missing keys, fraction outside (0, 1),
            or a bad seed.
    """
    codes, n_groups = _codes(groups, "groups")
    _check_fraction(fraction)
    rng = _rng(seed)
    if n_groups < 2:
        raise ValueError(f"group_split needs at least 2 distinct groups, got {n_groups}")
    order = rng.permutation(n_groups)
    sizes = np.bincount(codes, minlength=n_groups)[order]
    # candidate parts: the first 1..n_groups-1 shuffled groups; argmin takes the shortest tie
    cum = np.cumsum(sizes)[:-1]
    m = int(np.argmin(np.abs(cum - len(codes) * fraction))) + 1
    mask = np.isin(codes, order[:m])
    return _positions(mask)


def public_private(n: int, public_fraction: float, seed: int) -> np.ndarray:
    """Kaggle's Usage column for a hidden test set: which rows score on the public board.

    Args:
        n: the number of test rows, at least 2.
        public_fraction: the public share, in (0, 1); exactly round(n * public_fraction)
            rows are 'Public', chosen at random, the others 'Private'.
        seed: a non-negative integer seed.

    Returns:
        An object array of n strings, each 'Public' or 'Private', in row order.

    Raises:
        ValueError: n < 2, public_fraction outside (0, 1), a bad seed, or a size that leaves
            the public or private board empty.
    """
    _check_n(n)
    _check_fraction(public_fraction, "public_fraction")
    rng = _rng(seed)
    k = _part_size(n, public_fraction, "public_private")
    usage = np.full(n, PRIVATE, dtype=object)
    usage[rng.permutation(n)[:k]] = PUBLIC
    return usage
