"""The DuckDB store: schema, migrations and the few queries everything uses.

DuckDB lets one process write a file, or many read it, never both at once. So every
connection here is short (milliseconds), and opening one retries while another process
holds the lock: concurrent `harness submit` runs take turns, and the leaderboard never
fails because a write is happening. A submission is written in one transaction, once
its outcome is known, so a crash never leaves a half-written row.
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
from harness.metrics import Metric
from harness.paths import db_path, home, private, private_home

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


MIGRATIONS: list[str] = [
    # 1: submissions, their epochs, and re-runs that check reproducibility
    """
    CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
    CREATE SEQUENCE submission_ids START 1;
    CREATE TABLE submissions (
        id INTEGER PRIMARY KEY DEFAULT nextval('submission_ids'),
        competition VARCHAR NOT NULL,
        competition_version INTEGER NOT NULL,
        data_source VARCHAR,
        data_fingerprint VARCHAR,
        user_name VARCHAR NOT NULL,
        message VARCHAR,
        is_baseline BOOLEAN NOT NULL DEFAULT false,
        kind VARCHAR NOT NULL CHECK (kind IN ('code', 'csv')),
        entry VARCHAR,
        filename VARCHAR NOT NULL,
        content VARCHAR,
        file_sha256 VARCHAR NOT NULL,
        docstring VARCHAR,
        config JSON,
        status VARCHAR NOT NULL CHECK (status IN ('scored', 'failed', 'rejected')),
        error VARCHAR,
        metric VARCHAR NOT NULL,
        higher_is_better BOOLEAN NOT NULL,
        public_score DOUBLE,
        private_score DOUBLE,
        predictions_sha256 VARCHAR,
        seed INTEGER,
        device VARCHAR,
        versions JSON,
        harness_git VARCHAR,
        timeout_seconds DOUBLE,
        memory_limit_mb DOUBLE,
        wall_seconds DOUBLE,
        peak_memory_mb DOUBLE,
        seconds JSON,
        log VARCHAR,
        run_dir VARCHAR,
        created_at TIMESTAMP NOT NULL
    );
    CREATE TABLE epochs (
        submission_id INTEGER NOT NULL,
        fit INTEGER NOT NULL,
        epoch INTEGER NOT NULL,
        seconds DOUBLE,
        train_loss DOUBLE,
        valid_loss DOUBLE,
        metrics JSON
    );
    CREATE SEQUENCE reproduction_ids START 1;
    CREATE TABLE reproductions (
        id INTEGER PRIMARY KEY DEFAULT nextval('reproduction_ids'),
        submission_id INTEGER NOT NULL,
        identical BOOLEAN NOT NULL,
        status VARCHAR NOT NULL,
        error VARCHAR,
        public_score DOUBLE,
        private_score DOUBLE,
        predictions_sha256 VARCHAR,
        device VARCHAR,
        wall_seconds DOUBLE,
        created_at TIMESTAMP NOT NULL
    );
    """,
    # 2: diagnostic artifacts (plots, tables) of each submission
    """
    CREATE TABLE artifacts (
        submission_id INTEGER NOT NULL,
        name VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        title VARCHAR,
        path VARCHAR NOT NULL
    );
    """,
    # 3: the metrics a competition shows beside its own (e.g. mse beside rmse)
    """
    ALTER TABLE submissions ADD COLUMN extra_scores JSON;
    """,
    # 4: competition versions whose private scores the organiser has revealed
    """
    CREATE TABLE reveals (
        competition VARCHAR NOT NULL,
        competition_version INTEGER NOT NULL,
        revealed_at TIMESTAMP NOT NULL,
        PRIMARY KEY (competition, competition_version)
    );
    """,
    # 5: files sent to Kaggle with Kaggle's verdict on each, and Kaggle's public leaderboard
    """
    CREATE SEQUENCE kaggle_submission_ids START 1;
    CREATE TABLE kaggle_submissions (
        id INTEGER PRIMARY KEY DEFAULT nextval('kaggle_submission_ids'),
        submission_id INTEGER,
        competition VARCHAR NOT NULL,
        kaggle_competition VARCHAR NOT NULL,
        kaggle_ref BIGINT NOT NULL,
        filename VARCHAR NOT NULL,
        file_sha256 VARCHAR NOT NULL,
        file_path VARCHAR,
        rows INTEGER,
        message VARCHAR,
        status VARCHAR NOT NULL CHECK (status IN ('pending', 'complete', 'error')),
        error VARCHAR,
        public_score DOUBLE,
        private_score DOUBLE,
        data_fingerprint VARCHAR,
        run_dir VARCHAR,
        submitted_at TIMESTAMP NOT NULL,
        kaggle_date TIMESTAMP,
        synced_at TIMESTAMP
    );
    CREATE TABLE kaggle_leaderboard (
        competition VARCHAR NOT NULL,
        kaggle_competition VARCHAR NOT NULL,
        fetched_at TIMESTAMP NOT NULL,
        rank INTEGER NOT NULL,
        team_id BIGINT,
        team_name VARCHAR,
        score DOUBLE,
        submitted_at TIMESTAMP
    );
    """,
    # 6: the trained model (architecture, parameter counts) and the GPU's peak memory
    """
    ALTER TABLE submissions ADD COLUMN model JSON;
    ALTER TABLE submissions ADD COLUMN gpu_peak_mb DOUBLE;
    """,
    # 7: whether a code run was sandboxed (NULL for a CSV submission, which runs nothing)
    """
    ALTER TABLE submissions ADD COLUMN sandboxed BOOLEAN;
    """,
    # 8: the group's members (a hash of each one's token) and the server's queue: work
    # uploaded and not yet recorded; its id becomes the submission's once it has run
    """
    CREATE TABLE members (
        name VARCHAR PRIMARY KEY,
        token_sha256 VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        token_at TIMESTAMP NOT NULL
    );
    CREATE TABLE queue (
        id INTEGER PRIMARY KEY,
        competition VARCHAR NOT NULL,
        user_name VARCHAR NOT NULL,
        message VARCHAR,
        filename VARCHAR NOT NULL,
        upload VARCHAR NOT NULL,
        seed INTEGER NOT NULL,
        state VARCHAR NOT NULL CHECK (state IN ('queued', 'running')),
        attempts INTEGER NOT NULL DEFAULT 0,
        queued_at TIMESTAMP NOT NULL,
        started_at TIMESTAMP
    );
    """,
    # 9: why a reproduction disagreed: what differed from the recorded run, how far it moved
    """
    ALTER TABLE reproductions ADD COLUMN differences JSON;
    ALTER TABLE reproductions ADD COLUMN verdict VARCHAR;
    """,
    # 10: the competitions' rules (every change kept), teams, final picks; when each
    # submission was made (the daily limit and the deadline judge that moment, not the
    # end of its run); its score on the valid set; local runs under way (the daily limit
    # counts them, so two at once cannot both take the last one)
    """
    ALTER TABLE submissions ADD COLUMN submitted_at TIMESTAMP;
    UPDATE submissions SET submitted_at = created_at;
    ALTER TABLE submissions ADD COLUMN valid_score DOUBLE;
    CREATE TABLE rules (
        competition VARCHAR NOT NULL,
        changed_at TIMESTAMP NOT NULL,
        daily_limit INTEGER,
        final_picks INTEGER NOT NULL,
        deadline TIMESTAMP,
        team_size INTEGER NOT NULL,
        changed VARCHAR NOT NULL
    );
    CREATE TABLE teams (
        competition VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (competition, name)
    );
    CREATE TABLE team_members (
        competition VARCHAR NOT NULL,
        member VARCHAR NOT NULL,
        team VARCHAR NOT NULL,
        joined_at TIMESTAMP NOT NULL,
        PRIMARY KEY (competition, member)
    );
    CREATE TABLE team_changes (
        competition VARCHAR NOT NULL,
        team VARCHAR NOT NULL,
        member VARCHAR,
        change VARCHAR NOT NULL,
        changed_at TIMESTAMP NOT NULL
    );
    CREATE TABLE picks (
        submission_id INTEGER PRIMARY KEY,
        competition VARCHAR NOT NULL,
        picked_at TIMESTAMP NOT NULL
    );
    CREATE TABLE pending (
        id INTEGER PRIMARY KEY,
        competition VARCHAR NOT NULL,
        user_name VARCHAR NOT NULL,
        submitted_at TIMESTAMP NOT NULL,
        host VARCHAR NOT NULL,
        pid INTEGER NOT NULL
    );
    """,
    # 11: where a code run ran: the executor (local or ray), the machine, its GPU
    """
    ALTER TABLE submissions ADD COLUMN executor VARCHAR;
    ALTER TABLE submissions ADD COLUMN node VARCHAR;
    ALTER TABLE submissions ADD COLUMN gpu VARCHAR;
    """,
    # 12: the course's way in: the CSV a Kaggle-style run handed in (--output), the
    # pretrained weights a run loaded, and what the run decided or warns about
    """
    ALTER TABLE submissions ADD COLUMN output VARCHAR;
    ALTER TABLE submissions ADD COLUMN weights JSON;
    ALTER TABLE submissions ADD COLUMN warnings JSON;
    ALTER TABLE submissions ADD COLUMN decisions JSON;
    ALTER TABLE queue ADD COLUMN output VARCHAR;
    """,
    # 13: a group the members can trust (Kaggle's privacy, quotas, the host's own
    # measurements): organisers, and members' e-mail addresses (an OpenID sign-in, where
    # the group has one, maps to a member by it); a submission its member published; the
    # size of what was sent (kept when the file is not); what a run said of itself, apart
    # from what the host measured; rules that open all code after the deadline, a run's
    # timeout, and caps on an entrant's queued uploads and stored bytes
    """
    ALTER TABLE members ADD COLUMN organiser BOOLEAN DEFAULT false;
    ALTER TABLE members ADD COLUMN email VARCHAR;
    ALTER TABLE submissions ADD COLUMN published_at TIMESTAMP;
    ALTER TABLE submissions ADD COLUMN upload_bytes BIGINT;
    ALTER TABLE submissions ADD COLUMN reported JSON;
    ALTER TABLE rules ADD COLUMN open_code BOOLEAN;
    ALTER TABLE rules ADD COLUMN timeout_seconds INTEGER;
    ALTER TABLE rules ADD COLUMN max_queued INTEGER;
    ALTER TABLE rules ADD COLUMN max_stored_mb INTEGER;
    ALTER TABLE queue ADD COLUMN bytes BIGINT;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)
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


def stored_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version a database holds (0: none yet)."""
    try:  # asked on every open: no catalog listing (has_table), one small read
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except duckdb.CatalogException:  # no meta table: nothing migrated it yet
        return 0
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Brings the schema up to SCHEMA_VERSION, each step in its own transaction."""
    current = stored_version(con)
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"the database has schema {current}, newer than this harness ({SCHEMA_VERSION}); "
            "update the harness"
        )
    for version in range(current + 1, SCHEMA_VERSION + 1):
        con.execute("BEGIN")
        con.execute(MIGRATIONS[version - 1])
        con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(version)])
        con.execute("COMMIT")


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


def _rows(cur) -> list[dict]:
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
        return _rows(con.execute(sql, list(params)))


def _insert(con, table: str, row: dict) -> int:
    """INSERT one row (its keys are column names, never user text); returns its id."""
    cols = list(row)
    return con.execute(
        f"INSERT INTO {table} ({', '.join(cols)}) "
        f"VALUES ({', '.join('?' * len(cols))}) RETURNING id",
        [row[c] for c in cols],
    ).fetchone()[0]


def insert_submission(
    row: dict, epochs: list[dict], artifacts: list[dict] = (), queued: int | None = None
) -> int:
    """Writes a submission, its epochs and its artifacts in one transaction; returns its id.

    Args:
        queued: the id of the server's queued work (or of a local run's reservation,
            `rules.reserve`) this row ends; the row takes that id and the work leaves the
            queue in the same transaction.
    """
    row = {**row, "created_at": row.get("created_at") or now()}
    row["submitted_at"] = row.get("submitted_at") or row["created_at"]
    if queued is not None:
        row["id"] = queued
    for c in JSON_COLUMNS:
        if c in row and row[c] is not None:
            row[c] = json.dumps(row[c], default=repr)
    with connect() as con:
        con.execute("BEGIN")
        sub_id = _insert(con, "submissions", row)
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


def _metrics_of(epoch: dict) -> dict:
    return {
        k: v
        for k, v in epoch.items()
        if k not in ("fit", "epoch", "seconds", "train_loss", "valid_loss")
    }


def insert_reproduction(row: dict) -> int:
    row = {**row, "created_at": now()}
    if row.get("differences") is not None:
        row["differences"] = json.dumps(row["differences"], default=repr)
    with connect() as con:
        return _insert(con, "reproductions", row)


def submission(sub_id: int) -> dict | None:
    """Everything recorded for one submission, with its epochs and reproductions."""
    with connect(read_only=True) as con:
        if con is None:
            return None
        rows = _rows(con.execute("SELECT * FROM submissions WHERE id = ?", [sub_id]))
        if not rows:
            return None
        row = rows[0]
        # what the rules make of it now: late (made at or after the deadline), and when
        # the private scores were shown (None: still hidden)
        deadline = (rules_row(con, row["competition"]) or {}).get("deadline")
        made = row.get("submitted_at")
        row["late"] = deadline is not None and made is not None and made >= deadline
        row["revealed_at"] = shown_at(con, row["competition"], row["competition_version"])
        row["epochs"] = _rows(
            con.execute(
                "SELECT fit, epoch, seconds, train_loss, valid_loss, metrics FROM epochs "
                "WHERE submission_id = ? ORDER BY fit, epoch",
                [sub_id],
            )
        )
        row["artifacts"] = _rows(
            con.execute(
                "SELECT name, kind, title, path FROM artifacts WHERE submission_id = ? "
                "ORDER BY rowid",
                [sub_id],
            )
        )
        row["reproductions"] = _rows(
            con.execute(
                "SELECT id, identical, status, error, public_score, device, wall_seconds, "
                "verdict, differences, created_at FROM reproductions WHERE submission_id = ? "
                "ORDER BY id",
                [sub_id],
            )
        )
    return row


def rules_row(con, competition: str) -> dict | None:
    """The competition's rules in force (the newest `rules` row), None before any."""
    if not has_table(con, "rules"):
        return None
    rows = _rows(
        con.execute(
            "SELECT * FROM rules WHERE competition = ? "
            "ORDER BY changed_at DESC, rowid DESC LIMIT 1",
            [competition],
        )
    )
    return rows[0] if rows else None


def shown_at(con, competition: str, version: int) -> datetime | None:
    """When a competition version's private scores were shown: the organiser's reveal,
    or the deadline once it has passed, whichever came first; None while hidden."""
    times = []
    if has_table(con, "reveals"):
        got = con.execute(
            "SELECT revealed_at FROM reveals WHERE competition = ? AND competition_version = ?",
            [competition, version],
        ).fetchone()
        times += [got[0]] if got else []
    deadline = (rules_row(con, competition) or {}).get("deadline")
    if deadline is not None and now() >= deadline:
        times.append(deadline)
    return min(times) if times else None


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


def latest_board(competition: str, version: int) -> str | None:
    """The data fingerprint of the newest scored submission of this competition version."""
    rows = read(
        "SELECT data_fingerprint FROM submissions WHERE competition = ? AND "
        "competition_version = ? AND status = 'scored' ORDER BY id DESC LIMIT 1",
        [competition, version],
    )
    return rows[0]["data_fingerprint"] if rows else None


_IN_FORCE = object()  # the deadline of the rules in force, read with the board


def leaderboard(
    competition: str,
    version: int,
    fingerprint: str,
    metric: Metric,
    deadline=_IN_FORCE,
):
    """Best public score per entrant (a member, or their team); ties go to the earlier
    submission, as on Kaggle. Late submissions (made at or after `deadline`, by default
    the one in force) stay off.

    Returns:
        A list of dicts with rank, user (the member's or the team's name), team (bool),
        members, score, submission_id, entries, submitted_at, last_submission_at,
        is_baseline and also, best first.
    """
    # every API call and page view of a board asks this (a window over all its
    # submissions): remembered until the store is written; each caller gets its own rows
    given = "in force" if deadline is _IN_FORCE else deadline
    key = ("leaderboard", competition, version, fingerprint, metric.sign, given)
    rows = remembered(
        key, lambda: _leaderboard(competition, version, fingerprint, metric, deadline)
    )
    return [{**r, "also": dict(r["also"]), "members": list(r["members"])} for r in rows]


def _leaderboard(competition: str, version: int, fingerprint: str, metric: Metric, deadline):
    sql = f"""
        WITH scored AS (
            SELECT id, entrant, is_team, public_score, created_at, is_baseline, extra_scores,
                   row_number() OVER (PARTITION BY entrant
                                      ORDER BY ? * public_score, created_at, id) AS pick,
                   count(*) OVER (PARTITION BY entrant) AS entries,
                   max(created_at) OVER (PARTITION BY entrant) AS last_at
            FROM ({ENTRIES}) e
            WHERE competition_version = ? AND data_fingerprint = ? AND status = 'scored'
              AND NOT late
        )
        SELECT row_number() OVER (ORDER BY ? * public_score, created_at, id) AS rank,
               extra_scores,
               entrant AS user, is_team AS team,
               public_score AS score, id AS submission_id, entries,
               created_at AS submitted_at, last_at AS last_submission_at, is_baseline
        FROM scored WHERE pick = 1 ORDER BY rank
    """
    teams: dict[str, list[str]] = {}
    with connect(read_only=True) as con:  # one open for the rules, the board, the teams
        if con is None:
            return []
        if deadline is _IN_FORCE:
            deadline = (rules_row(con, competition) or {}).get("deadline")
        params = [metric.sign, deadline, deadline, competition, version, fingerprint, metric.sign]
        rows = _rows(con.execute(sql, params))
        if any(r["team"] for r in rows):  # a team's members, also those yet to submit
            for team, member in con.execute(
                "SELECT team, member FROM team_members WHERE competition = ? "
                "ORDER BY joined_at, member",
                [competition],
            ).fetchall():
                teams.setdefault(team, []).append(member)
    for r in rows:
        # the board is public: only the public part of the extra scores
        r["also"] = {k: v["public"] for k, v in (r.pop("extra_scores") or {}).items()}
        r["members"] = teams.get(r["user"], []) if r["team"] else [r["user"]]
    return rows


# a competition's submissions with who they count for (the team a member is in, else the
# member) and whether they were late; parameters: deadline, deadline, competition
ENTRIES = """
    SELECT s.*, coalesce(t.team, s.user_name) AS entrant, t.team IS NOT NULL AS is_team,
           coalesce(CAST(? AS TIMESTAMP) IS NOT NULL AND s.submitted_at >= CAST(? AS TIMESTAMP),
                    false) AS late
    FROM submissions s
    LEFT JOIN team_members t ON t.competition = s.competition AND t.member = s.user_name
    WHERE s.competition = ?
"""


def done_before(competition: str, fingerprint: str, file_sha256: str, user: str) -> int | None:
    """The id of a scored submission of this exact file by this user on this data, if any."""
    rows = read(
        "SELECT id FROM submissions WHERE competition = ? AND data_fingerprint = ? AND "
        "file_sha256 = ? AND user_name = ? AND status = 'scored' ORDER BY id LIMIT 1",
        [competition, fingerprint, file_sha256, user],
    )
    return rows[0]["id"] if rows else None


def set_revealed(competition: str, version: int, shown: bool) -> None:
    """Shows (or hides again) a competition version's private scores; a second reveal
    keeps the first one's time."""
    key = [competition, version]
    with connect() as con:
        if shown:
            con.execute("INSERT OR IGNORE INTO reveals VALUES (?, ?, ?)", [*key, now()])
        else:
            con.execute(
                "DELETE FROM reveals WHERE competition = ? AND competition_version = ?", key
            )


# --- Kaggle ---------------------------------------------------------------------------------

KAGGLE_UPDATABLE = ("status", "error", "public_score", "private_score", "kaggle_date", "synced_at")


def insert_kaggle_submission(row: dict) -> int:
    """Records a file Kaggle accepted (status pending until Kaggle has scored it)."""
    with connect() as con:
        return _insert(con, "kaggle_submissions", row)


def update_kaggle_submissions(verdicts: list[dict]) -> None:
    """Kaggle's status and scores, by (kaggle_competition, kaggle_ref), in one transaction."""
    if not verdicts:
        return
    sets = ", ".join(f"{c} = ?" for c in KAGGLE_UPDATABLE)
    with connect() as con:
        con.execute("BEGIN")
        for v in verdicts:
            con.execute(
                f"UPDATE kaggle_submissions SET {sets} "
                "WHERE kaggle_competition = ? AND kaggle_ref = ?",
                [v[c] for c in KAGGLE_UPDATABLE] + [v["kaggle_competition"], v["kaggle_ref"]],
            )
        con.execute("COMMIT")


def kaggle_submissions(competition: str) -> list[dict]:
    """What was sent to Kaggle, oldest first, with the local submission's user and score.

    Each row has the kaggle_submissions columns plus user_name, local_filename, metric and
    local_public_score (None for a CSV sent as is).
    """
    sql = """
        SELECT k.*, s.user_name, s.filename AS local_filename, s.metric,
               s.public_score AS local_public_score
        FROM kaggle_submissions k LEFT JOIN submissions s ON s.id = k.submission_id
        WHERE k.competition = ? ORDER BY k.id
    """
    return read(sql, [competition], table="kaggle_submissions")


def kaggle_best(competition: str, metric: Metric) -> dict | None:
    """The group's best scored Kaggle submission; ties go to the earlier one."""
    rows = [
        r
        for r in kaggle_submissions(competition)
        if r["status"] == "complete" and r["public_score"] is not None
    ]
    return min(rows, key=lambda r: (metric.sign * r["public_score"], r["id"])) if rows else None


def replace_kaggle_leaderboard(competition: str, slug: str, fetched_at, teams: list[dict]) -> None:
    """Stores a fresh read of Kaggle's public leaderboard in place of the last one."""
    with connect() as con:
        con.execute("BEGIN")
        con.execute("DELETE FROM kaggle_leaderboard WHERE competition = ?", [competition])
        if teams:
            con.executemany(
                "INSERT INTO kaggle_leaderboard VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    [
                        competition,
                        slug,
                        fetched_at,
                        t["rank"],
                        t["team_id"],
                        t["team_name"],
                        t["score"],
                        t["submitted_at"],
                    ]
                    for t in teams
                ],
            )
        con.execute("COMMIT")


def kaggle_leaderboard(competition: str) -> list[dict]:
    """The stored read of Kaggle's public leaderboard, best first (rank, team_name, score...)."""
    sql = "SELECT * FROM kaggle_leaderboard WHERE competition = ? ORDER BY rank"
    return read(sql, [competition], table="kaggle_leaderboard")


def kaggle_rank(competition: str, score: float, metric: Metric) -> int:
    """Where `score` ranks on the stored Kaggle board: 1 + the teams that score better."""
    rows = read(
        "SELECT count(*) AS n FROM kaggle_leaderboard WHERE competition = ? AND ? * score < ?",
        [competition, metric.sign, metric.sign * score],
        table="kaggle_leaderboard",
    )
    return (rows[0]["n"] if rows else 0) + 1
