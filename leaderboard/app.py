"""The study group's leaderboard: Streamlit over the DuckDB store (`harness serve` runs it).

This script signs the session in and navigates; each view is its own module. The view is
chosen in the sidebar and kept in the URL, so a link shows the same page:

    /                          every competition (overview.py)
    /?competition=titanic      its leaderboard, best scores over time, score against time (board.py)
    /?submission=12            everything recorded for one submission (submission.py)
    /?compare=12&with=15       two submissions side by side (compare.py)
    /?view=submit              a signed-in member's upload, its run followed (submit.py)
    /?view=organiser           members, rules and the reveal, organisers only (organiser.py)

What members wrote (names, messages, docstrings, code, logs) is shown as text only:
st.text, st.code, st.json and st.dataframe, never markdown or HTML. Nothing is cached:
every rerun (the Refresh button, any click) reads the store as it is then, and the
overview and the boards rerun by themselves once the store is written (a new score).

Who is looking comes from the session cookie of the board's login (/login, made by
harness.server.login), read from the request that opened the session and checked on every
rerun; the page never sees a token. Anonymous visitors see the public board; a member sees
their own (and their team's) work, published work and the baselines in full; an organiser
sees everything (harness.store.privacy).
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from harness.competition import registry
from harness.server import login
from harness.store import db, leaderboards, members, privacy

try:
    from leaderboard import board, compare, organiser, overview, submission, submit
except ModuleNotFoundError:  # `streamlit run` puts leaderboard/ on sys.path, not the repo root
    import board
    import compare
    import organiser
    import overview
    import submission
    import submit

VIEWS = ("Overview", "Leaderboard", "Submission", "Compare", "Submit")
SIGNED_IN = "_member"  # the session's member, from its cookie; no widget has this key
LIVE = ("Overview", "Leaderboard")  # the views that follow the store by themselves
READ_AT = "_read_at"  # the store's stamp when the page last read it
LIVE_SECONDS = 2  # how often a live view asks whether the store was written


def main() -> None:
    st.set_page_config(page_title="harness leaderboard", layout="wide")
    try:
        comps = registry.discover()
    except registry.CompetitionError as e:
        st.error("The competitions cannot be loaded:")
        st.code(str(e), language=None)
        st.stop()
    state = st.session_state
    viewer = signed_in()
    if "view" not in state:
        state.update(from_url(st.query_params.to_dict(), latest_first(list(comps))))
    if state.view == "Organiser" and not viewer.organiser:
        state.view = "Overview"
    if notice := state.pop("notice", None):  # it quotes the link: text, not markdown
        st.warning("The link names no such competition.")
        st.text(notice)
    if state.view == "Submit":
        submit.page(comps, viewer)  # not in `reading()`: it writes the queue
    elif state.view == "Organiser":
        organiser.page(comps, viewer)  # it writes the store
    state[READ_AT] = db.stamp()  # before the reads: a write during them is news next time
    with leaderboards.reading():
        if state.view == "Overview":
            overview.page(comps)
        elif state.view == "Leaderboard" and state.competition:
            board.page(comps[state.competition], viewer)
        elif state.view == "Submission":
            submission.page(state.submission, viewer)
        elif state.view == "Compare":
            compare.page(state.submission, state.compare_with, viewer)
    if state.view in LIVE:
        follow_the_store()
    sidebar(comps, viewer)  # last: a page may first point the competition box at what it shows
    st.query_params.from_dict(to_url(state))


@st.fragment(run_every=LIVE_SECONDS)
def follow_the_store() -> None:
    """Reruns the page when the store was written since the page read it (a run scored:
    the demo's baselines land on an open board by themselves). Asking costs a small file
    read and two stats (`db.stamp`); only news reruns the page and reads the store."""
    if db.stamp() != st.session_state.get(READ_AT):
        st.rerun()


# --- the URL and the sidebar ------------------------------------------------------------


def latest_first(names: list[str]) -> list[str]:
    """The competitions, the one submitted to last first (the box's first choice: the
    board a newcomer's demo or a group is busy with), those without entries after."""
    seen = leaderboards.activity()
    busy = sorted(
        (n for n in names if n in seen), key=lambda n: seen[n]["last_submission_at"], reverse=True
    )
    return busy + [n for n in names if n not in seen]


def from_url(params: dict, names: list[str]) -> dict:
    """The first state of a session, from a shared link's query."""
    state = {
        "view": "Overview",
        "competition": names[0] if names else None,
        "submission": _id(params.get("submission") or params.get("compare")),
        "compare_with": _id(params.get("with")),
    }
    if params.get("view") == "submit":
        state["view"] = "Submit"
    elif params.get("view") == "organiser":
        state["view"] = "Organiser"
    elif "compare" in params:
        state["view"] = "Compare"
    elif "submission" in params:
        state["view"] = "Submission"
    elif "competition" in params:
        try:
            state["competition"] = registry.get(params["competition"]).name
            state["view"] = "Leaderboard"
        except registry.CompetitionError as e:  # "Unknown competition 'x'. Did you mean: ...?"
            state["notice"] = str(e)
    return state


def _id(value) -> int | None:
    try:
        return int(value) if int(value) > 0 else None
    except (TypeError, ValueError):
        return None


def to_url(state) -> dict:
    """The query that opens this view again."""
    params = {
        "Overview": {},
        "Leaderboard": {"competition": state.competition},
        "Submission": {"submission": state.submission},
        "Compare": {"compare": state.submission, "with": state.compare_with},
        "Submit": {"view": "submit"},
        "Organiser": {"view": "organiser"},
    }[state.view]
    return {k: str(v) for k, v in params.items() if v is not None}


def signed_in() -> privacy.Viewer:
    """Who is looking: the member the session cookie signs in (checked on every rerun, so
    an expired or replaced one signs out), else nobody."""
    state = st.session_state
    cookie = st.context.cookies.get(login.COOKIE)
    if isinstance(cookie, str | None):  # a browser's (AppTest's context is no browser's):
        # no cookie is nobody, also for a session that was someone's (signed out since)
        state[SIGNED_IN] = login.member_of(cookie)
    if state.get(SIGNED_IN) is None and openid() and st.user.is_logged_in:
        # the provider vouches for the address; a member is who the organiser gave it to
        if st.user.get("email_verified") is not False:
            return privacy.viewer(members.by_email(st.user.get("email")))
    return privacy.viewer(state.get(SIGNED_IN))


def openid() -> bool:
    """Whether the group signs in with an OpenID provider too (an [auth] section in
    .streamlit/secrets.toml: Streamlit's st.login); optional, the token always works."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def sidebar(comps: dict, viewer: privacy.Viewer) -> None:
    with st.sidebar:
        st.title("Leaderboard")
        by_openid = openid() and st.user.is_logged_in
        if viewer.member:
            role = " (organiser)" if viewer.organiser else ""
            st.text(f"Signed in as {viewer.member}{role}")  # a member's name: text
            if by_openid and not st.session_state.get(SIGNED_IN):
                st.button("Sign out", on_click=st.logout, width="stretch")
            else:
                st.link_button("Sign out", "/logout", width="stretch")
        else:
            st.caption("Scores are public; code, logs and diagnostics are their member's.")
            st.link_button("Sign in", "/login", type="primary", width="stretch")
            if by_openid:  # signed in with the provider, as nobody the group knows
                st.caption("Your e-mail address is not a member's: ask the organiser.")
                st.button("Sign out of the provider", on_click=st.logout, width="stretch")
            elif openid():
                st.button("Sign in with your account", on_click=st.login, width="stretch")
        st.radio("View", VIEWS + ("Organiser",) * viewer.organiser, key="view")
        st.selectbox("Competition", list(comps), key="competition")
        st.number_input("Submission", min_value=1, step=1, value=None, key="submission")
        st.number_input("Compare with", min_value=1, step=1, value=None, key="compare_with")
        # a click reruns the script, and every query reads the store again
        st.button("Refresh", icon=":material/refresh:", width="stretch")
        st.caption(f"Read at {datetime.now(UTC):%H:%M:%S} UTC. Times shown are UTC.")


main()
