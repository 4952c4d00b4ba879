"""A competition's rules, as on Kaggle: a daily limit, final picks, a deadline, team sizes.

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
  on its own page, and kept off both boards.
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
# one admission at a time in a process (the server's threads), taken once the connection
# is open: opening is the slow part (tens of milliseconds), counting and inserting are not
_admitting = threading.Lock()


class OverLimit(HarnessError):
    """The entrant has used today's submissions (the submission is recorded rejected)."""


@dataclass
class Rules:
    competition: str
    daily_limit: int | None = None
    final: int = DEFAULT_FINAL
    deadline: datetime | None = None
    team_size: int = DEFAULT_TEAM_SIZE
    changed_at: datetime | None = None

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
    )


def history(competition: str) -> list[dict]:
    """Every change, oldest first: changed_at, what changed, and the rules after it."""
    return db.read(
        "SELECT changed_at, changed, daily_limit, final_picks AS final, deadline, team_size "
        "FROM rules WHERE competition = ? ORDER BY changed_at, rowid",
        [competition],
        table="rules",
    )


def change(competition: str, **changes) -> Rules:
    """Records new rules: the current ones with `changes` applied (keys: daily_limit,
    final, deadline, team_size; None for daily_limit or deadline removes it).

    Raises:
        UsageError: a value out of range, or a team over a smaller team size.
    """
    with db.connect() as con:
        old = current(competition, con)
        new = Rules(**{**asdict(old), **changes, "changed_at": db.now()})
        if new.daily_limit is not None and new.daily_limit < 1:
            raise UsageError(
                f"--daily-limit must be at least 1 (or none), got {new.daily_limit}; "
                "to close the competition set --deadline"
            )
        for flag, value in (("--final", new.final), ("--team-size", new.team_size)):
            if value < 1:
                raise UsageError(f"{flag} must be at least 1, got {value}")
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
        con.execute(
            "INSERT INTO rules (competition, changed_at, daily_limit, final_picks, deadline, "
            "team_size, changed) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                competition,
                new.changed_at,
                new.daily_limit,
                new.final,
                new.deadline,
                new.team_size,
                said,
            ],
        )
    return new


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
        return Allowance(who, None, 0, end)
    n = used(con, competition, who.members, start, end)
    return Allowance(who, rules.daily_limit, n, end)


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
