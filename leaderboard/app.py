"""The study group's leaderboard: Streamlit over the DuckDB store (`harness serve` runs it).

The view is chosen in the sidebar and kept in the URL, so a link shows the same page:

    /                          every competition
    /?competition=titanic      its leaderboard, best scores over time, score against time
    /?submission=12            everything recorded for one submission
    /?compare=12&with=15       two submissions side by side
    /?view=submit              upload a submission as the signed-in member, follow its run
    /?view=organiser           members, rules and the reveal (organisers only)

What members wrote (names, messages, docstrings, code, logs) is shown as text only:
st.text, st.code, st.json and st.dataframe, never markdown or HTML. Nothing is cached:
every rerun (the Refresh button, any click) reads the store as it is then.

Who is looking comes from the session cookie of the board's login (/login, made by
harness.server.login), read from the request that opened the session and checked on every
rerun; the page never sees a token. Anonymous visitors see the public board; a member sees
their own (and their team's) work, published work and the baselines in full; an organiser
sees everything (harness.store.privacy).
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from harness.competition import registry
from harness.errors import HarnessError
from harness.server import intake, login, status
from harness.store import leaderboards, members, privacy, rules

try:
    from leaderboard import charts, organiser
    from leaderboard.runs import compare, submission
except ModuleNotFoundError:  # `streamlit run` puts this folder on sys.path, not the repo root
    import charts
    import organiser
    from runs import compare, submission

VIEWS = ("Overview", "Leaderboard", "Submission", "Compare", "Submit")
SIGNED_IN = "_member"  # the session's member, from its cookie; no widget has this key
CHART_USERS = 15  # the best-over-time chart follows the board's top users
WHEN = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")


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
        state.update(from_url(st.query_params.to_dict(), list(comps)))
    if state.view == "Organiser" and not viewer.organiser:
        state.view = "Overview"
    if notice := state.pop("notice", None):  # it quotes the link: text, not markdown
        st.warning("The link names no such competition.")
        st.text(notice)
    if state.view == "Submit":
        submit_page(comps, viewer)  # not in `reading()`: it writes the queue
    elif state.view == "Organiser":
        organiser.page(comps, viewer)  # it writes the store
    with leaderboards.reading():
        if state.view == "Overview":
            overview(comps)
        elif state.view == "Leaderboard" and state.competition:
            leaderboard(comps[state.competition], viewer)
        elif state.view == "Submission":
            submission(state.submission, viewer)
        elif state.view == "Compare":
            compare(state.submission, state.compare_with, viewer)
    sidebar(comps, viewer)  # last: a page may first point the competition box at what it shows
    st.query_params.from_dict(to_url(state))


# --- the URL and the sidebar ------------------------------------------------------------


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


# --- the views ----------------------------------------------------------------------------


def overview(comps: dict) -> None:
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
                "leader": leader.get("user"),
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


def leaderboard(comp, viewer: privacy.Viewer) -> None:
    b = leaderboards.read_board(comp)
    sight = privacy.lens(viewer, comp.name)
    metric, better = comp.spec.metric, comp.metric.better
    st.header(comp.name)
    st.caption(comp.title)
    facts = [f"public {metric}, {better} is better", f"version {comp.spec.version}"]
    if b.fingerprint:
        facts.append(f"data {b.fingerprint[:12]}")
    facts += rule_facts(b)
    st.caption(" · ".join(facts))
    if b.rows:
        board_table(b)
        st.caption("Ties go to the earlier submission. Pick a row to open the user's best.")
        if flagged := implausible(b):
            st.text(review_note(b, flagged))  # text: user names are the members' own
        left, right = st.columns(2)
        with left:
            users = [r["user"] for r in b.rows[:CHART_USERS]]
            steps = pd.DataFrame(leaderboards.best_over_time(b, users))
            st.altair_chart(charts.best_over_time(steps, metric), width="stretch")
            if len(b.rows) > CHART_USERS:
                st.caption(f"The board's top {CHART_USERS} of {len(b.rows)} users.")
        with right:
            points = pd.DataFrame(
                [  # someone else's private model and file stay theirs: a point, "(private)"
                    r | {"arch": "(private)"} if r.get("private") else r
                    for r in sight.rows(leaderboards.score_vs_time(b))
                ]
            )
            st.altair_chart(charts.score_vs_time(points, metric), width="stretch")
            st.caption(
                "Seconds per epoch where the run logged epochs, else the whole training "
                f"run; the {leaderboards.POINTS} best submissions at most. Hover for the model."
            )
    else:
        st.info(f"No scored submissions yet: harness submit {comp.name} FILE --user NAME")
    left_today(b)
    if b.private:
        private_board(b)
    on_kaggle(comp)
    latest(comp.name, sight)


def rule_facts(b: leaderboards.Board) -> list[str]:
    """The rules in a few words: the daily limit, final picks, deadline, private scores."""
    r = b.rules
    out = [
        f"{r.daily_limit} submissions a day per member or team"
        if r.daily_limit
        else "no daily limit",
        f"{r.final} final pick{'s' if r.final != 1 else ''}",
    ]
    if r.deadline:
        out.append(f"{'closed' if r.closed() else 'deadline'} {r.deadline:%Y-%m-%d %H:%M} UTC")
    if b.revealed_at:
        out.append(f"private scores shown since {b.revealed_at:%Y-%m-%d %H:%M}")
    elif r.deadline:
        out.append("private scores hidden until the deadline")
    else:
        out.append("private scores hidden until the organiser reveals them")
    return out


def left_today(b: leaderboards.Board) -> None:
    """Each member's (or team's) submissions left today, under a daily limit."""
    if b.rules.daily_limit is None:
        return
    rows = leaderboards.allowances(b.competition)
    if not rows:
        return
    st.subheader("Submissions left today")
    df = pd.DataFrame(rows, columns=["user", "members", "used today", "left today"])
    config = {
        "left today": st.column_config.ProgressColumn(
            f"left today (of {b.rules.daily_limit})",
            min_value=0,
            max_value=b.rules.daily_limit,
            format="%d",
        )
    }
    st.dataframe(df, hide_index=True, column_config=config)
    st.caption(
        "Per UTC day; scored, queued and running submissions count, failed and rejected "
        "ones do not."
    )


def private_board(b: leaderboards.Board) -> None:
    """The private board and the shake-up: public rank to private rank, and each one's
    valid, public and private score (who fitted the public board)."""
    rows = b.private
    metric = b.competition.spec.metric
    st.subheader("Private leaderboard")
    df = pd.DataFrame(
        [
            {
                **r,
                "move": leaderboards.arrow(r["moved"]),
                "picks": ", ".join(f"#{i}" for i in r["picks"])
                + ("" if r["picked"] else " (auto)"),
            }
            for r in rows
        ],
        columns=["rank", "user", "score", "public_rank", "move", "picks", "valid_score"],
    )
    number = functools.partial(st.column_config.NumberColumn, format="%.5f")
    config = {
        "score": number(f"private {metric}"),
        "public_rank": st.column_config.NumberColumn("public rank"),
        "valid_score": number(f"valid {metric}"),
    }
    st.dataframe(df, hide_index=True, column_config=config)
    st.caption(
        "The best private score among each one's final picks; (auto): none picked, so the "
        "best public ones count, as on Kaggle."
    )
    left, right = st.columns(2)
    with left:
        st.altair_chart(charts.shake_up(pd.DataFrame(rows)), width="stretch")
    with right:
        st.altair_chart(charts.overfit(pd.DataFrame(rows), metric), width="stretch")
        st.caption(
            "The submission that counted: its valid, public and private scores. A line "
            "that rises to public and falls to private fitted the public board."
        )


def on_kaggle(comp) -> None:
    """The group's Kaggle submissions with Kaggle's score beside the local one, and
    Kaggle's public board with where the group's best would rank."""
    k = leaderboards.on_kaggle(comp)
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


def implausible(b: leaderboards.Board) -> list[dict]:
    """The board's rows whose public score is beyond the competition's plausible best."""
    spec, metric = b.competition.spec, b.competition.metric
    return [r for r in b.rows if spec.implausible(metric, r["score"])]


def review_note(b: leaderboards.Board, flagged: list[dict]) -> str:
    """One line for the organiser: which submissions to review, and why."""
    spec, metric = b.competition.spec, b.competition.metric
    which = ", ".join(f"#{r['submission_id']} ({r['user']}, {r['score']:.5f})" for r in flagged)
    return (
        f"⚠ For the organiser to review: {which}: beyond the plausible best public "
        f"{spec.metric} of {spec.plausible_best:g} ({metric.better} is better), which no "
        "honest model is known to reach; were the labels looked up elsewhere?"
    )


def board_table(b: leaderboards.Board) -> None:
    metric, also = b.competition.spec.metric, list(b.competition.spec.also)
    cols = ["rank", "user", "score", *also, "entries", "last submission", "best", "baseline"]
    if b.revealed_at:
        cols[3:3] = ["private", "private rank"]
    flagged = {r["submission_id"] for r in implausible(b)}
    if flagged:  # a column only when there is something to review
        cols.append("review")
    df = pd.DataFrame(
        [
            {
                **r,
                **r["also"],
                "last submission": r["last_submission_at"],
                "best": r["submission_id"],
                "baseline": r["is_baseline"],
                "private rank": r.get("private_rank"),
                "review": "⚠ beyond plausible best" if r["submission_id"] in flagged else "",
            }
            for r in b.rows
        ],
        columns=cols,
    )
    number = functools.partial(st.column_config.NumberColumn, format="%.5f")
    config = {
        "score": number(f"public {metric}"),
        "private": number(f"private {metric}"),
        **{a: number(f"public {a}") for a in also},
        "last submission": WHEN,
        "best": st.column_config.NumberColumn("best submission", format="#%d"),
        "baseline": st.column_config.CheckboxColumn("course baseline"),
    }
    ids = [r["submission_id"] for r in b.rows]
    height = "content" if len(df) <= 40 else 720  # a study group fits; a crowd scrolls
    table(df, "board", "Submission", "submission", ids, column_config=config, height=height)


def latest(name: str, sight: privacy.Lens) -> None:
    st.subheader("Latest submissions")
    rows = leaderboards.latest(name)
    if not rows:
        st.caption("None yet.")
        return
    shown = []
    for r in sight.rows(rows):  # someone else's file name, message and error are theirs
        r["error"] = next(iter((r["error"] or "").strip().splitlines()), None)  # its first line
        shown.append(
            {k: v for k, v in r.items() if k not in ("private", "published_at", "is_baseline")}
        )
    df = pd.DataFrame(shown).rename(columns={"created_at": "submitted"})
    config = {
        "id": st.column_config.NumberColumn(format="#%d"),
        "score": st.column_config.NumberColumn("public score", format="%.5f"),
        "submitted": WHEN,
    }
    table(df, "latest", "Submission", "submission", [r["id"] for r in rows], column_config=config)


# --- submitting -----------------------------------------------------------------------------

RECORDED = ("scored", "failed", "rejected")


def submit_page(comps: dict, viewer: privacy.Viewer) -> None:
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
    a = rules.allowance(comp, viewer.member)
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


main()
