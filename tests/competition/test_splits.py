"""Seeded splits: determinism, exact sizes, and the shape of each kind of split."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.competition.splits import (
    group_split,
    public_private,
    random_split,
    stratified_split,
    time_split,
)


def assert_partition(a: np.ndarray, b: np.ndarray, n: int) -> None:
    """a and b are sorted int position arrays, disjoint, together covering 0..n-1."""
    for idx in (a, b):
        assert idx.dtype.kind == "i"
        assert np.all(np.diff(idx) > 0)  # sorted ascending, no repeats
    assert np.intersect1d(a, b).size == 0
    assert np.array_equal(np.union1d(a, b), np.arange(n))


LABELS = np.array(["cat"] * 50 + ["dog"] * 30 + ["cow"] * 17 + ["emu"] * 3)
GROUPS = np.repeat(np.arange(20), np.arange(1, 21))  # group g has g+1 rows: 210 rows
SPLITS = {
    "random": lambda seed: random_split(100, 0.3, seed),
    "stratified": lambda seed: stratified_split(LABELS, 0.3, seed),
    "group": lambda seed: group_split(GROUPS, 0.3, seed),
    "public_private": lambda seed: (public_private(100, 0.3, seed),),
}


@pytest.mark.parametrize("kind", sorted(SPLITS))
def test_same_seed_same_split_and_another_seed_another(kind):
    split = SPLITS[kind]
    first, again, other = split(42), split(42), split(43)
    assert all(np.array_equal(x, y) for x, y in zip(first, again, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(first, other, strict=True))


def test_random_split_ignores_global_random_state():
    np.random.seed(0)
    a = random_split(50, 0.5, 7)
    np.random.seed(1)
    np.random.random(10)
    b = random_split(50, 0.5, 7)
    assert np.array_equal(a[1], b[1])


def test_random_split_and_public_private_are_pinned_for_seed_42():
    # pins numpy's PCG64 stream: if a numpy upgrade changes it, every prepared split changes
    rest, part = random_split(10, 0.3, 42)
    assert part.tolist() == [0, 5, 6]
    assert rest.tolist() == [1, 2, 3, 4, 7, 8, 9]
    assert public_private(6, 0.5, 42).tolist() == [
        "Private",
        "Private",
        "Public",
        "Public",
        "Private",
        "Public",
    ]


@pytest.mark.parametrize(
    "n, fraction, k", [(10, 0.3, 3), (891, 0.2, 178), (7, 0.5, 4), (5, 0.5, 2)]
)
def test_random_split_exact_size(n, fraction, k):
    # round(891*0.2) = round(178.2) = 178; round(3.5) = 4 and round(2.5) = 2 (halves to even)
    rest, part = random_split(n, fraction, 0)
    assert len(part) == k and len(rest) == n - k
    assert_partition(rest, part, n)


@given(
    n=st.integers(min_value=2, max_value=2000),
    fraction=st.floats(min_value=0.001, max_value=0.999),
    seed=st.integers(min_value=0, max_value=2**32),
)
@settings(max_examples=150, deadline=None)
def test_random_split_partitions_any_n_and_fraction(n, fraction, seed):
    k = round(n * fraction)
    if k in (0, n):
        with pytest.raises(ValueError, match="empty"):
            random_split(n, fraction, seed)
        return
    rest, part = random_split(n, fraction, seed)
    assert_partition(rest, part, n)
    assert len(part) == k


@given(
    labels=st.lists(st.sampled_from("abcde"), min_size=2, max_size=300),
    fraction=st.floats(min_value=0.01, max_value=0.99),
    seed=st.integers(min_value=0, max_value=2**32),
)
@settings(max_examples=150, deadline=None)
def test_stratified_split_partitions_and_keeps_each_class_within_one(labels, fraction, seed):
    n, k = len(labels), round(len(labels) * fraction)
    if k in (0, n):
        with pytest.raises(ValueError, match="empty"):
            stratified_split(labels, fraction, seed)
        return
    rest, part = stratified_split(labels, fraction, seed)
    assert_partition(rest, part, n)
    assert len(part) == k
    labels = np.array(labels)
    for c in set(labels):
        count, taken = (labels == c).sum(), (labels[part] == c).sum()
        assert abs(taken - count * fraction) < 1


def test_stratified_split_preserves_proportions_by_hand():
    # quotas at 0.3: cat 15.0, dog 9.0, cow 5.1, emu 0.9 -> floors 15+9+5+0 = 29;
    # round(100*0.3) = 30, so one more row goes to the largest remainder: emu (0.9)
    rest, part = stratified_split(LABELS, 0.3, 0)
    assert_partition(rest, part, 100)
    taken = pd.Series(LABELS[part]).value_counts().to_dict()
    assert taken == {"cat": 15, "dog": 9, "cow": 5, "emu": 1}


def test_stratified_split_lets_a_tiny_class_contribute_nothing():
    # quotas at 0.25: a 2.25, b 0.25 -> floors 2+0; round(9*0.25) = round(2.25) = 2: b gives 0
    labels = ["a"] * 9 + ["b"]
    rest, part = stratified_split(labels, 0.25, 0)
    assert len(part) == 2 and 9 not in part


def test_stratified_split_draws_per_class_whatever_order_the_rows_come_in():
    # the same classes in another row order: the same within-class rows are drawn
    def picked(labels):
        part = stratified_split(labels, 0.4, 3)[1]
        rank = {p: (c, sum(x == c for x in labels[:p])) for p, c in enumerate(labels)}
        return sorted(rank[p] for p in part)

    assert picked(["x", "x", "y", "y", "y"]) == picked(["y", "y", "y", "x", "x"])


def test_time_split_boundary_by_hand():
    # 1..10 Jan; days=3 keeps dates > 10 Jan - 3 days = 7 Jan, i.e. 8, 9 and 10 Jan
    dates = pd.date_range("2015-01-01", "2015-01-10", freq="D")
    before, last = time_split(dates, 3)
    assert last.tolist() == [7, 8, 9]
    assert before.tolist() == list(range(7))


def test_time_split_on_unsorted_strings_with_repeats():
    dates = ["2015-07-31", "2015-07-29", "2015-07-30", "2015-07-31", "2015-07-28", "2015-07-30"]
    # days=2 keeps dates > 29 Jul: 30 and 31 Jul
    before, last = time_split(pd.Series(dates), 2)
    assert last.tolist() == [0, 2, 3, 5]
    assert before.tolist() == [1, 4]


def test_time_split_counts_calendar_days_ignoring_time_of_day():
    dates = pd.to_datetime(
        ["2015-07-29 12:00", "2015-07-30 23:30", "2015-07-31 00:10", "2015-07-31 23:00"]
    )
    # with int days, 30 Jul 23:30 is on 30 Jul, outside the last calendar day...
    assert time_split(dates, 1)[1].tolist() == [2, 3]
    # ...but within 24 hours of the last timestamp (31 Jul 23:00) when a Timedelta is given
    assert time_split(dates, pd.Timedelta(hours=24))[1].tolist() == [1, 2, 3]


def test_time_split_with_a_timedelta_of_whole_days_matches_int_days():
    dates = pd.date_range("2015-01-01", periods=60, freq="D")
    assert all(
        np.array_equal(a, b)
        for a, b in zip(
            time_split(dates, 48), time_split(dates, pd.Timedelta(days=48)), strict=True
        )
    )
    assert len(time_split(dates, 48)[1]) == 48


def test_group_split_never_splits_a_group():
    for seed in range(20):
        rest, part = group_split(GROUPS, 0.3, seed)
        assert_partition(rest, part, len(GROUPS))
        assert not set(GROUPS[rest]) & set(GROUPS[part])


def test_group_split_lands_near_the_fraction():
    # 210 rows in groups of 1..20: a shuffled prefix can get within ~20 rows of 63
    for seed in range(20):
        part = group_split(GROUPS, 0.3, seed)[1]
        assert abs(len(part) - 63) <= 20


def test_group_split_with_string_keys_and_two_groups():
    rest, part = group_split(["a", "b", "a", "b"], 0.5, 0)
    assert_partition(rest, part, 4)
    assert {tuple(rest), tuple(part)} == {(0, 2), (1, 3)}


@pytest.mark.parametrize("n, fraction, public", [(418, 0.5, 209), (100, 0.3, 30), (7, 0.5, 4)])
def test_public_private_exact_count(n, fraction, public):
    usage = public_private(n, fraction, 42)
    assert len(usage) == n
    assert set(usage) == {"Public", "Private"}
    assert (usage == "Public").sum() == public


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: random_split(10, 0.0, 0), r"fraction must be in \(0, 1\)"),
        (lambda: random_split(10, 1.0, 0), r"fraction must be in \(0, 1\)"),
        (lambda: random_split(10, "0.2", 0), "fraction must be a number"),
        (lambda: random_split(1, 0.5, 0), "n must be an integer >= 2"),
        (lambda: random_split(10, 0.5, None), "seed must be a non-negative integer"),
        (lambda: random_split(10, 0.5, -1), "seed must be a non-negative integer"),
        (lambda: random_split(3, 0.1, 0), "leaves the part empty"),
        (lambda: random_split(3, 0.9, 0), "leaves the rest empty"),
        (lambda: stratified_split(["a"], 0.5, 0), "number of labels must be"),
        (lambda: stratified_split(["a", None, "b"], 0.5, 0), "1 missing"),
        (lambda: time_split(["2015-01-01", "2015-01-02"], 0), "days must be positive"),
        (lambda: time_split(["2015-01-01", "2015-01-02"], 2.5), "int or a pd.Timedelta"),
        (lambda: time_split(["2015-01-01", "2015-01-02"], 2), "covers every row"),
        (lambda: time_split(["2015-01-01", None], 1), "1 missing"),
        (lambda: time_split(["2015-01-01", "someday"], 1), "could not be read as dates"),
        (lambda: group_split(["a", "a", "a"], 0.5, 0), "at least 2 distinct groups"),
        (lambda: public_private(10, 1.5, 0), r"public_fraction must be in \(0, 1\)"),
        (lambda: public_private(2, 0.1, 0), "leaves the part empty"),
    ],
)
def test_bad_arguments_are_clear_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
