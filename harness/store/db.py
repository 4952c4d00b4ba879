"""The DuckDB store's connections and the few helpers every query uses.

DuckDB lets one process write a file, or many read it, never both at once. So every
connection here is short (milliseconds), and opening one retries while another process
holds the lock: concurrent `harness submit` runs take turns, and the leaderboard never
fails because a write is happening. A writer's connection brings the schema up to date
first (`migrations`). The queries live with what they are about: `submissions`, `rules`,
`teams`, `quotas`, `picks`, `leaderboards`, `kaggle`, `members`, `queue`, `privacy`;
each takes the connection its caller opened, or opens one for a single read.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import duckdb

from harness.errors import StoreError, UsageError
from harness.paths import db_path, home, private, private_home
from harness.store.migrations import SCHEMA_VERSION, migrate, stored_version

LOCK_WAIT_SECONDS = 120.0
# DuckDB refuses a read-only and a read-write connection to one file in one process: the
# server, which both writes (uploads, its queue) and reads (pages, the API), opens every
# connection read-write (`serving()`)
_ONE_WRITER_PROCESS = False


_migrating = threading.Lock()


def serving() -> None:
    """This process writes and reads the store at once: every connection opens read-write."""
    global _ONE_WRITER_PROCESS
    _ONE_WRITER_PROCESS = True


JSON_COLUMNS = (
    "config",
    "versions",
    "seconds",
    "metrics",
    "extra_scores",
    "model",
    "differences",
    "weights",
    "warnings",
    "decisions",
    "reported",
)


def _is_lock_conflict(e: Exception) -> bool:
    text = str(e)
    return "lock" in text.lower() and ("Conflicting" in text or "Could not set" in text)


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


# --- reads remembered until the store is written --------------------------------------------
# Opening the store is the dear part of a small read (tens of milliseconds: DuckDB reads its
# catalog), and the server answers the same reads again and again (a token, a board). Every
# writer's connection, once closed, leaves a fresh random stamp beside the store; a read
# remembered under the stamp (and the stat of the file and its log, should something other
# than this harness write them) is answered again until either changes. The stamp is read
# before the query, so a write that lands during it only makes the next read ask again.

REMEMBERED = 32  # reads a process keeps (the boards it shows, the members)
_remembered: dict[tuple, tuple] = {}
_remembering = threading.Lock()
T = TypeVar("T")


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".stamp")


def _stat(path: Path) -> tuple | None:
    try:
        s = os.stat(path)
    except FileNotFoundError:
        return None
    return (s.st_dev, s.st_ino, s.st_size, s.st_mtime_ns, s.st_ctime_ns)


def stamp(path: Path | None = None) -> tuple:
    """What changes whenever the store is written, by this process or another: the stamp
    every writer leaves, and the stat of the file and its write-ahead log."""
    path = Path(path or db_path())
    try:
        written = _stamp_path(path).read_bytes()
    except FileNotFoundError:
        written = b""
    return (written, _stat(path), _stat(_wal(path)))


def _written(path: Path) -> None:
    """A fresh stamp once a writer's connection is closed; a new file put in place whole,
    so no reader sees half of one (an old stamp read again would hide the write)."""
    target = _stamp_path(path)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, os.urandom(16))
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError:  # the write is committed: no stamp at all beats a stale one
        for p in (tmp, target):
            p.unlink(missing_ok=True)


def remembered(key: tuple, read: Callable[[], T]) -> T:
    """`read()`, or what it returned for `key` before when the store has not been written
    since (`stamp`). The caller copies what it will change."""
    path = db_path()
    at = stamp(path)  # before the read: a write during it is seen by the next call
    key = (str(path), *key)
    with _remembering:
        hit = _remembered.get(key)
    if hit is not None and hit[0] == at:
        return hit[1]
    value = read()
    with _remembering:
        _remembered.pop(key, None)
        _remembered[key] = (at, value)
        while len(_remembered) > REMEMBERED:  # the oldest first
            del _remembered[next(iter(_remembered))]
    return value


def _open(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    deadline, pause = time.monotonic() + LOCK_WAIT_SECONDS, 0.01
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            if not read_only:  # DuckDB makes its files 0644: the store is the harness's only
                private(path, 0o600)
                private(_wal(path), 0o600)  # one a crash left
            return con
        except duckdb.IOException as e:
            if not _is_lock_conflict(e) or time.monotonic() > deadline:
                raise StoreError(f"cannot open {path}: {e}") from e
        time.sleep(pause * (0.5 + random.random()))  # jitter: writers must not march in step
        pause = min(pause * 2, 0.25)


@contextmanager
def connect(read_only: bool = False, path: Path | None = None):
    """A short-lived connection; writers migrate the schema first.

    Yields None for a reader when the database does not exist yet.
    """
    path = Path(path or db_path())
    writes = not read_only
    if read_only and _ONE_WRITER_PROCESS and path.exists():
        read_only = False
    if read_only and not path.exists():
        yield None
        return
    if path.parent == home():
        private_home()
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = _open(path, read_only)
    if read_only and stored_version(con) < SCHEMA_VERSION:
        # a store an older harness wrote: brought up to date once, then read as usual
        con.close()
        with connect(path=path):
            pass
        con = _open(path, read_only)
    try:
        if not read_only:
            with _migrating:  # threads of one process share the database: one migrates
                migrate(con)
        yield con
    finally:
        if not read_only:
            # the write-ahead log this connection made (DuckDB's 0644), in case it outlives
            # the connection: the server keeps the database open across connections
            private(_wal(path), 0o600)
        con.close()
        if writes:  # after the close: what it committed is there for whoever reads the stamp
            _written(path)


def now() -> datetime:
    """UTC, without tzinfo: every timestamp in the store is UTC.

    HARNESS_NOW (ISO 8601) sets the clock instead: tests cross a UTC midnight or a
    deadline without waiting, and an organiser can rehearse what a date will show.
    """
    if fixed := os.environ.get("HARNESS_NOW"):
        return parse_time(fixed, "HARNESS_NOW")
    return datetime.now(UTC).replace(tzinfo=None)


def parse_time(text: str, what: str) -> datetime:
    """ISO 8601 text as naive UTC: an offset is converted, no offset means UTC.

    Raises:
        UsageError: not a date or a time.
    """
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{what}: {text!r} is not an ISO 8601 time (e.g. 2026-12-31T23:59 or "
            "2026-12-31T23:59+01:00; without an offset it is UTC)"
        ) from None
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


def rows(cur) -> list[dict]:
    cols = [d[0] for d in cur.description]
    out = []
    for values in cur.fetchall():
        row = dict(zip(cols, values, strict=True))
        for c in JSON_COLUMNS:
            if isinstance(row.get(c), str):
                row[c] = json.loads(row[c])
        out.append(row)
    return out


def has_table(con, name: str) -> bool:
    """Whether the table exists: a database no writer has migrated since it came has none.

    Asked of a table the harness names (never user text), by reading none of its rows:
    listing the catalog (information_schema) costs a fresh connection milliseconds.
    """
    if not name.isidentifier():
        raise ValueError(f"not a table name: {name!r}")
    try:
        con.execute(f'SELECT 1 FROM "{name}" LIMIT 0')
    except duckdb.CatalogException:
        return False
    return True


def read(sql: str, params: list = (), table: str | None = None) -> list[dict]:
    """The rows of a read-only query as dicts, JSON columns parsed.

    Args:
        table: the table the query needs; none are read while it does not exist yet.

    Returns:
        The rows; none while the database (or `table`) does not exist.
    """
    with connect(read_only=True) as con:
        if con is None or (table and not has_table(con, table)):
            return []
        return rows(con.execute(sql, list(params)))


def insert(con, table: str, row: dict) -> int:
    """INSERT one row (its keys are column names, never user text); returns its id."""
    cols = list(row)
    return con.execute(
        f"INSERT INTO {table} ({', '.join(cols)}) "
        f"VALUES ({', '.join('?' * len(cols))}) RETURNING id",
        [row[c] for c in cols],
    ).fetchone()[0]


_drawing = threading.Lock()  # one id drawn at a time in a process: the draw rewrites one row


def draw_id(con) -> int:
    """A fresh id from the submissions' sequence, for work not yet recorded (the server's
    queue, a local run under way); the submission keeps it.

    The draw is written down with it: DuckDB 1.x does not keep a sequence's step taken
    in a transaction that writes nothing else, and would hand out the same id again.
    """
    with _drawing:
        got = con.execute(
            "INSERT OR REPLACE INTO meta VALUES "
            "('last_queued_id', CAST(nextval('submission_ids') AS VARCHAR)) RETURNING value"
        ).fetchone()
    return int(got[0])
