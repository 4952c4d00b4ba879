"""What the rules count: an entrant's submissions a day, and (on the server) their queued
uploads and the bytes the host keeps for them.

- The daily limit counts an entrant's submissions (a member's, or their team's) made on
  the UTC day: the scored ones and those still queued or running. Failed and rejected
  ones never count, so a run that crashes gives its slot back when it is recorded.
- Admission counts and reserves in one connection, which DuckDB holds alone on the
  file, under one lock per process (`rules.admitting`): two submits at one left cannot
  both get it.
- The caps count per entrant and competition: work queued or running on the server, and
  the bytes of what they sent that the host keeps (queued uploads, recorded submissions'
  files). An upload over a cap is refused like one over the daily limit, and only its
  hash and size are kept.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime

from harness.errors import HarnessError
from harness.store import db, rules, teams


class OverLimit(HarnessError):
    """The entrant is over a limit of the rules: today's submissions, or (an upload) the
    queue or storage cap; the submission is recorded rejected."""


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

    entrant: teams.Entrant
    limit: int | None
    used: int
    next_at: datetime
    rules: rules.Rules | None = None  # those it was judged by (their caps judge an upload next)

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)

    def text(self) -> str:
        """'1 of 5 left today', or 'no daily limit'."""
        if self.limit is None:
            return "no daily limit"
        return f"{self.remaining} of {self.limit} left today"


def allowance(con, competition: str, user: str, at: datetime | None = None) -> Allowance:
    """The entrant's submissions left on the UTC day of `at` (default now); without a
    daily limit nothing is counted (`used` 0), nor with no store yet (`con` None)."""
    at = at or db.now()
    r = rules.current(con, competition)
    who = teams.entrant(con, competition, user)
    start, end = rules.day_of(at)
    if r.daily_limit is None or con is None:  # nothing to count against, or nothing counted
        return Allowance(who, r.daily_limit, 0, end, r)
    n = used(con, competition, who.members, start, end)
    return Allowance(who, r.daily_limit, n, end, r)


def left(competition: str, user: str, a: Allowance | None = None) -> dict:
    """What a submit's JSON says of the limit: `remaining` (submissions left today, None
    without a limit) and `daily_limit`; from `a` when the caller has it."""
    if a is None:
        with db.connect(read_only=True) as con:
            a = allowance(con, competition, user)
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
    a = allowance(con, competition, user, at)
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
    with db.connect() as con, rules.admitting:
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
