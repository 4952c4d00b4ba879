"""The DuckDB store: migrations, transactions, readers beside writers."""

import multiprocessing
import time

import duckdb
import pytest

from harness.metrics import get_metric
from harness.store import db

ACCURACY = get_metric("accuracy")


def row(**over):
    base = dict(
        competition="titanic",
        competition_version=1,
        data_source="offline",
        data_fingerprint="f" * 64,
        user_name="ann",
        kind="csv",
        filename="p.csv",
        file_sha256="0" * 64,
        status="scored",
        metric="accuracy",
        higher_is_better=True,
        public_score=0.5,
        private_score=0.5,
    )
    return {**base, **over}


def test_a_new_database_gets_the_latest_schema(home):
    with db.connect() as con:
        version = con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
    assert int(version) == db.SCHEMA_VERSION
    assert db.db_path().exists()


def test_a_database_newer_than_the_harness_is_refused(home):
    with db.connect() as con:
        con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(db.StoreError, match="schema 99, newer than this harness"):
        with db.connect():
            pass


def test_a_reader_before_any_write_sees_nothing(home):
    assert db.submission(1) is None
    assert db.leaderboard("titanic", 1, "f" * 64, ACCURACY) == []
    assert not db.db_path().exists()


def test_submission_and_epochs_land_together(home):
    sub_id = db.insert_submission(
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
    got = db.submission(sub_id)
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


def test_a_failed_insert_leaves_nothing(home):
    with pytest.raises(duckdb.Error):
        db.insert_submission(row(status="bogus"), [])
    with pytest.raises(duckdb.Error):
        # the epoch row is bad (fit is NOT NULL): the submission must not land either
        db.insert_submission(row(), [{"fit": None, "epoch": 0}])
    with db.connect() as con:
        assert con.execute("SELECT count(*) FROM submissions").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM epochs").fetchone()[0] == 0


def test_leaderboard_best_per_user_ties_to_the_earlier(home):
    for user, score in [("ann", 0.7), ("bob", 0.8), ("ann", 0.8), ("cid", 0.6), ("bob", 0.75)]:
        db.insert_submission(row(user_name=user, public_score=score), [])
    db.insert_submission(row(user_name="dan", status="failed", public_score=None), [])
    board = db.leaderboard("titanic", 1, "f" * 64, ACCURACY)
    assert [
        (r["rank"], r["user"], r["score"], r["entries"], r["submission_id"]) for r in board
    ] == [(1, "bob", 0.8, 2, 2), (2, "ann", 0.8, 2, 3), (3, "cid", 0.6, 1, 4)]
    low = db.leaderboard("titanic", 1, "f" * 64, get_metric("rmse"))
    assert [r["user"] for r in low] == ["cid", "ann", "bob"]
    assert [r["score"] for r in low] == [0.6, 0.7, 0.75]
    assert db.leaderboard("titanic", 2, "f" * 64, ACCURACY) == []  # another version


def test_a_reader_waits_out_a_writer_instead_of_failing(home):
    db.insert_submission(row(), [])
    # DuckDB's lock is per process, so the writer must be another process to conflict
    ctx = multiprocessing.get_context("spawn")
    started = ctx.Event()
    p = ctx.Process(target=_hold_write_lock, args=(str(db.db_path()), 1.5, started))
    p.start()
    assert started.wait(30)
    t0 = time.monotonic()
    assert db.submission(1)["user_name"] == "ann"
    waited = time.monotonic() - t0
    p.join()
    assert p.exitcode == 0
    assert waited > 0.5  # it met the lock and waited instead of failing


def _hold_write_lock(path: str, seconds: float, started) -> None:
    con = duckdb.connect(path)
    con.execute("BEGIN")
    con.execute("UPDATE submissions SET message = 'busy'")
    started.set()
    time.sleep(seconds)
    con.execute("COMMIT")
    con.close()


def test_an_old_database_is_migrated_in_place(home):
    con = duckdb.connect(str(db.db_path()))
    con.execute(db.MIGRATIONS[0])
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.close()
    sub_id = db.insert_submission(row(), [], [{"name": "a.png", "kind": "png", "path": "/x"}])
    with db.connect() as con:
        version = con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
    assert int(version) == db.SCHEMA_VERSION >= 2
    assert db.submission(sub_id)["artifacts"] == [
        {"name": "a.png", "kind": "png", "title": None, "path": "/x"}
    ]
