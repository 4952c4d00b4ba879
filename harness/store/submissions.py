"""Submissions: a run's record written once its outcome is known, and read back whole.

A submission is written in one transaction with its epochs and artifacts (and the queued
work or local reservation it ends), so a crash never leaves a half-written row. Reading
one adds what the rules make of it now: whether it is late, and when its competition's
private scores were shown.
"""

from __future__ import annotations

import json

from harness.store import db, rules


def insert_submission(
    row: dict, epochs: list[dict], artifacts: list[dict] = (), queued: int | None = None
) -> int:
    """Writes a submission, its epochs and its artifacts in one transaction; returns its id.

    Args:
        queued: the id of the server's queued work (or of a local run's reservation,
            `quotas.reserve`) this row ends; the row takes that id and the work leaves the
            queue in the same transaction.
    """
    row = {**row, "created_at": row.get("created_at") or db.now()}
    row["submitted_at"] = row.get("submitted_at") or row["created_at"]
    if queued is not None:
        row["id"] = queued
    for c in db.JSON_COLUMNS:
        if c in row and row[c] is not None:
            row[c] = json.dumps(row[c], default=repr)
    with db.connect() as con:
        con.execute("BEGIN")
        sub_id = db.insert(con, "submissions", row)
        if epochs:
            con.executemany(
                "INSERT INTO epochs VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    [
                        sub_id,
                        e["fit"],
                        e["epoch"],
                        e.get("seconds"),
                        e.get("train_loss"),
                        e.get("valid_loss"),
                        json.dumps(_metrics_of(e)),
                    ]
                    for e in epochs
                ],
            )
        if artifacts:
            con.executemany(
                "INSERT INTO artifacts VALUES (?, ?, ?, ?, ?)",
                [[sub_id, a["name"], a["kind"], a.get("title"), a["path"]] for a in artifacts],
            )
        if queued is not None:  # the server's queued work, or a local run under way
            con.execute("DELETE FROM queue WHERE id = ?", [queued])
            con.execute("DELETE FROM pending WHERE id = ?", [queued])
        con.execute("COMMIT")
    return sub_id


# a code run's diagnostics, drawn after its score is recorded (harness.run.pipeline)
PENDING, DRAWN, FAILED = "pending", "drawn", "failed"


def update_submission(sub_id: int, fields: dict, artifacts: list[dict] | None = None) -> None:
    """Updates a recorded submission's fields (and replaces its artifacts, when given) in
    one transaction: what a run's end adds after its score was recorded (its diagnostics'
    state, its artifacts, its log and the host's figures).

    Args:
        fields: column names (never user text) and their values.
    """
    fields = dict(fields)
    for c in db.JSON_COLUMNS:
        if c in fields and fields[c] is not None:
            fields[c] = json.dumps(fields[c], default=repr)
    with db.connect() as con:
        con.execute("BEGIN")
        if fields:
            sets = ", ".join(f"{c} = ?" for c in fields)
            con.execute(f"UPDATE submissions SET {sets} WHERE id = ?", [*fields.values(), sub_id])
        if artifacts is not None:
            con.execute("DELETE FROM artifacts WHERE submission_id = ?", [sub_id])
            if artifacts:
                con.executemany(
                    "INSERT INTO artifacts VALUES (?, ?, ?, ?, ?)",
                    [[sub_id, a["name"], a["kind"], a.get("title"), a["path"]] for a in artifacts],
                )
        con.execute("COMMIT")


def _metrics_of(epoch: dict) -> dict:
    return {
        k: v
        for k, v in epoch.items()
        if k not in ("fit", "epoch", "seconds", "train_loss", "valid_loss")
    }


def insert_reproduction(row: dict) -> int:
    row = {**row, "created_at": db.now()}
    if row.get("differences") is not None:
        row["differences"] = json.dumps(row["differences"], default=repr)
    with db.connect() as con:
        return db.insert(con, "reproductions", row)


def submission(sub_id: int) -> dict | None:
    """Everything recorded for one submission, with its epochs and reproductions."""
    with db.connect(read_only=True) as con:
        if con is None:
            return None
        rows = db.rows(con.execute("SELECT * FROM submissions WHERE id = ?", [sub_id]))
        if not rows:
            return None
        row = rows[0]
        # what the rules make of it now: late (as the boards judge it), and when the
        # private scores were shown (None: still hidden)
        row["late"] = rules.late(con, row["competition"], sub_id)
        row["revealed_at"] = rules.shown_at(con, row["competition"], row["competition_version"])
        row["epochs"] = db.rows(
            con.execute(
                "SELECT fit, epoch, seconds, train_loss, valid_loss, metrics FROM epochs "
                "WHERE submission_id = ? ORDER BY fit, epoch",
                [sub_id],
            )
        )
        row["artifacts"] = db.rows(
            con.execute(
                "SELECT name, kind, title, path FROM artifacts WHERE submission_id = ? "
                "ORDER BY rowid",
                [sub_id],
            )
        )
        row["reproductions"] = db.rows(
            con.execute(
                "SELECT id, identical, status, error, public_score, device, wall_seconds, "
                "verdict, differences, created_at FROM reproductions WHERE submission_id = ? "
                "ORDER BY id",
                [sub_id],
            )
        )
    return row


def done_before(competition: str, fingerprint: str, file_sha256: str, user: str) -> int | None:
    """The id of a scored submission of this exact file by this user on this data, if any."""
    rows = db.read(
        "SELECT id FROM submissions WHERE competition = ? AND data_fingerprint = ? AND "
        "file_sha256 = ? AND user_name = ? AND status = 'scored' ORDER BY id LIMIT 1",
        [competition, fingerprint, file_sha256, user],
    )
    return rows[0]["id"] if rows else None


def usual_gpu(competition: str) -> str | None:
    """The GPU model most of a competition's scored runs ran on (the first one's on a tie);
    None before any scored GPU run."""
    rows = db.read(
        "SELECT gpu FROM submissions WHERE competition = ? AND status = 'scored' AND "
        "gpu IS NOT NULL AND device LIKE 'cuda%' GROUP BY gpu ORDER BY count(*) DESC, min(id) "
        "LIMIT 1",
        [competition],
    )
    return rows[0]["gpu"] if rows else None
