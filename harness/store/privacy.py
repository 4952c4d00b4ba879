"""Kaggle's privacy: who may see what a member wrote.

Public, to everyone (anonymous visitors included): names and teams, scores, entries,
statuses, times, the boards and their charts, and the course baselines in full. Private to
the member who sent a submission, their team on its competition, and the organisers: its
code, CONFIG, docstring, message, file name, error, log, diagnostics (epochs, artifacts,
model, decisions, warnings, weights), predictions, and what compares or re-runs them.

A private submission opens to everyone when its member (or a team mate, or an organiser)
publishes it (`harness publish ID`, like a public Kaggle notebook), or when the rules
open all code (`harness rules NAME --open-code`) and the deadline has passed.

Every path asks the same question here: the board (`leaderboard/`), the API
(`harness.server.api`), and so `harness show` and `harness diff` from a member's machine.
The host's own shell is the organiser: it reads the store directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.errors import HarnessError, UsageError
from harness.store import db, members, rules, teams

# a record's fields everyone may read; every other field of a private record is blanked
PUBLIC = frozenset(
    (
        "id",
        "competition",
        "competition_version",
        "status",
        "metric",
        "higher_is_better",
        "public_score",
        "private_score",
        "valid_score",
        "also",
        "late",
        "user",
        "user_name",
        "team",
        "is_baseline",
        "kind",
        "entry",
        "seed",
        "device",
        "gpu",
        "gpu_peak_mb",
        "wall_seconds",
        "peak_memory_mb",
        "sandboxed",
        "executor",
        "node",
        "data_source",
        "data_fingerprint",
        "submitted_at",
        "created_at",
        "revealed_at",
        "published_at",
        "place",
        "queued_at",
        "started_at",
        "attempt",
        "epoch_of",
        "remaining",
        "limit",
        "used",
        "score",
        "submission_id",
        "seconds_per_epoch",
        "train_seconds",
    )
)


class Private(HarnessError):
    """The viewer may not see a submission's private parts (its code, log, ...)."""


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a member, an organiser, or nobody signed in (member None)."""

    member: str | None
    organiser: bool = False

    @property
    def anonymous(self) -> bool:
        return self.member is None and not self.organiser


ANONYMOUS = Viewer(None)
HOST = Viewer(None, organiser=True)  # the organiser's shell on the host


def viewer(member: str | None) -> Viewer:
    """The viewer a signed-in member (or None) is: an organiser when the store says so."""
    if member is None:
        return ANONYMOUS
    found = members.known().get(member)
    return Viewer(member, organiser=bool(found and found.organiser))


@dataclass
class Lens:
    """One viewer's sight on one competition: whose private work they may read, computed
    once (a board shows many rows)."""

    viewer: Viewer
    competition: str
    rules: rules.Rules
    mates: frozenset[str] = field(default_factory=frozenset)

    @property
    def open(self) -> bool:
        """The rules opened all code: the deadline has passed and they say so."""
        return self.rules.open_code and self.rules.closed()

    def sees(self, row: dict) -> bool:
        """Whether the viewer may read the private parts of `row` (a submission's row or
        record: user or user_name, is_baseline, published_at)."""
        user = row.get("user_name", row.get("user"))
        return bool(
            self.viewer.organiser
            or row.get("is_baseline")
            or row.get("published_at")
            or (self.viewer.member is not None and user in self.mates)
            or self.open
        )

    def why_not(self, row: dict) -> str:
        """One line: whose the submission is, and when its private parts open."""
        user = row.get("user_name", row.get("user"))
        sub = f"submission {row['id']}" if row.get("id") is not None else "this submission"
        opens = f"until {user} or their team publishes it (harness publish {row.get('id')})"
        if self.rules.open_code and self.rules.deadline is not None:
            opens += f", or the deadline opens all code at {self.rules.deadline:%Y-%m-%d %H:%M} UTC"
        who = (
            "sign in to see your own"
            if self.viewer.member is None
            else f"you are signed in as {self.viewer.member}"
        )
        return (
            f"{sub} is {user}'s: its code, log and diagnostics are private to {user}, their "
            f"team and the organisers {opens}; {who}"
        )

    def check(self, row: dict) -> None:
        """Raises:
        Private: the viewer may not read the row's private parts."""
        if not self.sees(row):
            raise Private(self.why_not(row))

    def shown(self, row: dict) -> dict:
        """`row` as the viewer may see it: whole, or its private fields blanked (None, or
        [] for lists) with `private` saying why."""
        if self.sees(row):
            return row
        out = {k: v if k in PUBLIC else [] if isinstance(v, list) else None for k, v in row.items()}
        out["private"] = self.why_not(row)
        return out

    def rows(self, rows: list[dict]) -> list[dict]:
        return [self.shown(r) for r in rows]


def lens(v: Viewer, competition: str) -> Lens:
    """The viewer's lens on a competition: their team mates there (or themselves), and the
    rules in force."""
    mates: frozenset[str] = frozenset()
    with db.connect(read_only=True) as con:
        r = rules.current(con, competition)
        if v.member is not None:
            mates = frozenset(teams.entrant(con, competition, v.member).members) | {v.member}
    return Lens(v, competition, r, mates)


def of(v: Viewer, row: dict) -> Lens:
    """The lens for one submission's row."""
    return lens(v, row["competition"])


def whose(sub_id: int) -> dict | None:
    """What the lens needs of a recorded submission (id, competition, user_name,
    is_baseline, published_at), or None when there is none."""
    found = db.read(
        "SELECT id, competition, user_name, is_baseline, published_at FROM submissions "
        "WHERE id = ?",
        [sub_id],
    )
    return found[0] if found else None


def publish(sub_id: int, v: Viewer) -> dict:
    """Makes a submission's private parts public to everyone, for good (like a public
    Kaggle notebook); its member, a team mate or an organiser may.

    Returns:
        {"id", "published_at", "already"}: already True when it was public before.

    Raises:
        UsageError: no such submission.
        Private: the viewer may not publish it (it is someone else's).
    """
    row = whose(sub_id)
    if row is None:
        raise UsageError(f"no recorded submission with id {sub_id}")
    if row["published_at"] is not None or row["is_baseline"]:
        return {"id": sub_id, "published_at": row["published_at"], "already": True}
    sight = lens(v, row["competition"])
    if not (v.organiser or (v.member is not None and row["user_name"] in sight.mates)):
        raise Private(
            f"submission {sub_id} is {row['user_name']}'s: only {row['user_name']}, their "
            "team or an organiser can publish it"
        )
    at = db.now()
    with db.connect() as con:
        con.execute(
            "UPDATE submissions SET published_at = ? WHERE id = ? AND published_at IS NULL",
            [at, sub_id],
        )
    return {"id": sub_id, "published_at": at, "already": False}
