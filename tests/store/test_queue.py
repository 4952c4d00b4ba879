"""The server's queue in the store: members take turns, ids are never handed out twice."""

from concurrent.futures import ThreadPoolExecutor

import duckdb

from harness.paths import db_path
from harness.store import queue, submissions


def row(sub_id: int, user: str) -> dict:
    return {"id": sub_id, "user_name": user}


def test_members_take_turns_oldest_work_first():
    rows = [row(1, "a"), row(2, "a"), row(3, "a"), row(4, "b"), row(5, "c"), row(6, "b")]
    assert [r["id"] for r in queue.order(rows, {})] == [1, 4, 5, 2, 6, 3]
    # a was served last: b and c (never served) go first
    assert [r["id"] for r in queue.order(rows, {"a": 3, "b": 1})] == [5, 4, 1, 6, 2, 3]
    assert queue.order([], {}) == []


def test_ids_are_unique_across_threads_connections_and_local_submits(home):
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda _: queue.next_id(), range(40)))
    assert len(set(ids)) == 40
    local = submissions.insert_submission(
        {
            "competition": "titanic",
            "competition_version": 1,
            "user_name": "ann",
            "kind": "csv",
            "filename": "x.csv",
            "file_sha256": "0",
            "status": "rejected",
            "metric": "accuracy",
            "higher_is_better": True,
        },
        [],
    )
    assert local > max(ids) and queue.next_id() > local


def test_claim_marks_running_and_records_the_attempt(home):
    for i, user in enumerate(("a", "a", "b")):
        queue.enqueue(
            "titanic", user, None, "x.csv", str(home / f"up{i}" / "x.csv"), 42, None, b"x"
        )
    turns: dict[str, int] = {}
    first = queue.claim(turns)
    second = queue.claim(turns)
    assert (first["user_name"], second["user_name"]) == ("a", "b")
    assert first["attempts"] == 1 and first["state"] == "running"
    queue.requeue(first["id"])
    # back in line ahead of a's later work (only a waits; b's run goes on)
    assert queue.place(first["id"], turns) == 1 and queue.place(first["id"] + 1, turns) == 2
    assert queue.place(second["id"], turns) is None
    con = duckdb.connect(str(db_path()), read_only=True)
    states = con.execute("SELECT state, attempts FROM queue ORDER BY id").fetchall()
    con.close()
    assert states == [("queued", 1), ("queued", 0), ("running", 1)]
