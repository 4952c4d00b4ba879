"""The study group's leaderboard: Streamlit over the DuckDB store (`harness serve` runs it).

The view is chosen in the sidebar and kept in the URL, so a link shows the same page:

    /                          every competition
    /?competition=titanic      its leaderboard, best scores over time, score against time
    /?submission=12            everything recorded for one submission
    /?compare=12&with=15       two submissions side by side

What members wrote (names, messages, docstrings, code, logs) is shown as text only:
st.text, st.code, st.json and st.dataframe, never markdown or HTML. Nothing is cached:
every rerun (the Refresh button, any click) reads the store as it is then.
"""

from __future__ import annotations

import difflib
import functools
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from harness import board, registry

try:
    from leaderboard import charts
except ModuleNotFoundError:  # `streamlit run` puts this folder on sys.path, not the repo root
    import charts

VIEWS = ("Overview", "Leaderboard", "Submission", "Compare")
CHART_USERS = 15  # the best-over-time chart follows the board's top users
LOG_LINES = 40
CODE_LINES = 400  # a CSV submission's content can be long: its head is enough
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
    if "view" not in state:
        state.update(from_url(st.query_params.to_dict(), list(comps)))
    if notice := state.pop("notice", None):  # it quotes the link: text, not markdown
        st.warning("The link names no such competition.")
        st.text(notice)
    with board.reading():
        if state.view == "Overview":
            overview(comps)
        elif state.view == "Leaderboard" and state.competition:
            leaderboard(comps[state.competition])
        elif state.view == "Submission":
            submission(state.submission)
        elif state.view == "Compare":
            compare(state.submission, state.compare_with)
    sidebar(comps)  # last: a page may first point the competition box at what it shows
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
    if "compare" in params:
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
    }[state.view]
    return {k: str(v) for k, v in params.items() if v is not None}


def sidebar(comps: dict) -> None:
    with st.sidebar:
        st.title("Leaderboard")
        st.radio("View", VIEWS, key="view")
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
    activity = board.activity()
    rows = []
    for name, comp in comps.items():
        leader = (board.board(comp).rows or [{}])[0]
        seen = activity.get(name, {})
        rows.append(
            {
                "competition": name,
                "title": comp.title,
                "metric": comp.spec.metric,
                "better": "higher" if comp.metric.higher_is_better else "lower",
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


def leaderboard(comp) -> None:
    b = board.board(comp)
    metric, better = comp.spec.metric, "higher" if comp.metric.higher_is_better else "lower"
    st.header(comp.name)
    st.caption(comp.title)
    facts = [f"public {metric}, {better} is better", f"version {comp.spec.version}"]
    if b.fingerprint:
        facts.append(f"data {b.fingerprint[:12]}")
    if b.revealed_at:
        facts.append(f"private scores revealed {b.revealed_at:%Y-%m-%d %H:%M}")
    else:
        facts.append("private scores hidden until the organiser reveals them")
    st.caption(" · ".join(facts))
    if b.rows:
        board_table(b)
        st.caption("Ties go to the earlier submission. Pick a row to open the user's best.")
        left, right = st.columns(2)
        with left:
            users = [r["user"] for r in b.rows[:CHART_USERS]]
            steps = pd.DataFrame(board.best_over_time(b, users))
            st.altair_chart(charts.best_over_time(steps, metric), width="stretch")
            if len(b.rows) > CHART_USERS:
                st.caption(f"The board's top {CHART_USERS} of {len(b.rows)} users.")
        with right:
            points = pd.DataFrame(board.score_vs_time(b))
            st.altair_chart(charts.score_vs_time(points, metric), width="stretch")
            st.caption(
                "Seconds per epoch where the run logged epochs, else the whole training "
                f"run; the {board.POINTS} best submissions at most. Hover for the model."
            )
    else:
        st.info(f"No scored submissions yet: harness submit {comp.name} FILE --user NAME")
    latest(comp.name)


def board_table(b: board.Board) -> None:
    metric, also = b.competition.spec.metric, list(b.competition.spec.also)
    cols = ["rank", "user", "score", *also, "entries", "last submission", "best", "baseline"]
    if b.revealed_at:
        cols[3:3] = ["private", "private rank"]
    df = pd.DataFrame(
        [
            {
                **r,
                **r["also"],
                "last submission": r["last_submission_at"],
                "best": r["submission_id"],
                "baseline": r["is_baseline"],
                "private rank": r.get("private_rank"),
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


def latest(name: str) -> None:
    st.subheader("Latest submissions")
    rows = board.latest(name)
    if not rows:
        st.caption("None yet.")
        return
    for r in rows:
        r["error"] = next(iter((r["error"] or "").strip().splitlines()), None)  # its first line
    df = pd.DataFrame(rows).rename(columns={"created_at": "submitted"})
    config = {
        "id": st.column_config.NumberColumn(format="#%d"),
        "score": st.column_config.NumberColumn("public score", format="%.5f"),
        "submitted": WHEN,
    }
    table(df, "latest", "Submission", "submission", [r["id"] for r in rows], column_config=config)


def submission(sub_id: int | None) -> None:
    if sub_id is None:
        st.info("Type a submission id in the sidebar, or pick a row of a leaderboard.")
        return
    row = board.submission(sub_id)
    if row is None:
        st.warning(f"There is no submission {sub_id}.")
        return
    st.header(f"Submission {sub_id}")
    follow(row)
    if row["status"] == "scored":
        st.success(f"Scored: public {row['metric']} {row['public_score']:.5f}")
    else:
        st.error(f"{row['status'].capitalize()}:")
        st.code(row["error"] or "", language=None, wrap_lines=True)
    facts_df = pd.DataFrame(facts(row), columns=["field", "value"])
    st.dataframe(facts_df, hide_index=True, height="content")
    if row["docstring"]:
        st.subheader("Docstring")
        st.text(row["docstring"])
    st.subheader("Code" if row["kind"] == "code" else "File")
    content = "\n".join((row["content"] or "").splitlines()[:CODE_LINES])
    st.code(content, language="python" if row["kind"] == "code" else None, line_numbers=True)
    if row["config"] is not None:
        st.subheader("CONFIG")
        st.json(row["config"])
    if row["epochs"]:
        training(row)
    if row["artifacts"]:
        st.subheader("Diagnostics")
        for a in row["artifacts"]:
            artifact(a)
    if row["reproductions"]:
        st.subheader("Reproductions")
        st.dataframe(pd.DataFrame(row["reproductions"]), hide_index=True)
    if row["versions"]:
        with st.expander("Versions"):
            st.json(row["versions"])
    if row["log"]:
        lines = row["log"].rstrip().splitlines()
        st.subheader("Log")
        st.caption(f"The last {min(LOG_LINES, len(lines))} of {len(lines)} lines.")
        st.code("\n".join(lines[-LOG_LINES:]), language=None)


def follow(row: dict) -> None:
    """Points the sidebar's competition box at the submission's competition."""
    if row["competition"] in registry.discover():
        st.session_state.competition = row["competition"]


def facts(row: dict) -> list[tuple[str, str]]:
    """A submission's recorded facts as text pairs."""
    seconds = row["seconds"] or {}
    out = [
        ("user", row["user_name"]),
        ("message", row["message"]),
        ("course baseline", "yes" if row["is_baseline"] else None),
        ("competition", f"{row['competition']} (version {row['competition_version']})"),
        ("file", f"{row['filename']} ({row['kind']}, {row['entry'] or 'predictions'})"),
        ("status", row["status"]),
        (f"public {row['metric']}", row["public_score"]),
        (f"private {row['metric']}", row["private_score"]),
        *((f"public {k}", v.get("public")) for k, v in (row["extra_scores"] or {}).items()),
        *((f"private {k}", v.get("private")) for k, v in (row["extra_scores"] or {}).items()),
        ("seed", row["seed"]),
        ("device", row["device"]),
        ("wall seconds", row["wall_seconds"]),
        *((f"{k} seconds", v) for k, v in seconds.items()),
        ("peak memory MiB", row["peak_memory_mb"]),
        ("submitted (UTC)", row["created_at"]),
        ("file sha256", row["file_sha256"]),
        ("data", f"{row['data_source']}, fingerprint {row['data_fingerprint']}"),
        ("predictions sha256", row["predictions_sha256"]),
        ("harness git", row["harness_git"]),
    ]
    return [(k, _text(v)) for k, v in out if v is not None]


def _text(v) -> str:
    if isinstance(v, float):
        return f"{v:.5f}" if abs(v) < 1000 else f"{v:.1f}"
    if isinstance(v, datetime):
        return f"{v:%Y-%m-%d %H:%M:%S}"
    return str(v)


def training(row: dict) -> None:
    st.subheader("Training")
    curves = charts.epochs_frame(row["epochs"])
    left, right = st.columns(2)
    with left:
        st.altair_chart(charts.losses(curves), width="stretch")
    with right:
        if (curves["kind"] == "metric").any():
            st.altair_chart(charts.metrics(curves), width="stretch")
    wide = pd.DataFrame(
        [
            {k: v for k, v in e.items() if k != "metrics"} | (e["metrics"] or {})
            for e in row["epochs"]
        ]
    )
    st.dataframe(wide, hide_index=True)


def artifact(a: dict) -> None:
    """A diagnostic file: PNG as an image, CSV as a table, JSON as data."""
    path = Path(a["path"])
    title = a["title"] or a["name"]
    if not path.exists():
        st.warning(f"{title}: the file {path} is gone.")
        return
    if a["kind"] == "png":
        st.image(str(path), caption=title)
        return
    st.markdown(f"**{title}**")  # titles come from the competition's code, not from members
    if a["kind"] == "csv":
        st.dataframe(pd.read_csv(path), hide_index=True)
    else:
        st.json(json.loads(path.read_text()))


def compare(a_id: int | None, b_id: int | None) -> None:
    st.header("Compare")
    if a_id is None or b_id is None:
        st.info("Type two ids in the sidebar: Submission and Compare with.")
        return
    rows = [board.submission(i) for i in (a_id, b_id)]
    if missing := [i for i, r in zip((a_id, b_id), rows, strict=True) if r is None]:
        st.warning(f"There is no submission {missing[0]}.")
        return
    a, b = rows
    names = [f"#{a_id}", f"#{b_id}"]
    follow(a)
    st.subheader("Scores")
    fa, fb = dict(facts(a)), dict(facts(b))
    keys = list(dict.fromkeys([*fa, *fb]))
    side = [(k, fa.get(k), fb.get(k), fa.get(k) == fb.get(k)) for k in keys]
    df = pd.DataFrame(side, columns=["field", *names, "same"])
    st.dataframe(df, hide_index=True, height="content")
    st.subheader("CONFIG")
    diff = config_diff(a["config"] or {}, b["config"] or {})
    if diff:
        df = pd.DataFrame(diff, columns=["key", *names, "same"])
        st.dataframe(df, hide_index=True, height="content")
    else:
        st.caption("Neither has a CONFIG.")
    st.subheader("Code")
    code = "".join(
        difflib.unified_diff(
            (a["content"] or "").splitlines(keepends=True),
            (b["content"] or "").splitlines(keepends=True),
            fromfile=f"{names[0]} {a['filename']}",
            tofile=f"{names[1]} {b['filename']}",
        )
    )
    st.code(code or "The files are identical.", language="diff")
    st.subheader("Training")
    curves = pd.concat(
        [
            charts.epochs_frame(r["epochs"]).assign(submission=n)
            for r, n in zip(rows, names, strict=True)
        ]
    )
    if not curves.empty:
        st.altair_chart(charts.losses(curves, by="submission"), width="stretch")
    if silent := [n for r, n in zip(rows, names, strict=True) if not r["epochs"]]:
        st.caption(f"{' and '.join(silent)}: no epochs logged (not a fastai train(dls) run).")


def config_diff(a: dict, b: dict) -> list[tuple[str, str, str, bool]]:
    """Every CONFIG key of either, with both values as JSON text and whether they match."""
    out = []
    for k in dict.fromkeys([*a, *b]):
        va, vb = (json.dumps(c[k]) if k in c else "(absent)" for c in (a, b))
        out.append((k, va, vb, va == vb))
    return out


main()
