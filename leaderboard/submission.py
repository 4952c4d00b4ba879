"""The page of one submission: the score, the model, the curves and diagnostics, then the
code, the provenance, reproductions and the log (`compare` sets two side by side)."""

from __future__ import annotations

import json
import string
from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from harness.competition import artifacts, registry
from harness.errors import HarnessError
from harness.run import notebook
from harness.store import leaderboards, privacy
from harness.store.records import reported_facts

try:
    from leaderboard import charts
except ModuleNotFoundError:  # `streamlit run` puts leaderboard/ on sys.path, not the repo root
    import charts

LOG_LINES = 40
CHART_EPOCHS = 2000  # points per curve a page sends the browser
TABLE_ROWS = 1000  # rows of a CSV diagnostic a page shows
JSON_BYTES = 1 << 20  # a JSON diagnostic larger than this is not parsed on a page view
CODE_LINES = 400  # a CSV submission's content can be long: its head is enough


def page(sub_id: int | None, viewer: privacy.Viewer = privacy.ANONYMOUS) -> None:
    """One run, what people look at first: the score, the model, the curves, the
    diagnostics; then the code, and last the provenance, reproductions and log.

    Someone else's private submission shows its public part only (harness.store.privacy).
    """
    if sub_id is None:
        st.info("Type a submission id in the sidebar, or pick a row of a leaderboard.")
        return
    row = leaderboards.submission(sub_id)
    if row is None:
        st.warning(f"There is no submission {sub_id}.")
        return
    st.header(f"Submission {sub_id}")
    follow(row)
    sight = privacy.lens(viewer, row["competition"])
    if not sight.sees(row):
        closed(row, sight)
        return
    headline(row)
    sharing(row, sight)
    run_facts(row)
    if row["epochs"]:
        training(row)
    drawing = row.get("diagnostics")  # "pending" while the run draws after its score
    if row["artifacts"] or drawing in ("pending", "failed"):
        st.subheader("Diagnostics")
        if drawing == "pending":
            st.info(
                "Being drawn: the score is recorded first and the pictures follow in a "
                "moment (refresh the page)."
            )
        elif drawing == "failed":
            st.warning("The run broke while drawing them, after its score: its log says how.")
        for a in row["artifacts"]:
            artifact(a, row["run_dir"])
    if row["docstring"]:
        st.subheader("Docstring")
        st.text(row["docstring"])
    if row["entry"] == "notebook":
        executed(row)
    else:
        st.subheader("Code" if row["kind"] == "code" else "File")
        content = "\n".join((row["content"] or "").splitlines()[:CODE_LINES])
        st.code(content, language="python" if row["kind"] == "code" else None, line_numbers=True)
    if row["config"] is not None:
        st.subheader("CONFIG")
        st.json(row["config"])
    st.subheader("Provenance")
    rest = pd.DataFrame(provenance(row), columns=["field", "value"])
    st.dataframe(rest, hide_index=True, height="content")
    if row["versions"]:
        with st.expander("Versions"):
            st.json(row["versions"])
    if seen := (row.get("reported") or {}).get("versions"):
        with st.expander("Versions, as the run reported them"):  # its word, not the host's
            st.json(seen)
    if row["reproductions"]:
        st.subheader("Reproductions")
        reps = [
            {
                **r,
                "differences": "; ".join(
                    f"{d['what']}: {d['original']} then, {d['now']} now"
                    for d in r.get("differences") or []
                ),
            }
            for r in row["reproductions"]
        ]
        st.dataframe(pd.DataFrame(reps), hide_index=True)
    if row["log"]:
        lines = row["log"].rstrip().splitlines()
        st.subheader("Log")
        st.caption(f"The last {min(LOG_LINES, len(lines))} of {len(lines)} lines.")
        st.code("\n".join(lines[-LOG_LINES:]), language=None)


def closed(row: dict, sight: privacy.Lens) -> None:
    """Someone else's private submission: its public part (status, scores, who, when, the
    run's figures) and whose it is, when it opens."""
    row = sight.shown(row)
    better = "higher" if row["higher_is_better"] else "lower"
    if row["status"] == "scored":
        st.success(f"Scored: public {row['metric']} {row['public_score']:.5f} ({better} is better)")
    else:
        st.error(f"{row['status'].capitalize()}.")
    if also := scores(row):
        st.text(" · ".join(f"{k} {_text(v)}" for k, v in also))
    st.text(  # member names: text
        f"by {row['user_name']} · {row['competition']} (version {row['competition_version']}) · "
        f"submitted {_text(row.get('submitted_at') or row['created_at'])} UTC"
    )
    run_facts(row)
    st.info(row["private"])


def sharing(row: dict, sight: privacy.Lens) -> None:
    """Published or private, and the member's (or team's, or an organiser's) button to
    publish."""
    if row["is_baseline"]:
        return
    if row.get("published_at"):
        st.caption(f"Published {_text(row['published_at'])} UTC: everyone can read it.")
        return
    v = sight.viewer
    if v.organiser or row["user_name"] in sight.mates:
        st.caption(
            "Private: its code, log and diagnostics are yours, your team's and the "
            "organisers' until you publish it."
        )
        st.button(
            "Publish",
            help="Everyone can then read its code, log and diagnostics, for good "
            "(like a public Kaggle notebook).",
            on_click=publish,
            args=(row["id"], v),
        )


def publish(sub_id: int, v: privacy.Viewer) -> None:
    try:
        privacy.publish(sub_id, v)
    except HarnessError as e:  # e.g. no longer theirs: said above the page, as text
        st.error("Not published:")
        st.text(str(e))


def executed(row: dict) -> None:
    """A notebook submission cell by cell, with the outputs its run made: as text and
    images only (a member's notebook: never its HTML, JavaScript or markdown)."""
    st.subheader("Notebook")
    path = Path(row["run_dir"] or "") / "out" / notebook.EXECUTED
    try:
        cells = notebook.shown_cells(path) if row["run_dir"] else None
    except ValueError as e:
        st.warning(f"The executed notebook is not shown: {e}")
        cells = None
    if cells is None:  # not run (rejected), or its output refused: the cells as sent
        st.caption("The notebook as it was sent (no outputs).")
        try:
            cells = notebook.shown_cells_of(row["content"] or "")
        except ValueError:
            cells = []
    else:
        st.caption("As the run executed it: its outputs, text and images.")
    n = 0
    for cell in cells:
        if cell["kind"] != "code":
            st.text(cell["source"])
            continue
        n += 1
        st.caption(f"cell {n}")
        st.code(cell["source"], language="python")
        for kind, value in cell["outputs"]:
            if kind == "image":
                st.image(value)
            elif kind == "error":
                st.code(value, language=None, wrap_lines=True)
            else:
                st.text(value)


# The facts the page's top shows; `provenance` is every other one, so none is lost.
HEADLINE = ("user", "message", "course baseline", "competition", "file", "status")
RUN_FACTS = ("model", "wall seconds", "device", "seed", "peak memory MiB", "peak GPU memory MiB")
SHOWN_FIRST = frozenset((*HEADLINE, *RUN_FACTS, "submitted (UTC)"))


def headline(row: dict) -> None:
    """The status and public score (or the error); who sent which file, and their message.

    What a member wrote (name, file name, message) goes out as text, never markdown.
    """
    better = "higher" if row["higher_is_better"] else "lower"
    if row["status"] == "scored":
        st.success(f"Scored: public {row['metric']} {row['public_score']:.5f} ({better} is better)")
    else:
        st.error(f"{row['status'].capitalize()}:")
        st.code(row["error"] or "", language=None, wrap_lines=True)
    for w in row.get("warnings") or []:  # they quote the member's names: never markdown
        st.warning(_plain(w))
    if row.get("late"):
        st.warning(
            "Late: made after the competition's deadline. It is scored and kept here, "
            "and stays off both boards, as on Kaggle."
        )
    if also := scores(row):
        st.text(" · ".join(f"{k} {_text(v)}" for k, v in also))
    by = [
        f"by {row['user_name']}",
        f"{row['filename']} ({row['kind']}, {row['entry'] or 'predictions'})",
        f"{row['competition']} (version {row['competition_version']})",
        f"submitted {_text(row.get('submitted_at') or row['created_at'])} UTC",
    ]
    if row["is_baseline"]:
        by.append("course baseline")
    st.text(" · ".join(by))
    if row["message"]:
        st.text(row["message"])


def scores(row: dict) -> list[tuple[str, float]]:
    """The scores besides the public one: private (once revealed) and the competition's others."""
    extra = row["extra_scores"] or {}
    out = [
        (f"private {row['metric']}", row["private_score"]),
        (f"valid {row['metric']}", row.get("valid_score")),
        *((f"public {k}", v.get("public")) for k, v in extra.items()),
        *((f"private {k}", v.get("private")) for k, v in extra.items()),
    ]
    return [(k, v) for k, v in out if v is not None]


def run_facts(row: dict) -> None:
    """The model, and the run's time, device, seed and memory in one row of figures: the
    host's, save the GPU peak the run reported where the host measured none."""
    if line := model(row["model"]):
        st.text(f"Model: {line}")  # the member's code names it: text
    if line := columns(row.get("decisions")):
        st.text(f"Columns: {line}")
    seconds = [e["seconds"] for e in row["epochs"] if e["seconds"] is not None]
    figures = [
        ("wall time", row["wall_seconds"], "{:.1f} s"),
        ("seconds per epoch", sum(seconds) / len(seconds) if seconds else None, "{:.2f} s"),
        ("device", _plain(row["device"]) if row["device"] else None, "{}"),
        ("seed", row["seed"], "{}"),
        ("peak memory", row["peak_memory_mb"], "{:,.0f} MiB"),
        ("peak GPU memory", row["gpu_peak_mb"], "{:,.0f} MiB"),
    ]
    said = row.get("reported") or {}
    if row["gpu_peak_mb"] is None and isinstance(said.get("gpu_peak_mb"), int | float):
        figures.append(("peak GPU memory (reported)", said["gpu_peak_mb"], "{:,.0f} MiB"))
    figures = [(label, form.format(v)) for label, v, form in figures if v is not None]
    if figures:
        for col, (label, value) in zip(st.columns(len(figures)), figures, strict=True):
            col.metric(label, value)


def columns(decisions: dict | None) -> str | None:
    """The roles a tabular run's DataLoaders gave the columns, as one line."""
    if not decisions:
        return None
    return "; ".join(f"{role} {', '.join(names) or 'none'}" for role, names in decisions.items())


def _plain(s: str) -> str:
    """`s` with each ASCII punctuation mark backslash-escaped, so markdown shows it as is.

    st.metric renders its value as markdown; the worker that reports the device runs beside
    a member's code.
    """
    return "".join("\\" + c if c in string.punctuation else c for c in s)


def provenance(row: dict) -> list[tuple[str, str]]:
    """The facts the page's top does not show: fingerprints, git, limits, sandboxing, the
    pretrained weights loaded."""
    above = SHOWN_FIRST | {f"public {row['metric']}"} | {k for k, _ in scores(row)}
    out = [(k, v) for k, v in facts(row) if k not in above]
    limits = [
        ("time limit seconds", row.get("timeout_seconds")),
        ("memory limit MiB", row.get("memory_limit_mb")),
    ]
    # the pretrained weights it started from: what a reproduction must load again
    said = row.get("reported") or {}
    loaded = [
        (
            f"pretrained weights {w['name']} ({w['library']}), reported by the run",
            f"{w['file']}, sha256 {w['sha256']}",
        )
        for w in said.get("weights", row.get("weights")) or []
    ]
    # the run's own word, labelled as such: the figures above are the host's
    reported = [(f"{k}, reported by the run", _text(v)) for k, v in reported_facts(row)]
    return out + [(k, _text(v)) for k, v in limits if v is not None] + reported + loaded


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
        ("answer", row.get("output") and f"{row['output']} (in /kaggle/working)"),
        ("status", row["status"]),
        (f"public {row['metric']}", row["public_score"]),
        (f"private {row['metric']}", row["private_score"]),
        (f"valid {row['metric']}", row.get("valid_score")),
        *((f"public {k}", v.get("public")) for k, v in (row["extra_scores"] or {}).items()),
        *((f"private {k}", v.get("private")) for k, v in (row["extra_scores"] or {}).items()),
        ("late", "yes: made after the deadline, kept off the boards" if row.get("late") else None),
        ("seed", row["seed"]),
        ("device", row["device"]),
        (
            "sandboxed",
            {True: "yes", False: "no: this run was not sandboxed"}.get(row.get("sandboxed")),
        ),
        ("wall seconds", row["wall_seconds"]),
        *((f"{k} seconds", v) for k, v in seconds.items()),
        ("model", model(row["model"])),
        ("peak memory MiB", row["peak_memory_mb"]),
        ("peak GPU memory MiB", row["gpu_peak_mb"]),
        ("submitted (UTC)", row.get("submitted_at") or row["created_at"]),
        ("recorded (UTC)", row["created_at"]),
        ("file sha256", row["file_sha256"]),
        ("data", f"{row['data_source']}, fingerprint {row['data_fingerprint']}"),
        ("predictions sha256", row["predictions_sha256"]),
        ("harness git", row["harness_git"]),
    ]
    return [(k, _text(v)) for k, v in out if v is not None]


def model(m: dict | None) -> str | None:
    """The trained model as one line: architecture, parameters, how its weights started."""
    if not m:
        return None
    start = {True: ", pretrained", False: ", from scratch"}.get(m.get("pretrained"), "")
    return (
        f"{m['architecture']}, {m['parameters']:,} parameters ({m['trainable']:,} trainable{start})"
    )


def _text(v) -> str:
    if isinstance(v, float):
        return f"{v:.5f}" if abs(v) < 1000 else f"{v:.1f}"
    if isinstance(v, datetime):
        return f"{v:%Y-%m-%d %H:%M:%S}"
    return str(v)


def training(row: dict) -> None:
    st.subheader("Training")
    epochs = row["epochs"]
    if len(epochs) > CHART_EPOCHS:  # a browser draws a few thousand points, not 100,000
        step = -(-len(epochs) // CHART_EPOCHS)
        epochs = epochs[::step] + ([epochs[-1]] if (len(epochs) - 1) % step else [])
        st.caption(f"Every {step}th of {len(row['epochs']):,} epochs is drawn; the table has all.")
    curves = charts.epochs_frame(epochs)
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


def artifact(a: dict, run_dir: str | None) -> None:
    """A diagnostic file: PNG as an image, CSV as a table, JSON as data.

    Checked again here: its name is a plain file name of its kind, and the file is a
    regular one inside this run's artifacts folder; the title is shown as text.
    """
    title = str(a["title"] or a["name"])
    try:
        if not run_dir:
            raise artifacts.ArtifactError("the run has no folder")
        folder = Path(run_dir) / "artifacts"
        artifacts.check_name(a["name"], a["kind"])
        if Path(a["path"]) != folder / a["name"]:
            raise artifacts.ArtifactError(f"{a['name']!r} is not in its run's folder")
        path = artifacts.safe_path(folder, a["name"])
    except artifacts.ArtifactError as e:
        st.text(title)
        st.warning("Not shown: this file breaks the rules for diagnostics.")
        st.text(str(e))  # it may quote what a member's code wrote
        return
    st.text(title)  # a member's code may have written it: never markdown
    try:
        if a["kind"] == "png":
            image(folder, a["name"], path)
        elif a["kind"] == "csv":
            table = pd.read_csv(path, nrows=TABLE_ROWS + 1)
            st.dataframe(table.head(TABLE_ROWS), hide_index=True)
            if len(table) > TABLE_ROWS:
                st.caption(f"The first {TABLE_ROWS:,} rows; the file has more.")
        elif (size := path.stat().st_size) > JSON_BYTES:  # parsing it all costs every view
            st.caption(f"Not shown: {size:,} bytes of JSON, more than a page shows.")
        else:
            st.json(json.loads(path.read_text()))
    except Exception as e:  # a broken file is noted, the page goes on
        st.warning(f"Not shown: the file cannot be read ({type(e).__name__}).")


def image(folder: Path, name: str, path: Path) -> None:
    """A PNG artifact, never decoded in full on a page view: a large one as its thumbnail
    (made once: at the run's end, or at the first view of a run older than thumbnails),
    one over the pixel cap not at all."""
    try:
        thumb = artifacts.thumbnail(folder, name)
    except artifacts.ArtifactError as e:
        st.warning("Not shown: this image breaks the rules for diagnostics.")
        st.text(str(e))
        return
    if thumb is None:
        st.image(path.read_bytes())
    else:
        st.image(thumb.read_bytes(), caption="Reduced; the full image is in the run's folder.")
