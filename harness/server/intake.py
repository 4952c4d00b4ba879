"""Accepting a member's upload: checked, stored on disk and queued before the answer.

The API and the app's Submit page both come here, so an upload is judged the same way
whichever door it came through.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import threading
import uuid
from pathlib import Path

from harness.competition import data, registry
from harness.errors import HarnessError, UsageError
from harness.paths import home
from harness.run.kaggle_way import check_output
from harness.run.submission import CODE_LIMIT, NOTEBOOK_LIMIT, SUFFIXES
from harness.server import status
from harness.store import queue, quotas, records, submissions
from harness.validate import CSV_LIMIT, size_text

MAX_MESSAGE = 1000
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
woken = threading.Event()  # set when work is queued: the scheduler looks at once


class TooLarge(HarnessError):
    """An upload over its limit (HTTP 413)."""


class NotReady(HarnessError):
    """The host has not prepared the competition's data yet (HTTP 409)."""


def prepared(comp) -> data.Prepared:
    """The competition's data as the host prepared it.

    Raises:
        NotReady: the organiser has not fetched it yet.
    """
    found = data.current(comp)
    if found is None:
        raise NotReady(
            f"the host has not prepared {comp.name}'s data yet "
            f"(the organiser runs `harness data fetch {comp.name}`)"
        )
    return found


def uploads_dir() -> Path:
    """Uploaded files waiting in the queue, one folder per queued id."""
    return home() / "uploads"


def limit_of(filename: str) -> int:
    if filename.endswith(".ipynb"):
        return NOTEBOOK_LIMIT
    return CODE_LIMIT if filename.endswith(".py") else CSV_LIMIT


def check_filename(filename: str) -> str:
    """The upload's file name, as the run will know it.

    Raises:
        UsageError: not a plain .py or .csv name (no folders, no odd characters).
    """
    name = Path(filename or "").name
    if not SAFE_NAME.fullmatch(name) or name != filename or Path(name).suffix not in SUFFIXES:
        raise UsageError(
            f"the file name {filename!r} is not a plain .ipynb, .py or .csv name (letters, "
            "digits, '.', '_' and '-', at most 100 characters)"
        )
    return name


def check_message(message: str | None) -> str | None:
    if message is None or message == "":
        return None
    if len(message) > MAX_MESSAGE or any(not c.isprintable() and c not in "\n\t" for c in message):
        raise UsageError(f"the message must be at most {MAX_MESSAGE} printable characters")
    return message


def accept(
    member: str,
    competition: str,
    filename: str,
    content: bytes,
    message=None,
    seed=42,
    output: str | None = None,
):
    """Stores an upload as queued work and returns its place.

    Returns:
        {"id", "status": "queued", "place", "competition", "user", "remaining",
        "daily_limit"}; over the daily limit or a cap of the rules, the rejected
        submission's record (status "rejected", its error; its file is not kept).

    Raises:
        UnknownCompetition, UsageError: a wrong call; TooLarge: over the file's limit;
        NotReady: the host has not fetched the competition's data.
    """
    comp = registry.get(competition)
    name = check_filename(filename)
    message = check_message(message)
    output = check_output(output)
    if len(content) > limit_of(name):
        kind = {".py": "a code submission", ".ipynb": "a notebook"}.get(
            Path(name).suffix, "a CSV submission"
        )
        raise TooLarge(
            f"{name} is {size_text(len(content))}; {kind} may be at most "
            f"{size_text(limit_of(name))}"
        )
    found = prepared(comp)
    folder = uploads_dir() / uuid.uuid4().hex
    try:
        try:
            sub_id, stands = queue.enqueue(
                comp.name, member, message, name, str(folder / name), seed, output, content
            )
        except quotas.OverLimit as e:  # nothing runs: recorded rejected, the limit's line
            row = refuse(comp, found, member, name, content, message, seed, str(e))
            return {**records.summary(row), **quotas.left(comp.name, member)}
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    out = {
        "id": sub_id,
        "status": "queued",
        "place": status.place(sub_id),  # before a worker is woken: it could be running already
        "competition": comp.name,
        "user": member,
        **quotas.left(comp.name, member, stands),
    }
    woken.set()
    return out


def refuse(
    comp, found: data.Prepared, member: str, name: str, content: bytes, message, seed, error: str
) -> dict:
    """Records an upload refused before it was queued (the daily limit, a cap): its hash
    and size, never its file, so a flood of refused uploads costs the host a row each."""
    row = {
        "competition": comp.name,
        "competition_version": comp.spec.version,
        "data_source": found.source,
        "data_fingerprint": found.fingerprint,
        "user_name": member,
        "message": message,
        "kind": "csv" if name.endswith(".csv") else "code",
        "filename": name,
        "file_sha256": hashlib.sha256(content).hexdigest(),
        "upload_bytes": len(content),
        "status": "rejected",
        "error": error,
        "metric": comp.spec.metric,
        "higher_is_better": comp.metric.higher_is_better,
        "seed": seed,
    }
    return submissions.submission(submissions.insert_submission(row, []))
