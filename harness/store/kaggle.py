"""What the group sent to Kaggle, Kaggle's verdict on each, and the last read of Kaggle's
public board, as `harness kaggle submit|sync|leaderboard` store them (`harness.kaggle`
talks to Kaggle; this module only keeps what it heard).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.competition.registry import Competition
from harness.metrics import Metric
from harness.store import db

KAGGLE_UPDATABLE = ("status", "error", "public_score", "private_score", "kaggle_date", "synced_at")


def insert_kaggle_submission(row: dict) -> int:
    """Records a file Kaggle accepted (status pending until Kaggle has scored it)."""
    with db.connect() as con:
        return db.insert(con, "kaggle_submissions", row)


def update_kaggle_submissions(verdicts: list[dict]) -> None:
    """Kaggle's status and scores, by (kaggle_competition, kaggle_ref), in one transaction."""
    if not verdicts:
        return
    sets = ", ".join(f"{c} = ?" for c in KAGGLE_UPDATABLE)
    with db.connect() as con:
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
    return db.read(sql, [competition], table="kaggle_submissions")


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
    with db.connect() as con:
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
    return db.read(sql, [competition], table="kaggle_leaderboard")


def kaggle_rank(competition: str, score: float, metric: Metric) -> int:
    """Where `score` ranks on the stored Kaggle board: 1 + the teams that score better."""
    rows = db.read(
        "SELECT count(*) AS n FROM kaggle_leaderboard WHERE competition = ? AND ? * score < ?",
        [competition, metric.sign, metric.sign * score],
        table="kaggle_leaderboard",
    )
    return (rows[0]["n"] if rows else 0) + 1


@dataclass
class OnKaggle:
    """What the group sent to a Kaggle competition and Kaggle's public board, as stored by
    `harness kaggle submit|sync|leaderboard`.

    Attributes:
        sent: `kaggle_submissions` rows, newest first.
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
    teams = kaggle_leaderboard(comp.name)
    best = kaggle_best(comp.name, metric)
    rank = kaggle_rank(comp.name, best["public_score"], metric) if best and teams else None
    sent = kaggle_submissions(comp.name)[::-1]
    return OnKaggle(comp.spec.kaggle, sent, teams[:top], len(teams), best, rank)
