"""The board's Kaggle section (leaderboard/on_kaggle.py) with Streamlit's AppTest."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from harness.store import db, kaggle
from tests.leaderboard.conftest import APP, HOSTILE, texts


def test_a_kaggle_competition_shows_what_was_sent_and_kaggles_board(home, monkeypatch):
    """Rows as `harness kaggle submit|sync|leaderboard` store them (tests/kaggle/test_remote.py
    drives those against a fake Kaggle)."""
    t = db.now()
    common = dict(
        competition="titanic",
        kaggle_competition="titanic",
        file_sha256="0" * 64,
        submitted_at=t,
        rows=418,
    )
    kaggle.insert_kaggle_submission(
        {
            **common,
            "kaggle_ref": 501,
            "filename": "preds.csv",
            "status": "complete",
            "public_score": 0.77511,
            "message": HOSTILE,
        }
    )
    kaggle.insert_kaggle_submission(
        {
            **common,
            "kaggle_ref": 502,
            "filename": HOSTILE,
            "status": "error",
            "error": "bad header",
        }
    )
    teams = [
        {"rank": i + 1, "team_id": i, "team_name": name, "score": score, "submitted_at": t}
        for i, (name, score) in enumerate([("top", 0.9), (HOSTILE, 0.8), ("third", 0.7)])
    ]
    kaggle.replace_kaggle_leaderboard("titanic", "titanic", t, teams)
    monkeypatch.setenv("HARNESS_HOME", str(home))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update(competition="titanic")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "On Kaggle (titanic)" in [h.value for h in at.subheader]
    line = [t.value for t in at.text if "best Kaggle" in t.value]
    assert line == [
        "The group's best Kaggle public accuracy: 0.77511 (a CSV, Kaggle ref 501), "
        "rank 3 of the 3 teams read"
    ]
    sent, board = (df.value for df in at.dataframe[-2:])
    assert list(sent["kaggle_ref"]) == [502, 501]  # newest first
    assert list(sent["status"]) == ["error", "complete"] and sent["filename"][0] == HOSTILE
    assert list(board["team_name"]) == ["top", HOSTILE, "third"]
    assert not any(HOSTILE in t for t in texts(at))  # as data, never as markup


def test_a_competition_not_on_kaggle_has_no_kaggle_section(home, monkeypatch):
    monkeypatch.setenv("HARNESS_HOME", str(home))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params.update(competition="movielens")
    at.run()
    assert not at.exception
    assert not [h.value for h in at.subheader if "Kaggle" in h.value]
