"""The store's connections: no file until the first write, readers beside writers."""

import multiprocessing
import time

import duckdb

from harness.metrics import get_metric
from harness.paths import db_path
from harness.store import db, leaderboards, submissions
from tests.store.conftest import submission_row as row


def test_a_reader_before_any_write_sees_nothing(home):
    assert db.read("SELECT * FROM submissions") == []
    assert submissions.submission(1) is None
    assert leaderboards.leaderboard("titanic", 1, "f" * 64, get_metric("accuracy")) == []
    assert not db_path().exists()


def test_a_reader_waits_out_a_writer_instead_of_failing(home):
    submissions.insert_submission(row(), [])
    # DuckDB's lock is per process, so the writer must be another process to conflict
    ctx = multiprocessing.get_context("spawn")
    started = ctx.Event()
    p = ctx.Process(target=_hold_write_lock, args=(str(db_path()), 1.5, started))
    p.start()
    assert started.wait(30)
    t0 = time.monotonic()
    assert submissions.submission(1)["user_name"] == "ann"
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
