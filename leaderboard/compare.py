"""Two submissions side by side (`/?compare=A&with=B`): their facts, what B changed in the
predictions on the public rows (`harness diff A B`), CONFIG, code and training curves."""

from __future__ import annotations

import difflib
import json

import pandas as pd
import streamlit as st

from harness.errors import HarnessError
from harness.run.compare import prediction_diff
from harness.store import leaderboards, privacy

try:
    from leaderboard import charts
    from leaderboard.submission import facts, follow
except ModuleNotFoundError:  # `streamlit run` puts leaderboard/ on sys.path, not the repo root
    import charts
    from submission import facts, follow


def page(a_id: int | None, b_id: int | None, viewer: privacy.Viewer = privacy.ANONYMOUS) -> None:
    """Two submissions side by side: their facts, predictions, CONFIG, code and curves;
    only when `viewer` may see both in full."""
    st.header("Compare")
    if a_id is None or b_id is None:
        st.info("Type two ids in the sidebar: Submission and Compare with.")
        return
    rows = [leaderboards.submission(i) for i in (a_id, b_id)]
    if missing := [i for i, r in zip((a_id, b_id), rows, strict=True) if r is None]:
        st.warning(f"There is no submission {missing[0]}.")
        return
    hidden = [
        sight.why_not(r)
        for r in rows
        if not (sight := privacy.lens(viewer, r["competition"])).sees(r)
    ]
    if hidden:  # a comparison shows both codes, configs and predictions: both must be open
        st.warning("Not compared: a comparison shows both submissions' code and predictions.")
        for line in hidden:
            st.text(line)  # it names members: text
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
    predictions(a_id, b_id)
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
        st.caption(f"{' and '.join(silent)}: no epochs logged (no fastai training in that run).")


def predictions(a_id: int, b_id: int) -> None:
    """What b changed against a on the public rows (`harness diff A B`)."""
    st.subheader("Predictions, public rows")
    try:
        d = prediction_diff(a_id, b_id)
    except HarnessError as e:  # not scored, other data: said as text
        st.caption("Not compared:")
        st.text(str(e))
        return
    line = f"{d['changed']} of {d['rows']} public rows changed their prediction"
    if "wrong_to_right" in d:
        line += (
            f": {d['wrong_to_right']} wrong to right, {d['right_to_wrong']} right to wrong, "
            f"{d['wrong_to_other_wrong']} wrong to another wrong"
        )
        st.text(line)
        left, right = st.columns(2)
        with left:
            st.caption("Flips by true class")
            st.dataframe(pd.DataFrame(d["flips"]), hide_index=True)
        with right:
            st.caption("Accuracy by class")
            st.dataframe(pd.DataFrame(d["per_class"]), hide_index=True)
    else:
        line += f": |error| smaller on {d['better']}, larger on {d['worse']}"
        st.text(line)
        errors = pd.DataFrame([{"run": f"#{d[k]}", **v} for k, v in d["error"].items()])
        st.dataframe(errors, hide_index=True)
        st.caption("The predictions that moved most")
        st.dataframe(pd.DataFrame(d["moved_most"]), hide_index=True)
        for key in ("users", "movies"):
            if d.get(key):
                st.caption(f"The {key} whose mean |error| moved most (b - a)")
                st.dataframe(pd.DataFrame(d[key]), hide_index=True)
    st.caption("Counts and summaries of the public part only; the private part stays hidden.")


def config_diff(a: dict, b: dict) -> list[tuple[str, str, str, bool]]:
    """Every CONFIG key of either, with both values as JSON text and whether they match."""
    out = []
    for k in dict.fromkeys([*a, *b]):
        va, vb = (json.dumps(c[k]) if k in c else "(absent)" for c in (a, b))
        out.append((k, va, vb, va == vb))
    return out
