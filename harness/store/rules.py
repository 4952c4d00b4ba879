"""A competition's rules, as on Kaggle: a daily limit, final picks, a deadline, team sizes;
and what keeps one entrant from holding the group's host: a run's timeout, caps on the
uploads an entrant has queued and on the bytes the host keeps for them.

The rules in force are the newest row of the `rules` table; every change adds a row, so
the history says who could submit what, when. Everything derived from them is computed
when it is read, never stored beside a submission: moving the deadline moves which
submissions are late and when the private scores show. What the rules count is in
`quotas` (the daily limit, the caps) and `picks` (final picks); who counts, in `teams`.

- A submission is late when it was made at or after the deadline (`ENTRIES`, the one
  place that says so); it is scored, shown on its own page, and kept off both boards. A
  deadline set in the past that would make submissions already made late is refused
  unless the organiser says it is meant (`retroactive`): a typo must not empty the boards.
- Private scores show once the deadline has passed or the organiser revealed them.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from harness.errors import UsageError
from harness.store import db

DEFAULT_FINAL = 2
DEFAULT_TEAM_SIZE = 4
# a member's few tries in flight are enough for the queue to keep them busy; more only
# holds the queue and the disk (20 queued 99 MB uploads were 2 GB of uploads/)
DEFAULT_MAX_QUEUED = 5
DEFAULT_MAX_STORED_MB = 500  # five CSVs at the largest a CSV may be (validate.CSV_LIMIT)
MAX_TIMEOUT = 24 * 3600  # seconds: a run longer than a day is a mistake in the rules
# one admission at a time in a process (the server's threads): a submission admitted
# against the limits, a final pick, a team change (which moves what an entrant has used).
# Taken once the connection is open: opening is the slow part (tens of milliseconds),
# counting and inserting are not
admitting = threading.Lock()


@dataclass
class Rules:
    competition: str
    daily_limit: int | None = None
    final: int = DEFAULT_FINAL
    deadline: datetime | None = None
    team_size: int = DEFAULT_TEAM_SIZE
    changed_at: datetime | None = None
    open_code: bool = False  # all code becomes public after the deadline (privacy.py)
    timeout_seconds: int | None = None  # a run's; None: the server's (harness serve --timeout)
    max_queued: int = DEFAULT_MAX_QUEUED  # uploads an entrant may have queued or running
    max_stored_mb: int = DEFAULT_MAX_STORED_MB  # what the host keeps of an entrant's uploads

    def closed(self, at: datetime | None = None) -> bool:
        """Whether the deadline has passed (at `at`, default now)."""
        return self.deadline is not None and (at or db.now()) >= self.deadline


# a competition's submissions with who they count for (the team a member is in, else the
# member) and whether they were late: made at or after the deadline, the one definition
# of late; parameters: deadline, deadline, competition
ENTRIES = """
    SELECT s.*, coalesce(t.team, s.user_name) AS entrant, t.team IS NOT NULL AS is_team,
           coalesce(CAST(? AS TIMESTAMP) IS NOT NULL AND s.submitted_at >= CAST(? AS TIMESTAMP),
                    false) AS late
    FROM submissions s
    LEFT JOIN team_members t ON t.competition = s.competition AND t.member = s.user_name
    WHERE s.competition = ?
"""


def late(con, competition: str, sub_id: int) -> bool:
    """Whether a submission is late under the rules in force (`ENTRIES`'s judgement)."""
    d = current(con, competition).deadline
    got = con.execute(f"SELECT late FROM ({ENTRIES}) e WHERE id = ?", [d, d, competition, sub_id])
    row = got.fetchone()
    return bool(row and row[0])


def _in_force(con, competition: str) -> dict | None:
    """The newest `rules` row of the competition, None before any."""
    if not db.has_table(con, "rules"):
        return None
    rows = db.rows(
        con.execute(
            "SELECT * FROM rules WHERE competition = ? "
            "ORDER BY changed_at DESC, rowid DESC LIMIT 1",
            [competition],
        )
    )
    return rows[0] if rows else None


def current(con, competition: str) -> Rules:
    """The rules in force (the defaults until the organiser sets any).

    Args:
        con: an open connection; None (no store yet, as `db.connect(read_only=True)`
            yields) gives the defaults.
    """
    r = None if con is None else _in_force(con, competition)
    if r is None:
        return Rules(competition)
    return Rules(
        competition,
        r["daily_limit"],
        r["final_picks"],
        r["deadline"],
        r["team_size"],
        r["changed_at"],
        # rows written before these rules existed hold NULL: the defaults
        open_code=bool(r.get("open_code")),
        timeout_seconds=r.get("timeout_seconds"),
        max_queued=r.get("max_queued") or DEFAULT_MAX_QUEUED,
        max_stored_mb=r.get("max_stored_mb") or DEFAULT_MAX_STORED_MB,
    )


def history(competition: str) -> list[dict]:
    """Every change, oldest first: changed_at, what changed, and the rules after it."""
    return db.read(
        "SELECT changed_at, changed, daily_limit, final_picks AS final, deadline, team_size, "
        "open_code, timeout_seconds, max_queued, max_stored_mb "
        "FROM rules WHERE competition = ? ORDER BY changed_at, rowid",
        [competition],
        table="rules",
    )


def change(competition: str, retroactive: bool = False, **changes) -> Rules:
    """Records new rules: the current ones with `changes` applied (keys: the fields of
    `Rules`; None for daily_limit, deadline or timeout_seconds removes it).

    Args:
        retroactive: a deadline in the past may make submissions already made late.

    Raises:
        UsageError: a value out of range, a team over a smaller team size, or a past
            deadline that would make earlier submissions late without `retroactive`.
    """
    with db.connect() as con:
        old = current(con, competition)
        new = Rules(**{**asdict(old), **changes, "changed_at": db.now()})
        if new.daily_limit is not None and new.daily_limit < 1:
            raise UsageError(
                f"--daily-limit must be at least 1 (or none), got {new.daily_limit}; "
                "to close the competition set --deadline"
            )
        for flag, value in (
            ("--final", new.final),
            ("--team-size", new.team_size),
            ("--max-queued", new.max_queued),
            ("--max-stored-mb", new.max_stored_mb),
        ):
            if value < 1:
                raise UsageError(f"{flag} must be at least 1, got {value}")
        if new.timeout_seconds is not None and not 1 <= new.timeout_seconds <= MAX_TIMEOUT:
            raise UsageError(
                f"--timeout must be 1 to {MAX_TIMEOUT} seconds (or none: the server's), "
                f"got {new.timeout_seconds}"
            )
        if "deadline" in changes and not retroactive:
            _not_retroactive(con, competition, old, new)
        big = con.execute(
            "SELECT team, count(*) AS n FROM team_members WHERE competition = ? GROUP BY team "
            "HAVING count(*) > ? ORDER BY team LIMIT 1",
            [competition, new.team_size],
        ).fetchone()
        if big:
            raise UsageError(
                f"team {big[0]!r} has {big[1]} members, more than --team-size {new.team_size}: "
                f"remove members first (harness team remove {big[0]} MEMBER "
                f"--competition {competition})"
            )
        said = ", ".join(f"{k}={_text(v)}" for k, v in changes.items()) or "nothing"
        if retroactive and "deadline" in changes:
            said += " (retroactive)"
        con.execute(
            "INSERT INTO rules (competition, changed_at, daily_limit, final_picks, deadline, "
            "team_size, changed, open_code, timeout_seconds, max_queued, max_stored_mb) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                competition,
                new.changed_at,
                new.daily_limit,
                new.final,
                new.deadline,
                new.team_size,
                said,
                new.open_code,
                new.timeout_seconds,
                new.max_queued,
                new.max_stored_mb,
            ],
        )
    return new


def _not_retroactive(con, competition: str, old: Rules, new: Rules) -> None:
    """Refuses a deadline in the past that would make submissions already made late
    (those made since it, and not late already under the old one).

    Raises:
        UsageError: naming how many and the flags that do what was likely meant.
    """
    if new.deadline is None or new.deadline >= new.changed_at:
        return
    since, until = new.deadline, old.deadline  # those before the old one were on time
    if until is not None and until <= since:  # later than the old one: none becomes late
        return
    made = con.execute(
        "SELECT id FROM submissions WHERE competition = ? AND status = 'scored' "
        "AND submitted_at >= ? AND (? IS NULL OR submitted_at < ?) UNION ALL "
        "SELECT id FROM queue WHERE competition = ? AND queued_at >= ? "
        "AND (? IS NULL OR queued_at < ?) UNION ALL "
        "SELECT id FROM pending WHERE competition = ? AND submitted_at >= ? "
        "AND (? IS NULL OR submitted_at < ?) ORDER BY id",
        [competition, since, until, until] * 3,
    ).fetchall()
    if not made:
        return
    ids = ", ".join(str(r[0]) for r in made[:5]) + (", ..." if len(made) > 5 else "")
    raise UsageError(
        f"--deadline {_text(new.deadline)} UTC is in the past: {len(made)} submission"
        f"{'s' if len(made) != 1 else ''} made since then ({ids}) would become late and "
        "leave the boards; --deadline now closes the competition now, --retroactive makes "
        "them late"
    )


def _text(v) -> str:
    if v is None:
        return "none"
    if isinstance(v, datetime):
        return v.isoformat(sep=" ", timespec="minutes")
    return str(v)


def day_of(at: datetime) -> tuple[datetime, datetime]:
    """The UTC day `at` falls in: [its midnight, the next)."""
    start = at.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


# --- the deadline and the private scores ----------------------------------------------------


def shown_at(con, competition: str, version: int) -> datetime | None:
    """When a competition version's private scores were shown: the organiser's reveal,
    or the deadline once it has passed, whichever came first; None while hidden (and
    with no store yet: `con` None)."""
    if con is None:
        return None
    times = []
    if db.has_table(con, "reveals"):
        got = con.execute(
            "SELECT revealed_at FROM reveals WHERE competition = ? AND competition_version = ?",
            [competition, version],
        ).fetchone()
        times += [got[0]] if got else []
    r = current(con, competition)
    if r.closed():
        times.append(r.deadline)
    return min(times) if times else None


def set_revealed(competition: str, version: int, shown: bool) -> None:
    """Shows (or hides again) a competition version's private scores; a second reveal
    keeps the first one's time."""
    key = [competition, version]
    with db.connect() as con:
        if shown:
            con.execute("INSERT OR IGNORE INTO reveals VALUES (?, ?, ?)", [*key, db.now()])
        else:
            con.execute(
                "DELETE FROM reveals WHERE competition = ? AND competition_version = ?", key
            )


def hidden_until(competition: str) -> str:
    """Why the private scores are hidden, and until when (one line)."""
    with db.connect(read_only=True) as con:
        rules = current(con, competition)
    if rules.deadline is not None:
        return (
            f"{competition}'s private scores are hidden until the deadline, "
            f"{rules.deadline:%Y-%m-%d %H:%M} UTC (or until the organiser reveals them)"
        )
    return (
        f"{competition}'s private scores are hidden until the organiser reveals them "
        f"(harness reveal {competition}) or a deadline passes (harness rules {competition} "
        "--deadline ISO)"
    )


def describe(rules: Rules) -> dict:
    """The rules as `harness rules --json` prints them."""
    return {
        "competition": rules.competition,
        "daily_limit": rules.daily_limit,
        "final": rules.final,
        "deadline": rules.deadline,
        "team_size": rules.team_size,
        "closed": rules.closed(),
        "changed_at": rules.changed_at,
        "open_code": rules.open_code,
        "timeout_seconds": rules.timeout_seconds,
        "max_queued": rules.max_queued,
        "max_stored_mb": rules.max_stored_mb,
    }
