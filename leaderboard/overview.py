"""The first page: every competition, its leader and how busy it is."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from harness.store import leaderboards

try:
    from leaderboard.linked import WHEN, table
except ModuleNotFoundError:  # `streamlit run` puts leaderboard/ on sys.path, not the repo root
    from linked import WHEN, table


def page(comps: dict) -> None:
    """Every competition: its metric, entries, participants and leader; a row opens its board."""
    st.header("Competitions")
    activity = leaderboards.activity()
    rows = []
    for name, comp in comps.items():
        leader = (leaderboards.read_board(comp).rows or [{}])[0]
        seen = activity.get(name, {})
        rows.append(
            {
                "competition": name,
                "title": comp.title,
                "metric": comp.spec.metric,
                "better": comp.metric.better,
                "entries": seen.get("entries", 0),
                "participants": seen.get("participants", 0),
                "leader": leader.get("user", "no entries yet"),
                "score": leader.get("score"),
                "last submission": seen.get("last_submission_at"),
            }
        )
    df = pd.DataFrame(rows, columns=list(rows[0]) if rows else None)
    config = {
        "title": st.column_config.TextColumn(width="medium"),
        "score": st.column_config.NumberColumn(format="%.5f"),
        "last submission": WHEN,
    }
    table(df, "overview", "Leaderboard", "competition", list(comps), column_config=config)
    st.caption(
        "Entries count every submission, failed and rejected ones too. "
        "Pick a row to open its leaderboard."
    )
