"""The board's Kaggle section, for a competition with a Kaggle slug: what the group sent,
Kaggle's score beside the local one, and Kaggle's public board."""

from __future__ import annotations

import functools

import pandas as pd
import streamlit as st

from harness.store import kaggle

try:
    from leaderboard.linked import WHEN
except ModuleNotFoundError:  # `streamlit run` puts leaderboard/ on sys.path, not the repo root
    from linked import WHEN


def section(comp) -> None:
    """The group's Kaggle submissions with Kaggle's score beside the local one, and
    Kaggle's public board with where the group's best would rank."""
    k = kaggle.on_kaggle(comp)
    if k is None:
        return
    st.subheader(f"On Kaggle ({k.slug})")
    if not k.sent and not k.teams:
        st.caption(
            f"Nothing sent to Kaggle yet. harness kaggle submit ID sends a submission; "
            f"harness kaggle sync {comp.name} and harness kaggle leaderboard {comp.name} "
            "bring Kaggle's scores and board here."
        )
        return
    metric = comp.spec.metric
    if k.best is not None:
        who = k.best["user_name"] or "a CSV"
        place = f", rank {k.rank} of the {k.read_teams} teams read" if k.rank else ""
        st.text(
            f"The group's best Kaggle public {metric}: {k.best['public_score']:.5f} "
            f"({who}, Kaggle ref {k.best['kaggle_ref']}){place}"
        )
    left, right = st.columns(2)
    number = functools.partial(st.column_config.NumberColumn, format="%.5f")
    with left:
        st.caption("Sent to Kaggle, newest first")
        cols = [
            "kaggle_ref",
            "submission_id",
            "user_name",
            "filename",
            "status",
            "public_score",
            "local_public_score",
            "submitted_at",
            "error",
        ]
        sent = pd.DataFrame(k.sent, columns=cols).rename(
            columns={
                "submission_id": "local id",
                "user_name": "user",
                "public_score": "Kaggle",
                "local_public_score": "local",
                "submitted_at": "sent",
            }
        )
        config = {
            "local id": st.column_config.NumberColumn(format="#%d"),
            "kaggle_ref": st.column_config.NumberColumn("ref", format="%d"),
            "Kaggle": number(f"Kaggle public {metric}"),
            "local": number(f"local public {metric}"),
            "sent": WHEN,
        }
        st.dataframe(sent, hide_index=True, column_config=config)
    with right:
        if k.teams:
            st.caption(f"Kaggle's public board: the best {len(k.teams)} of {k.read_teams} read")
            teams = pd.DataFrame(k.teams, columns=["rank", "team_name", "score", "submitted_at"])
            config = {"score": number(metric), "submitted_at": WHEN}
            st.dataframe(teams, hide_index=True, column_config=config)
        else:
            st.caption(f"Kaggle's board not read yet: harness kaggle leaderboard {comp.name}")
