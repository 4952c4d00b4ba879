"""A competition's rules, as on Kaggle: a daily limit, final picks, a deadline, team sizes;
and what keeps one entrant from holding the group's host: a run's timeout, caps on the
uploads an entrant has queued and on the bytes the host keeps for them.

The rules in force are the newest row of the `rules` table; every change adds a row, so
the history says who could submit what, when. Everything derived from them is computed
when it is read, never stored beside a submission: moving the deadline moves which
submissions are late and when the private scores show.

- The daily limit counts an entrant's submissions (a member's, or their team's) made on
  the UTC day: the scored ones and those still queued or running. Failed and rejected
  ones never count, so a run that crashes gives its slot back when it is recorded.
- Admission counts and reserves in one connection, which DuckDB holds alone on the
  file, under one lock per process: two submits at one left cannot both get it.
- A submission is late when it was made at or after the deadline; it is scored, shown
  on its own page, and kept off both boards. A deadline set in the past that would make
  submissions already made late is refused unless the organiser says it is meant
  (`retroactive`): a typo must not empty the boards.
- The caps count per entrant and competition: work queued or running on the server, and
  the bytes of what they sent that the host keeps (queued uploads, recorded submissions'
  files). An upload over a cap is refused like one over the daily limit, and only its
  hash and size are kept.
- Private scores show once the deadline has passed or the organiser revealed them.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from harness.errors import HarnessError, UsageError
from harness.store import db

DEFAULT_FINAL = 2
DEFAULT_TEAM_SIZE = 4
# a member's few tries in flight are enough for the queue to keep them busy; more only
# holds the queue and the disk (20 queued 99 MB uploads were 2 GB of uploads/)
DEFAULT_MAX_QUEUED = 5
DEFAULT_MAX_STORED_MB = 500  # five CSVs at the largest a CSV may be (validate.CSV_LIMIT)
MAX_TIMEOUT = 24 * 3600  # seconds: a run longer than a day is a mistake in the rules
# one admission at a time in a process (the server's threads), taken once the connection
# is open: opening is the slow part (tens of milliseconds), counting and inserting are not
_admitting = threading.Lock()


class OverLimit(HarnessError):
    """The entrant is over a limit of the rules: today's submissions, or (an upload) the
    queue or storage cap; the submission is recorded rejected."""


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

    def late(self, submitted_at: datetime | None) -> bool:
        return (
            self.deadline is not None and submitted_at is not None and submitted_at >= self.deadline
        )


@dataclass
class Entrant:
    """Who a submission counts for: a member alone, or the team they are in."""

    name: str
    members: list[str]
    team: bool


def _con_or_read(con, sql: str, params: list, table: str) -> list[dict]:
    if con is None:
        return db.read(sql, params, table=table)
    if not db.has_table(con, table):
        return []
    return db._rows(con.execute(sql, params))


def current(competition: str, con=None) -> Rules:
    """The rules in force (the defaults until the organiser sets any)."""
    if con is None:
        with db.connect(read_only=True) as con:
            return current(competition, con) if con is not None else Rules(competition)
    r = db.rules_row(con, competition)
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
        old = current(competition, con)
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


# --- who counts: members and teams ------------------------------------------------------------


def entrant(competition: str, user: str, con=None) -> Entrant:
    """The team `user` is in on this competition, else `user` alone."""
    team = _con_or_read(
        con,
        "SELECT team FROM team_members WHERE competition = ? AND member = ?",
        [competition, user],
        "team_members",
    )
    if not team:
        return Entrant(user, [user], False)
    name = team[0]["team"]
    return Entrant(name, team_members(competition, name, con), True)


def team_members(competition: str, team: str, con=None) -> list[str]:
    rows = _con_or_read(
        con,
        "SELECT member FROM team_members WHERE competition = ? AND team = ? "
        "ORDER BY joined_at, member",
        [competition, team],
        "team_members",
    )
    return [r["member"] for r in rows]


# --- the daily limit ------------------------------------------------------------------------


def day_of(at: datetime) -> tuple[datetime, datetime]:
    """The UTC day `at` falls in: [its midnight, the next)."""
    start = at.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def used(con, competition: str, users: list[str], since: datetime, until: datetime) -> int:
    """Submissions that count against a limit, made in [since, until): scored, queued on
    the server, or running here. Failed and rejected ones never count."""
    scored = con.execute(
        "SELECT count(*) FROM submissions WHERE competition = ? AND status = 'scored' "
        "AND user_name IN (SELECT unnest(?)) AND submitted_at >= ? AND submitted_at < ?",
        [competition, users, since, until],
    ).fetchone()[0]
    queued = con.execute(
        "SELECT count(*) FROM queue WHERE competition = ? AND user_name IN (SELECT unnest(?)) "
        "AND queued_at >= ? AND queued_at < ?",
        [competition, users, since, until],
    ).fetchone()[0]
    running = con.execute(
        "SELECT count(*) FROM pending WHERE competition = ? AND user_name IN (SELECT unnest(?)) "
        "AND submitted_at >= ? AND submitted_at < ?",
        [competition, users, since, until],
    ).fetchone()[0]
    return scored + queued + running


@dataclass
class Allowance:
    """Where an entrant stands today: the limit (None: none), used, remaining."""

    entrant: Entrant
    limit: int | None
    used: int
    next_at: datetime
    rules: Rules | None = None  # those it was judged by (their caps judge an upload next)

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)

    def text(self) -> str:
        """'1 of 5 left today', or 'no daily limit'."""
        if self.limit is None:
            return "no daily limit"
        return f"{self.remaining} of {self.limit} left today"


def allowance(competition: str, user: str, at: datetime | None = None, con=None) -> Allowance:
    """The entrant's submissions left on the UTC day of `at` (default now); without a
    daily limit nothing is counted (`used` 0)."""
    at = at or db.now()
    if con is None:
        with db.connect(read_only=True) as con:
            if con is None:  # no store yet: nothing used
                return Allowance(
                    Entrant(user, [user], False), current(competition).daily_limit, 0, day_of(at)[1]
                )
            return allowance(competition, user, at, con)
    rules = current(competition, con)
    who = entrant(competition, user, con)
    start, end = day_of(at)
    if rules.daily_limit is None:  # nothing to count against
        return Allowance(who, None, 0, end, rules)
    n = used(con, competition, who.members, start, end)
    return Allowance(who, rules.daily_limit, n, end, rules)


def left(competition: str, user: str, a: Allowance | None = None) -> dict:
    """What a submit's JSON says of the limit: `remaining` (submissions left today, None
    without a limit) and `daily_limit`; from `a` when the caller has it."""
    a = a or allowance(competition, user)
    return {"remaining": a.remaining, "daily_limit": a.limit}


def over_limit(a: Allowance, competition: str, at: datetime) -> str:
    """The rejection's one line: the limit, who used it, when the next submission can be made."""
    wait = a.next_at - at
    hours, minutes = int(wait.total_seconds() // 3600), int(wait.total_seconds() % 3600 // 60)
    who = f"team {a.entrant.name!r}" if a.entrant.team else a.entrant.name
    per = "team" if a.entrant.team else "member"
    return (
        f"daily limit reached: {competition} allows {a.limit} submission"
        f"{'s' if a.limit != 1 else ''} a day per {per} and {who} made {a.used} today "
        f"(failed and rejected ones do not count); the next is possible at "
        f"{a.next_at:%Y-%m-%d %H:%M} UTC, in {hours} h {minutes:02d} min"
    )


def admit(con, competition: str, user: str, at: datetime) -> Allowance:
    """Checks the daily limit inside the caller's connection (which must then reserve).

    Returns:
        Where the entrant stands with this submission counted.

    Raises:
        OverLimit: no submission left today; its message is the rejection's error.
    """
    a = allowance(competition, user, at, con)
    if a.limit is not None and a.used >= a.limit:
        raise OverLimit(over_limit(a, competition, at))
    a.used += a.limit is not None
    return a


@dataclass
class Holding:
    """What an entrant holds on the server for one competition: work queued or running,
    and the bytes the host keeps of what they sent."""

    queued: int
    stored_bytes: int


def holding(con, competition: str, users: list[str]) -> Holding:
    """The entrant's queued (or running) uploads and stored bytes: those uploads' sizes
    and the files of their recorded submissions (a refused one keeps none)."""
    queued, in_queue, recorded = con.execute(
        "SELECT count(*), coalesce(sum(bytes), 0), (SELECT coalesce(sum(coalesce(upload_bytes, "
        "strlen(content), 0)), 0) FROM submissions WHERE competition = ? "
        "AND status <> 'rejected' AND user_name IN (SELECT unnest(?))) "
        "FROM queue WHERE competition = ? AND user_name IN (SELECT unnest(?))",
        [competition, users, competition, users],
    ).fetchone()
    return Holding(queued, int(in_queue) + int(recorded))


def hold(con, a: Allowance, size: int) -> None:
    """Checks an upload of `size` bytes against the queue and storage caps, inside the
    connection `admit` judged it in (`a`: what it found; the caller then queues it).

    Raises:
        OverLimit: over a cap; its message is the rejection's error.
    """
    r, who = a.rules, a.entrant
    competition = r.competition
    h = holding(con, competition, who.members)
    name = f"team {who.name!r}" if who.team else who.name
    per = "team" if who.team else "member"
    if h.queued >= r.max_queued:
        raise OverLimit(
            f"queue cap reached: {competition} allows {r.max_queued} upload"
            f"{'s' if r.max_queued != 1 else ''} queued or running per {per} and {name} has "
            f"{h.queued}; upload again once one of them has run"
        )
    cap = r.max_stored_mb * 10**6
    if h.stored_bytes + size > cap:
        raise OverLimit(
            f"storage cap reached: {competition} keeps at most {r.max_stored_mb} MB of a "
            f"{per}'s uploads and {name} has {h.stored_bytes / 1e6:.1f} MB; this upload "
            f"({size / 1e6:.1f} MB) would pass it (the organiser can raise it: harness rules "
            f"{competition} --max-stored-mb N)"
        )


def reserve(competition: str, user: str) -> tuple[int, datetime]:
    """Admits a local run and holds its place until it is recorded (`release` if it is
    not): the submission's id and the moment it was made.

    Raises:
        OverLimit: no submission left today.
    """
    host, at = socket.gethostname(), db.now()
    with db.connect() as con, _admitting:
        _forget_dead(con, host)
        admit(con, competition, user, at)
        sub_id = db.draw_id(con)
        con.execute(
            "INSERT INTO pending VALUES (?, ?, ?, ?, ?, ?)",
            [sub_id, competition, user, at, host, os.getpid()],
        )
    return sub_id, at


def release(sub_id: int) -> None:
    """A local run ended without a record (interrupted): its place is given back."""
    with db.connect() as con:
        con.execute("DELETE FROM pending WHERE id = ?", [sub_id])


def _forget_dead(con, host: str) -> None:
    """Reservations of this machine's runs whose process is gone (a kill -9) count no more."""
    for sub_id, pid in con.execute("SELECT id, pid FROM pending WHERE host = ?", [host]).fetchall():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            con.execute("DELETE FROM pending WHERE id = ?", [sub_id])
        except PermissionError:  # alive, another user's
            pass


# --- the deadline and the private scores ----------------------------------------------------


def shown_at(competition: str, version: int, con=None) -> datetime | None:
    """When the private scores were shown (`db.shown_at`); None while they are hidden."""
    if con is None:
        with db.connect(read_only=True) as con:
            return None if con is None else db.shown_at(con, competition, version)
    return db.shown_at(con, competition, version)


def hidden_until(competition: str) -> str:
    """Why the private scores are hidden, and until when (one line)."""
    rules = current(competition)
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


# --- final picks ------------------------------------------------------------------------------


def select(ids: list[int], member: str | None = None) -> dict:
    """Makes `ids` the final picks of the entrant they belong to (replacing earlier ones).

    Args:
        member: who asks (through the server: the token's member); the submissions must be
            theirs or their team's. None (on the host): the entrant of the first one.

    Returns:
        competition, user (the entrant), team, picks, final.

    Raises:
        UsageError: an unknown id, another competition's, another entrant's, not scored,
            late, or more than the rules' final picks.
        HarnessError: the deadline has passed (picks are locked).
    """
    ids = list(dict.fromkeys(ids))
    if not ids:
        raise UsageError("name at least one submission id to pick")
    with db.connect() as con, _admitting:
        found = {
            r["id"]: r
            for r in db._rows(
                con.execute(
                    "SELECT id, competition, user_name, status, submitted_at FROM submissions "
                    "WHERE id IN (SELECT unnest(?))",
                    [ids],
                )
            )
        }
        for i in ids:
            if i not in found:
                raise UsageError(f"no submission with id {i}")
        competition = found[ids[0]]["competition"]
        for i in ids:
            if found[i]["competition"] != competition:
                raise UsageError(
                    f"submission {i} is on {found[i]['competition']}, not {competition}: "
                    "pick one competition's submissions at a time"
                )
        rules = current(competition, con)
        if rules.closed():
            raise HarnessError(
                f"{competition} closed at {rules.deadline:%Y-%m-%d %H:%M} UTC: final picks "
                "are locked"
            )
        if len(ids) > rules.final:
            raise UsageError(
                f"{competition} allows {rules.final} final pick{'s' if rules.final != 1 else ''}"
                f", not {len(ids)}"
            )
        who = entrant(competition, member or found[ids[0]]["user_name"], con)
        for i in ids:
            r = found[i]
            if r["user_name"] not in who.members:
                owner = "the team's" if who.team else f"{who.name}'s"
                raise UsageError(f"submission {i} is {r['user_name']}'s, not {owner}")
            if r["status"] != "scored":
                raise UsageError(
                    f"submission {i} is {r['status']}: only scored submissions can be picked"
                )
        con.execute("BEGIN")
        con.execute(
            "DELETE FROM picks WHERE competition = ? AND submission_id IN "
            "(SELECT id FROM submissions WHERE competition = ? AND user_name IN "
            "(SELECT unnest(?)))",
            [competition, competition, who.members],
        )
        at = db.now()
        con.executemany("INSERT INTO picks VALUES (?, ?, ?)", [[i, competition, at] for i in ids])
        con.execute("COMMIT")
    return {
        "competition": competition,
        "user": who.name,
        "team": who.team,
        "picks": sorted(ids),
        "final": rules.final,
    }


def picks(competition: str, user: str) -> list[int]:
    """The final picks of the entrant `user` counts for (the newest `final` of them)."""
    with db.connect(read_only=True) as con:
        if con is None or not db.has_table(con, "picks"):
            return []
        who = entrant(competition, user, con)
        final = current(competition, con).final
        rows = con.execute(
            "SELECT p.submission_id FROM picks p JOIN submissions s ON s.id = p.submission_id "
            "WHERE p.competition = ? AND s.user_name IN (SELECT unnest(?)) "
            "ORDER BY p.picked_at DESC, p.submission_id DESC LIMIT ?",
            [competition, who.members, final],
        ).fetchall()
    return sorted(r[0] for r in rows)
