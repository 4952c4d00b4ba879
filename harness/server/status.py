"""Where a submission stands, as the API and the Submit page show it: queued (with its
place in line), running (with its epochs so far), or its record once it has one."""

from __future__ import annotations

from harness.store import queue, quotas, records, submissions

# the running server's scheduler (None in a process that only shows pages, e.g. a test)
CURRENT = None


def place(sub_id: int) -> int | None:
    return queue.place(sub_id, CURRENT.turns if CURRENT else {})


def of(sub_id: int) -> dict | None:
    """queued: place; running: epochs, epoch_of, line, started_at; recorded: the submit
    JSON (`status` scored, failed or rejected). None when no such id."""
    item = queue.item(sub_id)
    if item is not None:
        out = {
            "id": sub_id,
            "status": item["state"],
            "competition": item["competition"],
            "user": item["user_name"],
            "filename": item["filename"],
            "queued_at": item["queued_at"],
        }
        if item["state"] == "queued":
            out["place"] = place(sub_id)
        else:
            seen = CURRENT.progress.get(sub_id, {}) if CURRENT else {}
            out.update(
                started_at=item["started_at"],
                attempt=item["attempts"],
                epochs=seen.get("epochs", 0),
                epoch_of=seen.get("epoch_of"),
                line=seen.get("line"),
            )
        return out
    row = submissions.submission(sub_id)
    if row is None:
        return None
    return {**records.summary(row), **quotas.left(row["competition"], row["user_name"])}


def record(sub_id: int) -> dict | None:
    """A recorded submission, as `harness show --json` gives it, without the host's paths."""
    row = submissions.submission(sub_id)
    return None if row is None else records.record(row, host=False)
