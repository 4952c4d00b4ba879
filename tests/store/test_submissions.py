"""Submissions: written whole or not at all, read back with what the rules make of them."""

from datetime import datetime

import duckdb
import pytest

from harness.metrics import get_metric
from harness.store import db, leaderboards, rules, submissions
from tests.store.conftest import submission_row as row


def test_submission_and_epochs_land_together(home):
    sub_id = submissions.insert_submission(
        row(config={"lr": 1}),
        [
            {
                "fit": 1,
                "epoch": 0,
                "seconds": 0.5,
                "train_loss": 0.7,
                "valid_loss": 0.6,
                "accuracy": 0.8,
            }
        ],
    )
    got = submissions.submission(sub_id)
    assert got["config"] == {"lr": 1}
    assert got["epochs"] == [
        {
            "fit": 1,
            "epoch": 0,
            "seconds": 0.5,
            "train_loss": 0.7,
            "valid_loss": 0.6,
            "metrics": {"accuracy": 0.8},
        }
    ]
    assert got["late"] is False and got["revealed_at"] is None


def test_a_failed_insert_leaves_nothing(home):
    with pytest.raises(duckdb.Error):
        submissions.insert_submission(row(status="bogus"), [])
    with pytest.raises(duckdb.Error):
        # the epoch row is bad (fit is NOT NULL): the submission must not land either
        submissions.insert_submission(row(), [{"fit": None, "epoch": 0}])
    with db.connect() as con:
        assert con.execute("SELECT count(*) FROM submissions").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM epochs").fetchone()[0] == 0


def board() -> list[str]:
    rows = leaderboards.leaderboard("titanic", 1, "f" * 64, get_metric("accuracy"))
    return [r["user"] for r in rows]


def test_late_is_what_the_board_judges_and_moves_with_the_deadline(home, monkeypatch):
    monkeypatch.setenv("HARNESS_NOW", "2026-12-10T12:00")
    on_time = submissions.insert_submission(row(submitted_at=datetime(2026, 12, 1)), [])
    made_late = submissions.insert_submission(
        row(user_name="bob", public_score=0.9, submitted_at=datetime(2026, 12, 5)), []
    )
    assert board() == ["bob", "ann"]
    rules.change("titanic", retroactive=True, deadline=datetime(2026, 12, 5))
    assert submissions.submission(on_time)["late"] is False
    assert submissions.submission(made_late)["late"] is True  # at the deadline is late
    assert board() == ["ann"]
    # the deadline has passed: the private scores show from it
    assert submissions.submission(on_time)["revealed_at"] == datetime(2026, 12, 5)
    rules.change("titanic", deadline=None)
    assert submissions.submission(made_late)["late"] is False and board() == ["bob", "ann"]


def test_done_before_finds_the_same_file_scored_by_the_same_user(home):
    first = submissions.insert_submission(row(), [])
    submissions.insert_submission(row(status="failed", public_score=None, file_sha256="1" * 64), [])
    assert submissions.done_before("titanic", "f" * 64, "0" * 64, "ann") == first
    assert submissions.done_before("titanic", "f" * 64, "1" * 64, "ann") is None  # failed
    assert submissions.done_before("titanic", "f" * 64, "0" * 64, "bob") is None
