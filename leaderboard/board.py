"""One competition's leaderboard: ranks, best scores over time, score against training time,
what each member has left today, the private board once shown, Kaggle, the latest runs."""

from __future__ import annotations

import functools

import pandas as pd
import streamlit as st

from harness.store import leaderboards, privacy

try:
    from leaderboard import charts, on_kaggle
    from leaderboard.linked import WHEN, table
except ModuleNotFoundError:  # `streamlit run` puts leaderboard/ on sys.path, not the repo root
    import charts
    import on_kaggle
    from linked import WHEN, table

CHART_USERS = 15  # the best-over-time chart follows the board's top users


def page(comp, viewer: privacy.Viewer) -> None:
    """A competition's board: its rules, ranks, charts, allowances, the private board once
    shown, the group on Kaggle and the latest submissions, as far as `viewer` may see them."""
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
        if len(b.machines) > 1:
            st.caption(machines_note(b.machines))
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
    on_kaggle.section(comp)
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


def machines_note(machines: dict[str, int]) -> str:
    """Says that the board's scores were computed on different kinds of machine, and what
    it means for comparing them."""
    kinds = "; ".join(f"{k} ({n} row{'s' * (n != 1)})" for k, n in machines.items())
    return (
        f"These scores were computed on {len(machines)} kinds of machine: {kinds}. The same "
        "code and seed can differ in the last digits from one to another: portable numerics "
        "(the group's server's default) make CPUs agree; on Ray a competition's GPU runs go "
        "to the GPU model most of them took."
    )


def board_table(b: leaderboards.Board) -> None:
    metric, also = b.competition.spec.metric, list(b.competition.spec.also)
    cols = ["rank", "user", "score", *also, "entries", "last submission", "best", "baseline"]
    if b.revealed_at:
        cols[3:3] = ["private", "private rank"]
    flagged = {r["submission_id"] for r in implausible(b)}
    if flagged:  # a column only when there is something to review
        cols.append("review")
    if len(b.machines) > 1:  # only when the rows were computed on more than one kind
        cols.append("computed on")
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
                "computed on": r.get("computed_on"),
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
