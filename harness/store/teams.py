"""Teams: members who enter a competition together, as on Kaggle; and who a submission
counts for (`entrant`): the team its member is in, else the member alone.

A member is in at most one team per competition. A team's members share one daily
limit, one set of final picks and one row on each board; their earlier submissions come
with them (a team's entries are its members' submissions). Joining is refused when the
merged submissions are more than the daily limit allowed so far (Kaggle's merge rule:
the limit times the days since the competition's first submission), or when the team
would be larger than the rules allow. Every change is kept in `team_changes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from harness.errors import HarnessError, UsageError
from harness.store import db, members, rules


class TeamRefused(HarnessError):
    """A team change the rules do not allow (exit 1)."""


@dataclass
class Entrant:
    """Who a submission counts for: a member alone, or the team they are in."""

    name: str
    members: list[str]
    team: bool


def entrant(con, competition: str, user: str) -> Entrant:
    """The team `user` is in on this competition, else `user` alone (also with no store
    yet: `con` None)."""
    name = None if con is None else _team_of(con, competition, user)
    if name is None:
        return Entrant(user, [user], False)
    return Entrant(name, team_members(con, competition, name), True)


def team_members(con, competition: str, team: str) -> list[str]:
    """The team's members on this competition, oldest first."""
    got = con.execute(
        "SELECT member FROM team_members WHERE competition = ? AND team = ? "
        "ORDER BY joined_at, member",
        [competition, team],
    ).fetchall()
    return [m for (m,) in got]


def _open_for_changes(con, competition: str) -> rules.Rules:
    r = rules.current(con, competition)
    if r.closed():
        raise TeamRefused(
            f"{competition} closed at {r.deadline:%Y-%m-%d %H:%M} UTC: teams can no longer change"
        )
    return r


def _team_of(con, competition: str, member: str) -> str | None:
    got = con.execute(
        "SELECT team FROM team_members WHERE competition = ? AND member = ?", [competition, member]
    ).fetchone()
    return got[0] if got else None


def allowed_so_far(con, competition: str, limit: int, at: datetime) -> tuple[int, int]:
    """(the submissions the daily limit allowed since the competition began, its days)."""
    first = con.execute(
        "SELECT min(submitted_at) FROM submissions WHERE competition = ?", [competition]
    ).fetchone()[0]
    start = rules.day_of(first or at)[0]
    days = (rules.day_of(at)[0] - start).days + 1
    return limit * days, days


def _check_merge(con, competition: str, r: rules.Rules, who: list[str], what: str) -> None:
    """Kaggle's merge rule and the team size, for a team of `who`."""
    if len(who) > r.team_size:
        raise TeamRefused(
            f"{what}: a team of {len(who)} is over {competition}'s team size of {r.team_size}"
        )
    if r.daily_limit is None:
        return
    at = db.now()
    merged = con.execute(
        "SELECT count(*) FROM submissions WHERE competition = ? AND status = 'scored' "
        "AND user_name IN (SELECT unnest(?))",
        [competition, who],
    ).fetchone()[0]
    allowed, days = allowed_so_far(con, competition, r.daily_limit, at)
    if merged > allowed:
        raise TeamRefused(
            f"{what}: together {', '.join(who)} made {merged} submissions, more than the "
            f"{allowed} a team could have made in the {days} day{'s' if days != 1 else ''} "
            f"since {competition} began ({r.daily_limit} a day; Kaggle's merge rule)"
        )


def _log(con, competition: str, team: str, member: str | None, change: str) -> None:
    con.execute(
        "INSERT INTO team_changes VALUES (?, ?, ?, ?, ?)",
        [competition, team, member, change, db.now()],
    )


def create(competitions: list[str], name: str, who: list[str]) -> dict:
    """A new team of `who` on each of `competitions` (all or none).

    Raises:
        UsageError: a bad or taken name, no members, a member twice.
        TeamRefused: closed, a member already in a team, over the size, the merge rule.
    """
    name = members.check_name(name)
    who = [members.check_name(m) for m in who]
    if not who:
        raise UsageError("a team needs at least one member: --members a,b")
    if len(set(who)) != len(who):
        raise UsageError(f"--members names someone twice: {','.join(who)}")
    with db.connect() as con, rules.admitting:
        for c in competitions:
            r = _open_for_changes(con, c)
            if con.execute(
                "SELECT 1 FROM teams WHERE competition = ? AND name = ?", [c, name]
            ).fetchone():
                raise UsageError(f"{c} already has a team called {name!r}")
            if con.execute(
                "SELECT 1 FROM submissions WHERE competition = ? AND user_name = ? "
                "UNION ALL SELECT 1 FROM members WHERE name = ?",
                [c, name, name],
            ).fetchone():
                raise UsageError(f"{name!r} is a member's name; a team needs a name of its own")
            for m in who:
                if (other := _team_of(con, c, m)) is not None:
                    raise TeamRefused(f"{m} is already in team {other!r} on {c}")
            _check_merge(con, c, r, who, f"team {name!r} on {c}")
        at = db.now()
        con.execute("BEGIN")
        for c in competitions:
            con.execute("INSERT INTO teams VALUES (?, ?, ?)", [c, name, at])
            _log(con, c, name, None, "create")
            for m in who:
                con.execute("INSERT INTO team_members VALUES (?, ?, ?, ?)", [c, m, name, at])
                _log(con, c, name, m, "add")
        con.execute("COMMIT")
    return team(competitions, name)


def add(competitions: list[str], name: str, member: str) -> dict:
    """`member` joins the team on each of `competitions` (all or none); their earlier
    submissions join with them.

    Raises:
        UsageError: no such team. TeamRefused: closed, in another team, over the size, the
        merge rule.
    """
    member = members.check_name(member)
    with db.connect() as con, rules.admitting:
        for c in competitions:
            r = _open_for_changes(con, c)
            now_in = _require(con, c, name)
            if (other := _team_of(con, c, member)) is not None:
                raise TeamRefused(f"{member} is already in team {other!r} on {c}")
            _check_merge(con, c, r, [*now_in, member], f"{member} joining {name!r} on {c}")
        con.execute("BEGIN")
        for c in competitions:
            con.execute("INSERT INTO team_members VALUES (?, ?, ?, ?)", [c, member, name, db.now()])
            _log(con, c, name, member, "add")
        con.execute("COMMIT")
    return team(competitions, name)


def remove(competitions: list[str], name: str, member: str) -> dict:
    """`member` leaves the team on each of `competitions` (their submissions go with them);
    the last one to leave ends it there."""
    with db.connect() as con, rules.admitting:
        left = {}
        for c in competitions:
            _open_for_changes(con, c)
            now_in = _require(con, c, name)
            if member not in now_in:
                raise UsageError(
                    f"{member} is not in team {name!r} on {c} (members: {', '.join(now_in)})"
                )
            left[c] = len(now_in) - 1
        con.execute("BEGIN")
        for c in competitions:
            con.execute(
                "DELETE FROM team_members WHERE competition = ? AND member = ?", [c, member]
            )
            _log(con, c, name, member, "remove")
            if left[c] == 0:
                con.execute("DELETE FROM teams WHERE competition = ? AND name = ?", [c, name])
                _log(con, c, name, None, "end")
        con.execute("COMMIT")
    return team(competitions, name)


def where(name: str, competitions: list[str]) -> list[str]:
    """The competitions (of `competitions`) that have a team called `name`."""
    rows = db.read(
        "SELECT competition FROM teams WHERE name = ? ORDER BY competition", [name], table="teams"
    )
    have = {r["competition"] for r in rows}
    return [c for c in competitions if c in have]


def _require(con, competition: str, name: str) -> list[str]:
    if not con.execute(
        "SELECT 1 FROM teams WHERE competition = ? AND name = ?", [competition, name]
    ).fetchone():
        raise UsageError(f"{competition} has no team called {name!r} (harness team list)")
    return team_members(con, competition, name)


def team(competitions: list[str], name: str) -> dict:
    """team, and per competition its members (oldest first; none once the last has left)."""
    with db.connect(read_only=True) as con:
        return {
            "team": name,
            "competitions": {
                c: [] if con is None else team_members(con, c, name) for c in competitions
            },
        }


def listing(competition: str) -> list[dict]:
    """The competition's teams: team, members, created_at."""
    with db.connect(read_only=True) as con:
        if con is None:
            return []
        rows = db.rows(
            con.execute(
                "SELECT name AS team, created_at FROM teams WHERE competition = ? "
                "ORDER BY created_at, name",
                [competition],
            )
        )
        for r in rows:
            r["members"] = team_members(con, competition, r["team"])
    return rows
