"""The Submit page: the signed-in member's upload, queued as through the API, and its run
followed until it is recorded. It writes the queue, so it runs outside the store's read."""

from __future__ import annotations

import streamlit as st

from harness.errors import HarnessError
from harness.server import intake, status
from harness.store import db, privacy, quotas

RECORDED = ("scored", "failed", "rejected")


def page(comps: dict, viewer: privacy.Viewer) -> None:
    """The signed-in member's upload (competition, one notebook, .py or .csv file, a
    message), queued as through the API, then its run followed until it is recorded.
    Anonymous visitors get no upload box: only a way to sign in."""
    state = st.session_state
    st.header("Submit")
    if viewer.member is None:
        st.info("Sign in with the token the organiser gave you to submit.")
        st.link_button("Sign in", "/login", type="primary")
        return
    names = list(comps)
    with st.form("upload"):
        comp = st.selectbox(
            "Submit to",
            names,
            index=names.index(state.competition) if state.competition in names else 0,
        )
        upload = st.file_uploader(
            "File",
            type=["ipynb", "py", "csv"],
            help="A notebook or a script run as on Kaggle (its data in /kaggle/input, its "
            "answer the CSV it writes), code with fit_predict or train (.py), or predictions "
            "for the test set (.csv)",
        )
        output = st.text_input(
            "Answer CSV (notebooks and scripts)",
            placeholder="submission.csv",
            max_chars=200,
            help="Which CSV the run writes in /kaggle/working is the answer, when it writes "
            "several and none is named submission.csv",
        )
        message = st.text_area("Message", max_chars=intake.MAX_MESSAGE)
        sent = st.form_submit_button("Submit", type="primary")
    if sent:
        send(viewer.member, comp, upload, message, output)
    with db.connect(read_only=True) as con:
        a = quotas.allowance(con, comp, viewer.member)
    who = f"team {a.entrant.name}" if a.entrant.team else viewer.member
    st.text(f"{who} on {comp}: {a.text()}")  # names are the members' own: text
    if state.get("submitted"):
        follow(state.submitted)


def send(
    member: str, competition: str, upload, message: str | None, output: str | None = None
) -> int | None:
    """Queues the signed-in member's upload; the new id (kept in the session), or None
    after saying why not."""
    if upload is None:
        st.error("Choose a notebook, a .py or a .csv file to submit.")
        return None
    try:
        got = intake.accept(
            member,
            competition,
            upload.name,
            upload.getvalue(),
            message or None,
            output=(output or "").strip() or None,
        )
    except HarnessError as e:  # it may quote the member's file name: text, not markdown
        st.error("Not queued:")
        st.code(str(e), language=None, wrap_lines=True)
        return None
    if got["status"] == "rejected":  # over the daily limit: recorded, nothing runs
        st.error(f"#{got['id']} rejected:")
        st.code(got["error"], language=None, wrap_lines=True)
        return None
    st.session_state.submitted = got["id"]
    return got["id"]


def follow(sub_id: int) -> None:
    """Where the session's last submission stands: refreshed every second until recorded."""
    st.subheader(f"Your submission {sub_id}")
    now = status.of(sub_id)
    if now is not None and now["status"] not in RECORDED:
        watch(sub_id)
    else:
        show_status(sub_id, now)


@st.fragment(run_every=1)
def watch(sub_id: int) -> None:
    """The run's status, read again every second (this part of the page alone)."""
    now = status.of(sub_id)
    if now is None or now["status"] in RECORDED:
        st.rerun()  # the whole page: it shows the record, and the refreshing stops
    show_status(sub_id, now)


def show_status(sub_id: int, now: dict | None) -> None:
    if now is None:
        st.warning(f"There is no submission {sub_id}.")
        return
    if now["status"] == "queued":
        place = now.get("place")
        st.info(f"#{sub_id} queued: place {place} in line" if place else f"#{sub_id} queued")
    elif now["status"] == "running":
        epochs, of = now.get("epochs") or 0, now.get("epoch_of")
        st.info(f"#{sub_id} running: {epochs} epochs" + (f" of {of}" if of else ""))
        if now.get("line"):  # the run's own output
            st.code(now["line"], language=None, wrap_lines=True)
    elif now["status"] == "scored":
        st.success(f"#{sub_id} scored: public {now['metric']} {now['public_score']:.5f}")
    else:
        st.error(f"#{sub_id} {now['status']}:")
        st.code(now.get("error") or "", language=None, wrap_lines=True)
    st.text(f"{now['competition']}: {now['filename']} by {now['user']}")  # the member's names
    if now["status"] in RECORDED:
        st.button(f"Open submission {sub_id}", on_click=open_submission, args=(sub_id,))


def open_submission(sub_id: int) -> None:
    st.session_state.submission = sub_id
    st.session_state.view = "Submission"
