"""Final picks, as on Kaggle: the submissions an entrant (a member, or their team) chooses
to be judged by on the private board, at most the rules' `final`, locked at the deadline.
"""

from __future__ import annotations

from harness.errors import HarnessError, UsageError
from harness.store import db, rules, teams


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
    with db.connect() as con, rules.admitting:
        found = {
            r["id"]: r
            for r in db.rows(
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
        in_force = rules.current(con, competition)
        if in_force.closed():
            raise HarnessError(
                f"{competition} closed at {in_force.deadline:%Y-%m-%d %H:%M} UTC: final picks "
                "are locked"
            )
        if len(ids) > in_force.final:
            raise UsageError(
                f"{competition} allows {in_force.final} final "
                f"pick{'s' if in_force.final != 1 else ''}, not {len(ids)}"
            )
        who = teams.entrant(con, competition, member or found[ids[0]]["user_name"])
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
        "final": in_force.final,
    }


def of(competition: str, user: str) -> list[int]:
    """The final picks of the entrant `user` counts for (the newest `final` of them)."""
    with db.connect(read_only=True) as con:
        if con is None or not db.has_table(con, "picks"):
            return []
        who = teams.entrant(con, competition, user)
        final = rules.current(con, competition).final
        rows = con.execute(
            "SELECT p.submission_id FROM picks p JOIN submissions s ON s.id = p.submission_id "
            "WHERE p.competition = ? AND s.user_name IN (SELECT unnest(?)) "
            "ORDER BY p.picked_at DESC, p.submission_id DESC LIMIT ?",
            [competition, who.members, final],
        ).fetchall()
    return sorted(r[0] for r in rows)
