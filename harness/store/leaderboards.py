"""Read-only queries behind the leaderboard app (`leaderboard/app.py`).

Every query reads through `db.connect(read_only=True)`, and a page holds one such
connection while it renders (`reading`). Opening waits while a `harness submit` holds
DuckDB's write lock, so a page is a moment late, never an error; a submit likewise waits
out a page. Every query takes parameters; nothing user-written is pasted into SQL.
Private scores leave this module only for competition versions the organiser revealed.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from harness.competition import data
from harness.competition.registry import Competition
from harness.store import db

POINTS = 500  # the score-vs-time chart: the best this many (more slows the browser)
# a board's rows: one competition version, one prepared dataset, scored (a constant, no input)
ON_BOARD = (
    "competition = ? AND competition_version = ? AND data_fingerprint = ? AND status = 'scored'"
)


@dataclass
class Board:
    """A competition's public board, with private scores once revealed.

    Attributes:
        fingerprint: the data the board is ranked on; None before any data or score.
        rows: `db.leaderboard` rows, best first; with `private` (the private score of
            each user's best public submission) and `private_rank` once revealed.
        revealed_at: when the organiser revealed the private scores, else None.
    """

    competition: Competition
    fingerprint: str | None
    rows: list[dict]
    revealed_at: datetime | None

    @property
    def params(self) -> list:
        """The parameters of ON_BOARD for this board."""
        return [self.competition.name, self.competition.spec.version, self.fingerprint]

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


def revealed_at(competition: str, version: int) -> datetime | None:
    """When the organiser revealed this competition version's private scores, if ever."""
    rows = db.read(
        "SELECT revealed_at FROM reveals WHERE competition = ? AND competition_version = ?",
        [competition, version],
        table="reveals",
    )
    return rows[0]["revealed_at"] if rows else None


@dataclass
class OnKaggle:
    """What the group sent to a Kaggle competition and Kaggle's public board, as stored by
    `harness kaggle submit|sync|leaderboard`.

    Attributes:
        sent: `db.kaggle_submissions` rows, newest first.
        teams: the stored read of Kaggle's public board, best first (at most `top`).
        read_teams: how many teams that read holds.
        best: the group's best scored Kaggle submission, or None.
        rank: where `best` ranks on the stored board, or None.
    """

    slug: str
    sent: list[dict]
    teams: list[dict]
    read_teams: int
    best: dict | None
    rank: int | None


def on_kaggle(comp: Competition, top: int = 20) -> OnKaggle | None:
    """The competition's Kaggle side; None for a competition that is not on Kaggle."""
    if not comp.spec.kaggle:
        return None
    metric = comp.metric
    teams = db.kaggle_leaderboard(comp.name)
    best = db.kaggle_best(comp.name, metric)
    rank = db.kaggle_rank(comp.name, best["public_score"], metric) if best and teams else None
    sent = db.kaggle_submissions(comp.name)[::-1]
    return OnKaggle(comp.spec.kaggle, sent, teams[:top], len(teams), best, rank)


def ranking(comp: Competition) -> tuple[str | None, list[dict]]:
    """The fingerprint of the board shown for a competition, and its rows."""
    prepared = data.current(comp)
    fingerprint = (
        prepared.fingerprint if prepared else db.latest_board(comp.name, comp.spec.version)
    )
    if fingerprint is None:
        return None, []
    rows = db.leaderboard(comp.name, comp.spec.version, fingerprint, comp.metric)
    return fingerprint, rows


def read_board(comp: Competition) -> Board:
    """The board `harness leaderboard` shows, plus the private scores once revealed."""
    fingerprint, rows = ranking(comp)
    revealed = revealed_at(comp.name, comp.spec.version)
    out = Board(comp, fingerprint, rows, revealed)
    if revealed and rows:
        private = {
            r["id"]: r["private_score"]
            for r in db.read(
                "SELECT id, private_score FROM submissions WHERE id IN (SELECT unnest(?))",
                [[r["submission_id"] for r in rows]],
            )
        }
        for r in rows:
            r["private"] = private.get(r["submission_id"])
        # Kaggle's private board: each user's chosen (here: best public) submission
        ranked = sorted(
            rows,
            key=lambda r: (r["private"] is None, out.sign * (r["private"] or 0), r["submitted_at"]),
        )
        for i, r in enumerate(ranked, 1):
            r["private_rank"] = i if r["private"] is not None else None
    return out


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
            SELECT id, user_name, created_at,
                   min(? * public_score) OVER (PARTITION BY user_name ORDER BY created_at, id
                                               ROWS UNBOUNDED PRECEDING) AS best
            FROM submissions WHERE {ON_BOARD} AND user_name IN (SELECT unnest(?))
        ), steps AS (
            SELECT *, lag(best) OVER (PARTITION BY user_name ORDER BY created_at, id) AS before
            FROM runs
        )
        SELECT user_name AS user, created_at AS submitted_at, ? * best AS best,
               id AS submission_id
        FROM steps WHERE before IS NULL OR best < before
        ORDER BY user_name, created_at, id
        """,
        [b.sign, *b.params, users, b.sign],
    )


def score_vs_time(b: Board, limit: int = POINTS) -> list[dict]:
    """The board's best scored submissions with their training time.

    Returns:
        Dicts with submission_id, user, filename, arch (CONFIG's "arch" where the member
        named it, else the architecture the worker recorded), parameters, message, score,
        seconds_per_epoch (mean over the epochs table, None without epochs) and
        train_seconds (the worker's training and predicting time), best first.
    """
    return db.read(
        f"""
        WITH picked AS (  -- only the columns shown: logs and code are large
            SELECT id, user_name, filename, config, model, message, public_score, seconds,
                   created_at
            FROM submissions WHERE {ON_BOARD}
            ORDER BY ? * public_score, created_at, id LIMIT ?
        ), per_epoch AS (
            SELECT submission_id, avg(seconds) AS seconds_per_epoch FROM epochs
            WHERE submission_id IN (SELECT id FROM picked) GROUP BY submission_id
        )
        SELECT p.id AS submission_id, p.user_name AS user, p.filename,
               coalesce(p.config ->> '$.arch', p.model ->> '$.architecture') AS arch,
               TRY_CAST(p.model ->> '$.parameters' AS BIGINT) AS parameters,
               p.message, p.public_score AS score,
               e.seconds_per_epoch,
               TRY_CAST(p.seconds ->> '$.train_predict' AS DOUBLE) AS train_seconds
        FROM picked p LEFT JOIN per_epoch e ON e.submission_id = p.id
        ORDER BY ? * p.public_score, p.created_at, p.id
        """,
        [*b.params, b.sign, limit, b.sign],
    )


def latest(competition: str, limit: int = 20) -> list[dict]:
    """The newest submissions of a competition, every status and version."""
    return db.read(
        "SELECT id, user_name AS user, filename, status, public_score AS score, message, "
        "error, created_at FROM submissions WHERE competition = ? ORDER BY id DESC LIMIT ?",
        [competition, limit],
    )


def submission(sub_id: int) -> dict | None:
    """`db.submission`, its private score removed unless its version is revealed."""
    row = db.submission(sub_id)
    if row is not None:
        row["revealed_at"] = revealed_at(row["competition"], row["competition_version"])
        if row["revealed_at"] is None:
            row["private_score"] = None
            for v in (row.get("extra_scores") or {}).values():
                v.pop("private", None)
    return row
