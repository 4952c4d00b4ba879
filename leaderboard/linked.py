"""What the views share: tables whose rows open another view, and the time column."""

from __future__ import annotations

import functools

import pandas as pd
import streamlit as st

WHEN = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")


def go(view: str, field: str, table: str, values: list) -> None:
    """A table row was picked: open its competition or submission."""
    rows = st.session_state[table].selection.rows
    if rows:
        st.session_state[field] = values[rows[0]]
        st.session_state.view = view


def table(df: pd.DataFrame, key: str, view: str, field: str, values: list, **kwargs) -> None:
    """A dataframe whose rows open `view` with `field` set to the picked row's value."""
    st.dataframe(
        df,
        hide_index=True,
        key=key,
        on_select=functools.partial(go, view, field, key, values),
        selection_mode="single-row",
        **kwargs,
    )
