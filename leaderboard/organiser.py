"""The organiser's page: on the board, what the host's commands do (`harness member`,
`harness rules`, `harness reveal`). Shown to organisers only (`harness member add NAME
--organiser`); every action checks the role again when it runs, not only when the page
was drawn."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pandas as pd
import streamlit as st

from harness.errors import HarnessError
from harness.store import db, members, privacy, rules, teams


def page(comps: dict, viewer: privacy.Viewer) -> None:
    st.header("Organiser")
    if not viewer.organiser:
        st.warning("Organisers only.")
        return
    if made := st.session_state.pop("new_token", None):
        who, token = made
        st.success(f"The token of {who}, shown once: hand it over, it is not kept.")
        st.code(token, language=None)
    group(viewer)
    name = st.session_state.get("competition") or next(iter(comps), None)
    if name is not None:
        competition(comps[name], viewer)


def still_organiser(viewer: privacy.Viewer) -> bool:
    """The role as the store has it now (it may have changed since the page was drawn)."""
    return privacy.viewer(viewer.member).organiser if viewer.member else viewer.organiser


def act(viewer: privacy.Viewer, fn, *args, **kwargs):
    """Runs an organiser's action; a refusal or a bad value is said as text, not raised."""
    if not still_organiser(viewer):
        st.error("Not done: you are no longer an organiser.")
        return None
    try:
        return fn(*args, **kwargs)
    except HarnessError as e:
        st.error("Not done:")
        st.text(str(e))  # it may quote a member's name
        return None


def group(viewer: privacy.Viewer) -> None:
    st.subheader("Members")
    rows = members.listing()
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    else:
        st.caption("No members yet.")
    left, right = st.columns(2)
    with left, st.form("member_add", clear_on_submit=True):
        name = st.text_input("New member", max_chars=members.MAX_NAME_LEN)
        organiser = st.checkbox("Organiser (sees everything, runs the competition)")
        if st.form_submit_button("Add") and name.strip():
            token = act(viewer, members.add, name, organiser=organiser)
            if token:
                st.session_state.new_token = (name.strip(), token)
                st.rerun()
    with right, st.form("member_change"):
        who = st.selectbox("Member", [r["member"] for r in rows], index=None)
        new, gone = st.columns(2)
        if new.form_submit_button("New token") and who:
            token = act(viewer, members.replace_token, who)
            if token:
                st.session_state.new_token = (who, token)
                st.rerun()
        if gone.form_submit_button("Remove") and who:
            if who == viewer.member:
                st.error("Not done: an organiser does not remove themselves here.")
            elif act(viewer, lambda: members.remove(who) or True):
                st.rerun()


def competition(comp, viewer: privacy.Viewer) -> None:
    st.subheader(f"Rules of {comp.name}")
    with db.connect(read_only=True) as con:
        now = rules.current(con, comp.name)
        shown = rules.shown_at(con, comp.name, comp.spec.version) is not None
    st.json(rules.describe(now))
    with st.form("rules"):
        limit = st.number_input(
            "Daily limit (0: none)", min_value=0, max_value=1000, value=now.daily_limit or 0
        )
        final = st.number_input("Final picks", min_value=1, max_value=100, value=now.final)
        team = st.number_input("Team size", min_value=1, max_value=100, value=now.team_size)
        has_deadline = st.checkbox("A deadline", value=now.deadline is not None)
        day = st.date_input("Deadline day (UTC)", value=(now.deadline or db.now()).date())
        at = st.time_input("Deadline time (UTC)", value=(now.deadline or db.now()).time())
        open_code = st.checkbox("All code public after the deadline", value=now.open_code)
        retroactive = st.checkbox(
            "Retroactive: a past deadline makes submissions already made late",
            help="Without it, a deadline before the latest submission is refused.",
        )
        if st.form_submit_button("Save the rules"):
            deadline = (
                datetime.combine(day, at if isinstance(at, time) else time())
                if (has_deadline)
                else None
            )
            if deadline is not None and deadline.tzinfo is not None:
                deadline = deadline.astimezone(UTC).replace(tzinfo=None)
            changes = {
                "daily_limit": int(limit) or None,
                "final": int(final),
                "team_size": int(team),
                "deadline": deadline,
                "open_code": open_code,
            }
            changed = {k: v for k, v in changes.items() if getattr(now, k) != v}
            if changed and act(viewer, rules.change, comp.name, retroactive=retroactive, **changed):
                st.rerun()
    groups(comp, viewer)
    label = "Hide the private scores" if shown else "Reveal the private scores"
    if st.button(label):
        if act(viewer, lambda: rules.set_revealed(comp.name, comp.spec.version, not shown) or True):
            st.rerun()


def groups(comp, viewer: privacy.Viewer) -> None:
    """The competition's teams, as `harness team create|add|remove ... --competition`."""
    st.subheader(f"Teams on {comp.name}")
    rows = teams.listing(comp.name)
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    else:
        st.caption("No teams yet.")
    names = [r["member"] for r in members.listing()]
    with st.form("team"):
        team = st.text_input("Team", max_chars=members.MAX_NAME_LEN)
        who = st.multiselect("Members", names)
        left, middle, right = st.columns(3)
        create = left.form_submit_button("Create")
        add = middle.form_submit_button("Add")
        remove = right.form_submit_button("Remove")
        team, done = team.strip(), None
        # Kaggle's merge rule and the team size are checked as on the command line
        if create and team and who:
            done = act(viewer, teams.create, [comp.name], team, who)
        elif (add or remove) and team and len(who) == 1:
            done = act(viewer, teams.add if add else teams.remove, [comp.name], team, who[0])
        elif create or add or remove:
            st.error("Name the team, and its members (one member to add or remove).")
        if done:
            st.rerun()
