"""The boards: each competition's public ranking (`leaderboard`, which `harness
leaderboard`, the server's API and the app share), the private board once shown, and the
read-only queries behind the leaderboard app (`leaderboard/app.py`).

Every query reads through `db.connect(read_only=True)`, and a page holds one such
connection while it renders (`reading`). Opening waits while a `harness submit` holds
DuckDB's write lock, so a page is a moment late, never an error; a submit likewise waits
out a page. Every query takes parameters; nothing user-written is pasted into SQL.
Private scores leave this module only once they are shown (`rules.shown_at`: the
deadline passed, or the organiser revealed them). Rows are per entrant: a member, or the
team they are in; late submissions stay off the boards.
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from harness.competition import data
from harness.competition.registry import Competition
from harness.metrics import Metric
from harness.store import db, quotas, rules, submissions

POINTS = 500  # the score-vs-time chart: the best this many (more slows the browser)
# a board's rows: one competition version, one prepared dataset, scored, in time (a
# constant, no input); the submissions come from rules.ENTRIES (entrant, is_team, late)
IN_TIME = "competition_version = ? AND data_fingerprint = ? AND status = 'scored' AND NOT late"
ON_BOARD = f"({rules.ENTRIES}) e WHERE {IN_TIME}"


@dataclass
class Board:
    """A competition's public board, with private scores once revealed.

    Attributes:
        fingerprint: the data the board is ranked on; None before any data or score.
        rows: `leaderboard` rows, best first; once the private scores are shown,
            with `private` and `private_rank` (the entrant's row of `private`).
        revealed_at: when the private scores were shown, else None.
        rules: the competition's rules.
        private: the private board once shown (`private_board`), else None.
    """

    competition: Competition
    fingerprint: str | None
    rows: list[dict]
    revealed_at: datetime | None
    rules: rules.Rules
    private: list[dict] | None = None

    @property
    def params(self) -> list:
        """The parameters of ON_BOARD for this board."""
        d = self.rules.deadline
        return [d, d, self.competition.name, self.competition.spec.version, self.fingerprint]

    @property
    def machines(self) -> dict[str, int]:
        """The kinds of arithmetic the board's rows were computed with (`computed_on`),
        with how many rows each, most first: more than one and the same code could score a
        little differently from row to row."""
        kinds = Counter(r["computed_on"] for r in self.rows if r.get("computed_on"))
        return dict(kinds.most_common())

    @property
    def sign(self) -> float:
        """Sorting ascending on sign * score puts the best first."""
        return self.competition.metric.sign


@contextmanager
def reading():
    """Holds one read-only connection while a page renders.

    Opening the DuckDB file is the dearest part of a small query (tens of milliseconds:
    it reads the catalog). While one connection is open, DuckDB hands every other
    `connect` to the same file its open database, so a page's queries share one open.
    A writer waits for the page (a few hundred milliseconds at most), as for any reader.
    """
    with db.connect(read_only=True) as con:
        yield con


def latest_board(competition: str, version: int) -> str | None:
    """The data fingerprint of the newest scored submission of this competition version."""
    rows = db.read(
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
    rows = db.remembered(
        key, lambda: _leaderboard(competition, version, fingerprint, metric, deadline)
    )
    return [{**r, "also": dict(r["also"]), "members": list(r["members"])} for r in rows]


def _leaderboard(competition: str, version: int, fingerprint: str, metric: Metric, deadline):
    sql = f"""
        WITH scored AS (
            SELECT id, entrant, is_team, public_score, created_at, is_baseline, extra_scores,
                   device, gpu, reported->>'$.versions.numerics' AS numerics,
                   reported->>'$.versions.cpu_capability' AS capability,
                   reported->>'$.versions.cpu' AS cpu,
                   reported->>'$.versions.torch_threads' AS threads,
                   row_number() OVER (PARTITION BY entrant
                                      ORDER BY ? * public_score, created_at, id) AS pick,
                   count(*) OVER (PARTITION BY entrant) AS entries,
                   max(created_at) OVER (PARTITION BY entrant) AS last_at
            FROM ({rules.ENTRIES}) e
            WHERE competition_version = ? AND data_fingerprint = ? AND status = 'scored'
              AND NOT late
        )
        SELECT row_number() OVER (ORDER BY ? * public_score, created_at, id) AS rank,
               extra_scores,
               entrant AS user, is_team AS team,
               public_score AS score, id AS submission_id, entries,
               created_at AS submitted_at, last_at AS last_submission_at, is_baseline,
               device, gpu, numerics, capability, cpu, threads
        FROM scored WHERE pick = 1 ORDER BY rank
    """
    teams: dict[str, list[str]] = {}
    with db.connect(read_only=True) as con:  # one open for the rules, the board, the teams
        if con is None:
            return []
        if deadline is _IN_FORCE:
            deadline = rules.current(con, competition).deadline
        params = [metric.sign, deadline, deadline, competition, version, fingerprint, metric.sign]
        rows = db.rows(con.execute(sql, params))
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
        r["computed_on"] = computed_on(*(r.pop(k) for k in MACHINE))
    return rows


MACHINE = ("device", "gpu", "numerics", "capability", "cpu", "threads")  # `computed_on`'s


def computed_on(
    device: str | None,
    gpu: str | None,
    numerics: str | None,
    capability: str | None,
    cpu: str | None,
    threads: str | None = None,
) -> str | None:
    """What a run's arithmetic depended on, in words: its GPU's model, the CPU's portable
    numerics, or a CPU's own kernels and threads; None where the run did not say (a CSV, a
    run without torch, a run recorded before the harness asked)."""
    if device and device.startswith("cuda"):
        return gpu or "an unnamed GPU"
    if numerics == "portable" and capability == "AVX2":  # a CPU without AVX2 cannot be
        return "CPU, portable numerics"
    if capability:
        return f"{cpu or 'a CPU'}, its own {capability} kernels, {threads or '?'} threads"
    return None


def ranking(comp: Competition) -> tuple[str | None, list[dict]]:
    """The fingerprint of the board shown for a competition, and its rows."""
    prepared = data.current(comp)
    fingerprint = prepared.fingerprint if prepared else latest_board(comp.name, comp.spec.version)
    if fingerprint is None:
        return None, []
    rows = leaderboard(comp.name, comp.spec.version, fingerprint, comp.metric)
    return fingerprint, rows


def read_board(comp: Competition) -> Board:
    """The board `harness leaderboard` shows, plus the private scores once shown."""
    fingerprint, rows = ranking(comp)
    with db.connect(read_only=True) as con:
        in_force = rules.current(con, comp.name)
        revealed = rules.shown_at(con, comp.name, comp.spec.version)
    out = Board(comp, fingerprint, rows, revealed, in_force)
    if revealed:
        out.private = private_rows(out) if rows else []
        by_user = {r["user"]: r for r in out.private}
        for r in rows:
            p = by_user.get(r["user"], {})
            r["private"], r["private_rank"] = p.get("score"), p.get("rank")
    return out


def private_board(comp: Competition) -> list[dict] | None:
    """The private board once it is shown (None before): each entrant's final picks (with
    none picked, their best public ones, as on Kaggle), ranked by the best private score
    among them.

    Returns:
        Dicts with rank, user, score (the best private score of the picks), public_rank,
        picks (the ids that counted), picked (whether the entrant chose them), moved
        (public_rank - rank: up is positive), team, members, and the counted
        submission's submission_id, public_score and valid_score; best first.
    """
    return read_board(comp).private


def arrow(moved: int) -> str:
    """A move from the public to the private board: up (better) is positive."""
    return f"↑{moved}" if moved > 0 else f"↓{-moved}" if moved < 0 else "="


def private_rows(b: Board) -> list[dict]:
    entries = db.read(
        f"""
        SELECT e.id, e.entrant, e.public_score, e.private_score, e.valid_score, e.created_at,
               p.picked_at
        FROM ({rules.ENTRIES}) e LEFT JOIN picks p ON p.submission_id = e.id WHERE {IN_TIME}
        ORDER BY e.id
        """,
        b.params,
    )
    mine: dict[str, list[dict]] = {}
    for e in entries:
        mine.setdefault(e["entrant"], []).append(e)
    public = {r["user"]: r for r in b.rows}
    final, sign = b.rules.final, b.sign
    out = []
    for who, subs in mine.items():
        chosen = sorted(
            (e for e in subs if e["picked_at"] is not None),
            key=lambda e: (e["picked_at"], e["id"]),
            reverse=True,
        )[:final]
        picked = bool(chosen)
        if not picked:
            chosen = sorted(
                subs, key=lambda e: (sign * e["public_score"], e["created_at"], e["id"])
            )
            chosen = chosen[:final]
        best = min(chosen, key=lambda e: (sign * e["private_score"], e["created_at"], e["id"]))
        row = public.get(who)
        if row is None:  # scored since the public board was read: on the next read
            continue
        out.append(
            {
                "user": who,
                "score": best["private_score"],
                "public_rank": row["rank"],
                "picks": sorted(e["id"] for e in chosen),
                "picked": picked,
                "team": row["team"],
                "members": row["members"],
                "submission_id": best["id"],
                "public_score": best["public_score"],
                "valid_score": best["valid_score"],
                "_order": (sign * best["private_score"], best["created_at"], best["id"]),
            }
        )
    out.sort(key=lambda r: r.pop("_order"))
    for i, r in enumerate(out, 1):
        r["rank"] = i
        r["moved"] = r["public_rank"] - i
    keys = ["rank", "user", "score", "public_rank", "moved", "picks", "picked"]
    return [{k: r[k] for k in keys} | r for r in out]


def activity() -> dict[str, dict]:
    """Per competition: every submission (any status or version), users, the latest time."""
    rows = db.read(
        "SELECT competition, count(*) AS entries, count(DISTINCT user_name) AS participants, "
        "max(created_at) AS last_submission_at FROM submissions GROUP BY competition",
        [],
    )
    return {r.pop("competition"): r for r in rows}


def best_over_time(b: Board, users: list[str]) -> list[dict]:
    """Each moment a user's best score on the board improved: user, submitted_at, best."""
    if not users:
        return []
    return db.read(
        f"""
        WITH runs AS (
            SELECT id, entrant, created_at,
                   min(? * public_score) OVER (PARTITION BY entrant ORDER BY created_at, id
                                               ROWS UNBOUNDED PRECEDING) AS best
            FROM {ON_BOARD} AND entrant IN (SELECT unnest(?))
        ), steps AS (
            SELECT *, lag(best) OVER (PARTITION BY entrant ORDER BY created_at, id) AS before
            FROM runs
        )
        SELECT entrant AS user, created_at AS submitted_at, ? * best AS best,
               id AS submission_id
        FROM steps WHERE before IS NULL OR best < before
        ORDER BY entrant, created_at, id
        """,
        [b.sign, *b.params, users, b.sign],
    )


def score_vs_time(b: Board, limit: int = POINTS) -> list[dict]:
    """The board's best scored submissions with their training time.

    Returns:
        Dicts with submission_id, user, filename, arch (CONFIG's "arch" where the member
        named it, else the architecture the worker recorded), parameters, message, score,
        seconds_per_epoch (mean over the epochs table, None without epochs) and
        train_seconds (the training and predicting time the run reported), best first.
    """
    return db.read(
        f"""
        WITH picked AS (  -- only the columns shown: logs and code are large
            SELECT id, user_name, filename, config, model, message, public_score, seconds,
                   reported, created_at, is_baseline, published_at
            FROM {ON_BOARD}
            ORDER BY ? * public_score, created_at, id LIMIT ?
        ), per_epoch AS (
            SELECT submission_id, avg(seconds) AS seconds_per_epoch FROM epochs
            WHERE submission_id IN (SELECT id FROM picked) GROUP BY submission_id
        )
        SELECT p.id AS submission_id, p.user_name AS user, p.filename,
               coalesce(p.config ->> '$.arch', p.model ->> '$.architecture') AS arch,
               TRY_CAST(p.model ->> '$.parameters' AS BIGINT) AS parameters,
               p.message, p.public_score AS score, p.is_baseline, p.published_at,
               e.seconds_per_epoch,
               TRY_CAST(coalesce(p.reported ->> '$.seconds.train_predict',
                                 p.seconds ->> '$.train_predict') AS DOUBLE) AS train_seconds
        FROM picked p LEFT JOIN per_epoch e ON e.submission_id = p.id
        ORDER BY ? * p.public_score, p.created_at, p.id
        """,
        [*b.params, b.sign, limit, b.sign],
    )


def latest(competition: str, limit: int = 20) -> list[dict]:
    """The newest submissions of a competition, every status and version."""
    return db.read(
        "SELECT id, user_name AS user, filename, status, public_score AS score, message, "
        "error, created_at, is_baseline, published_at FROM submissions "
        "WHERE competition = ? ORDER BY id DESC LIMIT ?",
        [competition, limit],
    )


def submission(sub_id: int) -> dict | None:
    """`submissions.submission`, its private scores removed until they are shown."""
    row = submissions.submission(sub_id)
    if row is not None:
        if row["revealed_at"] is None:
            row["private_score"] = None
            for v in (row.get("extra_scores") or {}).values():
                v.pop("private", None)
    return row


def allowances(comp: Competition) -> list[dict]:
    """Each member's (or team's) submissions left today: user, members, used, remaining,
    for the group's members and everyone who has submitted to the competition."""
    names = db.read("SELECT name FROM members ORDER BY name", table="members")
    names += db.read(
        "SELECT DISTINCT user_name AS name FROM submissions WHERE competition = ? "
        "AND NOT is_baseline ORDER BY name",
        [comp.name],
    )
    out: dict[str, dict] = {}
    at = db.now()
    with db.connect(read_only=True) as con:
        stands = [
            quotas.allowance(con, comp.name, n, at) for n in dict.fromkeys(r["name"] for r in names)
        ]
    for a in stands:
        out.setdefault(
            a.entrant.name,
            {
                "user": a.entrant.name,
                "members": ", ".join(a.entrant.members) if a.entrant.team else "",
                "used today": a.used,
                "left today": a.remaining,
            },
        )
    return sorted(out.values(), key=lambda r: r["user"])
