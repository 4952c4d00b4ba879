"""The server's queue: uploaded work waiting for a worker, or running, in DuckDB.

A row is `queued` from the moment its upload is accepted, and `running` once a worker
has claimed it. It leaves the queue in the transaction that records its submission
(`submissions.insert_submission(..., queued=id)`), under the same id, so work is never lost and
never recorded twice. Members take turns: the next run goes to the member with queued
work who was served longest ago, so one member's ten uploads do not hold up the others;
and the rules cap what one entrant may have queued at all (`quotas.hold`).
"""

from __future__ import annotations

import threading
from pathlib import Path

from harness.store import db, quotas, rules

_claiming = threading.Lock()  # one claim at a time in a process: no run is claimed twice


def next_id() -> int:
    """`db.draw_id` in a connection of its own."""
    with db.connect() as con:
        return db.draw_id(con)


def enqueue(
    competition: str,
    user: str,
    message: str | None,
    filename: str,
    upload: str,
    seed: int,
    output: str | None = None,
    content: bytes | None = None,
) -> tuple[int, quotas.Allowance]:
    """Admits uploaded work under the competition's daily limit and its caps, and stores
    it as queued; returns its id and where the member stands.

    Args:
        upload: where the file lies for the run.
        content: the file, written to `upload` only once admitted, before the work is
            queued: a refused upload never touches the disk, and no worker claims work
            whose file is not there yet. None: the file lies there already.

    Raises:
        quotas.OverLimit: the member (or their team) has no submission left today, or is
            at the queue or storage cap.
    """
    at = db.now()
    size = Path(upload).stat().st_size if content is None else len(content)
    with db.connect() as con, rules.admitting:
        stands = quotas.admit(con, competition, user, at)
        quotas.hold(con, stands, size)
        if content is not None:
            Path(upload).parent.mkdir(parents=True, exist_ok=True)
            Path(upload).write_bytes(content)
        sub_id = db.draw_id(con)
        con.execute(
            "INSERT INTO queue (id, competition, user_name, message, filename, upload, seed, "
            "output, state, attempts, queued_at, bytes) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?)",
            [sub_id, competition, user, message, filename, upload, seed, output, at, size],
        )
    return sub_id, stands


def items() -> list[dict]:
    """Everything in the queue, oldest first."""
    return db.read("SELECT * FROM queue ORDER BY id", table="queue")


def item(sub_id: int) -> dict | None:
    rows = db.read("SELECT * FROM queue WHERE id = ?", [sub_id], table="queue")
    return rows[0] if rows else None


def order(queued: list[dict], turns: dict[str, int]) -> list[dict]:
    """The order queued work will run in: members in turn, each member's work oldest first.

    Args:
        queued: the queued rows.
        turns: when each member was last served (a counter; higher is more recent).
    """
    mine: dict[str, list[dict]] = {}
    for r in sorted(queued, key=lambda r: r["id"]):
        mine.setdefault(r["user_name"], []).append(r)
    members = sorted(mine, key=lambda u: (turns.get(u, -1), mine[u][0]["id"]))
    out, depth = [], 0
    while len(out) < len(queued):
        out += [mine[u][depth] for u in members if depth < len(mine[u])]
        depth += 1
    return out


def place(sub_id: int, turns: dict[str, int]) -> int | None:
    """Where queued work stands in line (1: it runs next), or None when it is not queued."""
    queued = [r for r in items() if r["state"] == "queued"]
    ids = [r["id"] for r in order(queued, turns)]
    return ids.index(sub_id) + 1 if sub_id in ids else None


def claim(turns: dict[str, int]) -> dict | None:
    """Marks the next queued work running (one more attempt) and returns it, or None."""
    with _claiming:
        queued = [r for r in items() if r["state"] == "queued"]
        if not queued:
            return None
        nxt = order(queued, turns)[0]
        with db.connect() as con:
            got = con.execute(
                "UPDATE queue SET state = 'running', attempts = attempts + 1, started_at = ? "
                "WHERE id = ? AND state = 'queued' RETURNING attempts",
                [db.now(), nxt["id"]],
            ).fetchone()
        if got is None:
            return None
        turns[nxt["user_name"]] = max(turns.values(), default=0) + 1
        return {**nxt, "state": "running", "attempts": got[0]}


def requeue(sub_id: int) -> None:
    """Running work goes back in line (its attempts are kept)."""
    with db.connect() as con:
        con.execute(
            "UPDATE queue SET state = 'queued', started_at = NULL WHERE id = ?",
            [sub_id],
        )
