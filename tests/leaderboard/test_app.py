"""The leaderboard app, page by page, with Streamlit's AppTest on a store real submits filled:
sign-in and links (app.py), the overview, board, submission, compare and organiser views.
The Submit page and the board's Kaggle section, on stores of their own: test_submit.py and
test_on_kaggle.py."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from harness.store import db, members, rules, teams
from tests.leaderboard.conftest import APP, HOSTILE, done, harness, shown, signed_in, texts

ORGANISER = "olga"


@pytest.fixture
def page(board_home, monkeypatch):
    """Runs the app on the filled store with a URL query, signed in as an organiser (who
    sees everything) unless `viewer` names a member, or None for an anonymous visitor;
    the AppTest after its first run."""
    monkeypatch.setenv("HARNESS_HOME", str(board_home))
    if not any(m["member"] == ORGANISER for m in members.listing()):
        members.add(ORGANISER, organiser=True)

    def run(viewer: str | None = ORGANISER, **query: str) -> AppTest:
        at = signed_in(AppTest.from_file(str(APP), default_timeout=60), viewer)
        at.query_params.update(query)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return run


def charts(at: AppTest) -> dict:
    """Each chart's title and its data, decoded from the Arrow bytes sent to the browser."""
    out = {}
    for el in at.get("vega_lite_chart"):
        title = json.loads(el.proto.spec)["title"]
        out[title] = pa.ipc.open_stream(el.proto.datasets[0].data.data).read_pandas()
    return out


def outline(at: AppTest) -> list[str]:
    """The page's elements in the order shown: a subheader by its text, the others by type."""
    return [
        el.value if el.type == "subheader" else el.type
        for el in at.main
        if not isinstance(el, Block)
    ]


def private_scores() -> dict[int, float]:
    """Every submission's private score, by id, straight from the store."""
    with db.connect(read_only=True) as con:
        return dict(con.execute("SELECT id, private_score FROM submissions").fetchall())


def test_overview_lists_every_competition_with_its_leader(page, board_home):
    at = page()
    df = at.dataframe[0].value.set_index("competition")
    titanic = df.loc["titanic"]
    assert (titanic["metric"], titanic["better"]) == ("accuracy", "higher")
    assert (titanic["entries"], titanic["participants"]) == (7, 5)  # failed and rejected count
    top = json.loads(done(harness(board_home, "leaderboard", "titanic", "--json")))[0]
    assert (titanic["leader"], titanic["score"]) == (top["user"], top["score"])
    assert titanic["last submission"] is not None
    others = df.drop(index="titanic")
    assert (others["entries"] == 0).all() and (others["leader"] == "no entries yet").all()
    assert at.query_params == {}
    # the competition box starts at the one submitted to last, not the first by name
    assert at.sidebar.selectbox(key="competition").value == "titanic" != min(df.index)


def test_leaderboard_ranks_ties_to_the_earlier_entry_and_marks_baselines(page, ids):
    at = page(competition="titanic")
    board = at.dataframe[0].value
    assert list(board.columns) == [
        "rank",
        "user",
        "score",
        "entries",
        "last submission",
        "best",
        "baseline",
    ]
    rows = board.set_index("user")
    # ann's gender rule ties the course's, which came first; her zeros entry is not her best
    assert rows.loc["course", "score"] == rows.loc["ann", "score"]
    assert rows.loc["course", "rank"] < rows.loc["ann", "rank"]
    assert (rows.loc["ann", "entries"], rows.loc["ann", "best"]) == (2, ids["ann_women"])
    assert rows.loc[HOSTILE, "rank"] == len(rows)  # nobody survives: last
    assert board["baseline"].tolist() == [u == "course" for u in board["user"]]
    assert "cat" not in rows.index  # rejected only: not on the board
    assert list(board["rank"]) == list(range(1, len(board) + 1))
    assert "private" not in board and "private scores hidden" in " ".join(texts(at))
    latest = at.dataframe[1].value
    assert set(latest["status"]) == {"scored", "failed", "rejected"} and len(latest) == 7


def test_the_board_says_when_its_rows_were_computed_on_different_machines(page, ids):
    # bob's fastai run took this CPU's own kernels; the course's rule as if run on a GPU
    def on_gpu(device, gpu):
        with db.connect() as con:
            con.execute(
                "UPDATE submissions SET device = ?, gpu = ? WHERE id = ?",
                [device, gpu, ids["baseline"]],
            )

    with db.connect(read_only=True) as con:
        before = con.execute(
            "SELECT device, gpu FROM submissions WHERE id = ?", [ids["baseline"]]
        ).fetchone()
    on_gpu("cuda", "NVIDIA H100 80GB HBM3")
    try:
        at = page(competition="titanic")
    finally:
        on_gpu(*before)
    board = at.dataframe[0].value.set_index("user")
    assert board.loc["course", "computed on"] == "NVIDIA H100 80GB HBM3"
    assert board.loc["bob", "computed on"].endswith("threads")  # its own kernels
    assert board.loc["ann", "computed on"] is None  # pandas alone: nothing to say
    note = next(t for t in texts(at) if t.startswith("These scores were computed on 2 kinds"))
    assert "NVIDIA H100 80GB HBM3 (1 row)" in note and "portable numerics" in note
    at = page(competition="titanic")  # one kind again: no column, no note
    assert "computed on" not in at.dataframe[0].value
    assert not any("kinds of machine" in t for t in texts(at))


def test_revealed_private_scores_join_the_board(page, board_home):
    assert done(harness(board_home, "reveal", "titanic")).startswith("titanic version 1")
    try:
        at = page(competition="titanic")
        board = at.dataframe[0].value
        private = private_scores()
        assert board["private"].tolist() == [private[i] for i in board["best"]]
        assert sorted(board["private rank"]) == list(range(1, len(board) + 1))
        best_private = board.sort_values("private", ascending=False)["private"].iloc[0]
        assert board.set_index("private rank").loc[1, "private"] == best_private
        assert "private scores shown since" in " ".join(texts(at))
        best = int(board["best"].iloc[0])
        shown = [t.value for t in page(submission=str(best)).text]
        # on its page too, once revealed
        assert any(t.startswith(f"private accuracy {private[best]:.5f}") for t in shown)
    finally:
        done(harness(board_home, "reveal", "titanic", "--hide"))
    at = page(competition="titanic")
    assert "private" not in at.dataframe[0].value
    assert "Private leaderboard" not in [h.value for h in at.subheader]


def test_the_private_board_and_its_shake_up_once_shown(page, board_home):
    done(harness(board_home, "reveal", "titanic"))
    try:
        at = page(competition="titanic")
        private = json.loads(
            done(harness(board_home, "leaderboard", "titanic", "--private", "--json"))
        )
    finally:
        done(harness(board_home, "reveal", "titanic", "--hide"))
    heads = [h.value for h in at.subheader]
    assert heads.index("Private leaderboard") < heads.index("Latest submissions")
    table = next(d.value for d in at.dataframe if "public_rank" in d.value.columns)
    assert table["user"].tolist() == [r["user"] for r in private]
    assert table["score"].tolist() == [r["score"] for r in private]
    arrows = {"=": 0} | {f"↑{n}": n for n in range(1, 9)} | {f"↓{n}": -n for n in range(1, 9)}
    assert [arrows[m] for m in table["move"]] == [r["moved"] for r in private]
    drawn = charts(at)
    shake = drawn["Shake-up: public rank to private rank"]
    ann = shake[shake["user"] == "ann"].set_index("board")["rank"].to_dict()
    mine = next(r for r in private if r["user"] == "ann")
    assert ann == {"public": mine["public_rank"], "private": mine["rank"]}
    scores = drawn["Valid, public and private accuracy"]
    assert set(scores["part"]) == {"valid", "public", "private"}
    got = scores[scores["user"] == "ann"].set_index("part")["score"].to_dict()
    assert got["private"] == mine["score"] and got["public"] == mine["public_score"]


def test_each_members_submissions_left_today_under_a_daily_limit(page, board_home, ids):
    assert "Submissions left today" not in [h.value for h in page(competition="titanic").subheader]
    done(harness(board_home, "rules", "titanic", "--daily-limit", "50"))
    try:
        at = page(competition="titanic")
    finally:
        done(harness(board_home, "rules", "titanic", "--daily-limit", "none"))
    assert "50 submissions a day per member or team" in " ".join(texts(at))
    left = next(d.value for d in at.dataframe if "left today" in d.value.columns)
    rows = left.set_index("user")
    used = {u: int(rows.loc[u, "used today"]) for u in ("ann", "bob", "cat")}
    # scored today count; bob's failure and cat's rejected CSV do not
    assert used == {"ann": 2, "bob": 1, "cat": 0}
    assert int(rows.loc["ann", "left today"]) == 48
    assert "course" not in rows.index  # the baselines are not a member's


def test_best_score_over_time_steps_at_each_improvement(page, ids):
    steps = charts(page(competition="titanic"))["Best public accuracy over time"]
    ann = steps[steps["user"] == "ann"]
    assert ann["submission_id"].tolist() == [ids["ann_zeros"], ids["ann_women"]]
    assert ann["best"].is_monotonic_increasing and ann["best"].iloc[0] < ann["best"].iloc[1]
    assert sorted(steps["user"].unique()) == sorted(["ann", "bob", "course", HOSTILE])


def test_score_against_training_time_per_submission(page, ids):
    points = charts(page(competition="titanic"))["Public accuracy against training time"]
    points = points.set_index("submission_id")
    bob = points.loc[ids["bob_fastai"]]
    assert (bob["timing"], bob["model"], bob["user"]) == ("per epoch", "tabular 10-10", "bob")
    assert 0 < bob["seconds"] < 300
    ann = points.loc[ids["ann_women"]]  # fit_predict: no epochs, the whole run's time
    assert (ann["timing"], ann["model"], ann["filename"]) == ("whole run", "women.py", "women.py")
    assert ids["rejected"] not in points.index and ids["failed"] not in points.index


def test_submission_page_shows_code_config_curves_artifacts_and_log(page, ids):
    at = page(submission=str(ids["bob_fastai"]))
    assert at.header[0].value == f"Submission {ids['bob_fastai']}"
    score = at.success[0].value
    assert score.startswith("Scored: public accuracy ") and score.endswith(" (higher is better)")
    texts = [t.value for t in at.text]
    assert texts.pop(0).startswith("valid accuracy 0.")  # the run's score on the valid set
    assert texts[0].startswith("by bob · tiny_fastai.py (code, train) · titanic (version ")
    assert texts[0].endswith(" UTC") and texts[1] == "tabular"  # the message
    assert texts[2].startswith("Model: TabularModel, ") and " parameters (" in texts[2]
    assert not any("private" in t for t in texts)  # hidden until revealed
    figures = {m.label: m.value for m in at.metric}
    assert (figures["device"], figures["seed"]) == ("cpu", "42")
    assert figures["wall time"].endswith(" s") and figures["seconds per epoch"].endswith(" s")
    assert figures["peak memory"].endswith(" MiB")
    curves = charts(at)
    losses = curves["Training and validation loss"]
    assert sorted(set(losses["series"])) == ["train_loss", "valid_loss"]
    assert losses["step"].tolist().count(2) == 2  # two epochs, both losses
    assert set(curves["Validation metrics"]["series"]) == {"accuracy"}
    epochs, matrix, provenance = (at.dataframe[i].value for i in (0, 1, -1))
    assert epochs["epoch"].tolist() == [0, 1] and (epochs["seconds"] > 0).all()
    # the diagnostics: the confusion matrix as CSV and PNG, the lr_find curve as JSON
    assert list(matrix.columns) == ["actual", "predicted died", "predicted survived"]
    assert len(at.image) == 1
    assert json.loads(at.json[0].value)["lr"] == [1e-4, 1e-3, 1e-2]
    assert "Two epochs of fastai's tabular_learner." in texts  # the docstring
    code = at.code[0]
    assert code.language == "python" and "tabular_learner(dls" in code.value
    assert json.loads(at.json[1].value) == {"arch": "tabular 10-10", "epochs": 2, "lr": 0.03}
    facts = dict(provenance.values.tolist())
    assert len(facts["file sha256"]) == 64 and facts["data"].startswith("offline, fingerprint ")
    assert float(facts["time limit seconds"]) > 0 and "harness git" in facts
    assert not {"user", "model", "seed", "public accuracy", "private accuracy"} & set(facts)
    assert json.loads(at.json[2].value)["fastai"]  # versions
    assert at.expander[0].label == "Versions"
    assert "[run] predicting the test set" in at.code[-1].value


def test_submission_page_leads_with_the_score_model_curves_and_diagnostics(page, ids):
    """What people look at first; the code, and the provenance after it, below."""
    at = page(submission=str(ids["bob_fastai"]))
    shown = outline(at)
    assert [h.value for h in at.subheader] == [
        "Training",
        "Diagnostics",
        "Docstring",
        "Code",
        "CONFIG",
        "Provenance",
        "Log",
    ]
    first = {kind: shown.index(kind) for kind in ("success", "metric", "vega_lite_chart", "image")}
    assert list(first) == sorted(first, key=first.get)  # score, figures, curves, diagnostics
    code = shown.index("Code")
    assert max(first.values()) < code < shown.index("Provenance")
    assert shown[code + 1] == "code" and shown[:code].count("code") == 0
    last_table = len(shown) - 1 - shown[::-1].index("dataframe")
    assert last_table == shown.index("Provenance") + 1  # the facts table, after the code
    failed = outline(page(submission=str(ids["failed"])))
    assert failed[:3] == ["header", "error", "code"]  # the error leads a failed run


def test_diagnostics_being_drawn_or_broken_after_the_score_say_so(page, ids):
    def drawing(state: str | None) -> None:
        with db.connect() as con:
            con.execute(
                "UPDATE submissions SET diagnostics = ? WHERE id = ?", [state, ids["ann_women"]]
            )

    with db.connect(read_only=True) as con:
        (before,) = con.execute(
            "SELECT diagnostics FROM submissions WHERE id = ?", [ids["ann_women"]]
        ).fetchone()
    try:
        drawing("pending")
        at = page(submission=str(ids["ann_women"]))
        assert "Diagnostics" in [h.value for h in at.subheader]
        assert at.info[0].value.startswith("Being drawn: the score is recorded first")
        drawing("failed")
        at = page(submission=str(ids["ann_women"]))
        assert at.warning[0].value.startswith("The run broke while drawing them")
    finally:
        drawing(before)


def test_failed_and_rejected_submissions_show_their_error(page, ids):
    failed = page(submission=str(ids["failed"]))
    assert failed.error[0].value == "Failed:"
    assert failed.code[0].value.startswith("ZeroDivisionError: division by zero (broken.py")
    assert "Traceback" in failed.code[-1].value  # the log's tail
    rejected = page(submission=str(ids["rejected"]))
    assert rejected.error[0].value == "Rejected:" and rejected.code[0].value.startswith("empty.csv")
    assert rejected.code[1].language != "python"  # a CSV file is not highlighted as code


def test_compare_two_submissions(page, ids, board_home):
    a, b = ids["bob_fastai"], ids["ann_women"]
    at = page(compare=str(a), **{"with": str(b)})
    scores = at.dataframe[0].value.set_index("field")
    assert list(scores.columns) == [f"#{a}", f"#{b}", "same"]
    assert (scores.loc["user", f"#{a}"], scores.loc["user", f"#{b}"]) == ("bob", "ann")
    config = next(d.value for d in at.dataframe if "key" in d.value.columns).set_index("key")
    assert config.loc["arch", f"#{a}"] == '"tabular 10-10"'
    assert config.loc["rule", f"#{a}"] == "(absent)" and not config["same"].any()
    diff = at.code[0]
    assert diff.language == "diff" and f"--- #{a} tiny_fastai.py" in diff.value
    assert "+def fit_predict(train, valid, test):" in diff.value
    losses = charts(at)["Training and validation loss"]
    assert set(losses["submission"]) == {f"#{a}"}  # ann's fit_predict logged no epochs
    # the predictions, row by row on the public part: as `harness diff A B` counts them
    d = done(harness(board_home, "diff", str(a), str(b), "--json"))
    line = (
        f"{d['changed']} of {d['rows']} public rows changed their prediction: "
        f"{d['wrong_to_right']} wrong to right, {d['right_to_wrong']} right to wrong, "
        f"{d['wrong_to_other_wrong']} wrong to another wrong"
    )
    assert line in [t.value for t in at.text] and d["rows"] == 209
    flips = next(x.value for x in at.dataframe if "wrong_to_right" in x.value.columns)
    assert flips.to_dict("records") == d["flips"]
    other_data = page(compare=str(ids["rejected"]), **{"with": str(b)})
    assert any("only scored ones compare" in t.value for t in other_data.text)
    assert any(f"#{b}: no epochs logged" in t for t in texts(at))


def test_a_hostile_name_and_markdown_are_shown_as_text(page, ids):
    board = page(competition="titanic")
    sub = page(submission=str(ids["hostile"]))
    both = page(compare=str(ids["hostile"]), **{"with": str(ids["ann_women"])})
    for at in (board, sub, both):
        assert not at.get("html") and not any("<script" in t for t in texts(at))
    assert HOSTILE in board.dataframe[0].value["user"].tolist()
    shown = [t.value for t in sub.text][1:]  # st.text: verbatim; after the valid score
    assert shown[0].startswith(f"by {HOSTILE} · zeros.py ") and shown[1] == f"{HOSTILE} **bold**"
    women = page(submission=str(ids["ann_women"]))
    assert "Women first: *the* **gender** rule." in [t.value for t in women.text]


def test_links_and_the_sidebar_keep_the_url_in_step(page, ids):
    for query in (
        {"competition": "titanic"},
        {"submission": str(ids["bob_fastai"])},
        {"compare": str(ids["bob_fastai"]), "with": str(ids["failed"])},
    ):
        assert page(**query).query_params == query
    at = page(competition="titanic")
    assert at.radio[0].value == "Leaderboard" and at.selectbox[0].value == "titanic"
    at.number_input(key="submission").set_value(ids["ann_women"])
    at.radio[0].set_value("Submission").run()
    assert at.query_params == {"submission": str(ids["ann_women"])}
    assert at.header[0].value == f"Submission {ids['ann_women']}"
    at.radio[0].set_value("Overview").run()
    assert at.query_params == {} and at.header[0].value == "Competitions"


def test_unknown_names_and_ids_are_explained(page):
    at = page(competition="titanc")
    assert at.warning[0].value == "The link names no such competition."
    assert at.text[0].value == "Unknown competition 'titanc'. Did you mean: titanic?"
    assert at.header[0].value == "Competitions"
    assert page(submission="9999").warning[0].value == "There is no submission 9999."
    assert page(compare="1", **{"with": "9999"}).warning[0].value == "There is no submission 9999."


def test_refresh_reads_the_store_again(page, board_home):
    at = page(competition="titanic")
    assert "private" not in at.dataframe[0].value
    done(harness(board_home, "reveal", "titanic"))  # another process writes meanwhile
    try:
        at.button[0].click().run()
        assert "private" in at.dataframe[0].value
    finally:
        done(harness(board_home, "reveal", "titanic", "--hide"))


def test_a_page_waits_while_a_submit_holds_the_write_lock(page, board_home):
    hold = (
        "import sys, time, duckdb\n"
        "con = duckdb.connect(sys.argv[1])\n"
        "print('locked', flush=True)\n"
        "time.sleep(2)\n"
        "con.close()\n"
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", hold, str(board_home / "harness.duckdb")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        at = page(competition="titanic")
        assert time.monotonic() - t0 > 1  # it waited for the writer, then rendered
        assert not at.error and "ann" in at.dataframe[0].value["user"].tolist()
    finally:
        writer.wait(timeout=30)


def test_an_empty_store_shows_how_to_submit(home, monkeypatch):
    monkeypatch.setenv("HARNESS_HOME", str(home))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["competition"] = "titanic"
    at.run()
    assert not at.exception
    assert at.info[0].value == "No scored submissions yet: harness submit titanic FILE --user NAME"
    assert not (home / "harness.duckdb").exists()  # reading never creates the store


# --- Kaggle's privacy: who sees what ---------------------------------------------------------


def member(name: str) -> str:
    """`name` as a member of the board's store (added once)."""
    if not any(m["member"] == name for m in members.listing()):
        members.add(name)
    return name


def everything(at: AppTest) -> str:
    """All the page sent, values of its tables included."""
    tables = [d.value.to_csv() for d in at.dataframe]
    return "\n".join([*shown(at), *tables, *(str(j.value) for j in at.json)])


def test_someone_elses_submission_shows_its_public_part_only(page, ids):
    bob = ids["bob_fastai"]
    for viewer in (None, member("ann")):  # an anonymous visitor, another member
        at = page(viewer, submission=str(bob))
        assert at.success[0].value.startswith("Scored: public accuracy ")
        seen = everything(at)
        for secret in ("tabular_learner", "tabular 10-10", "tiny_fastai.py", "[harness]"):
            assert secret not in seen, (viewer, secret)
        assert not at.code and not at.image and not at.get("vega_lite_chart")
        assert any(t.value.startswith("by bob · titanic (version ") for t in at.text)
        [why] = [i.value for i in at.info]
        assert why.startswith(f"submission {bob} is bob's: its code, log and diagnostics are ")
        assert f"until bob or their team publishes it (harness publish {bob})" in why
        assert not [b for b in at.button if b.label == "Publish"]
    failed = page(None, submission=str(ids["failed"]))
    assert failed.error[0].value == "Failed." and "ZeroDivisionError" not in everything(failed)


def test_a_member_sees_their_own_the_baselines_and_published_work(page, ids):
    ann = page(member("ann"), submission=str(ids["ann_women"]))
    assert "(test['Sex'] == 'female')" in ann.code[0].value and not ann.info
    assert [b.label for b in ann.button if b.label == "Publish"] == ["Publish"]
    course = page(None, submission=str(ids["baseline"]))  # the course's code is public
    assert course.code and not course.info
    # bob publishes his failed run from its page: everyone can read it from then on
    bob = page(member("bob"), submission=str(ids["failed"]))
    next(b for b in bob.button if b.label == "Publish").click().run()
    assert not bob.exception and bob.caption[0].value.startswith("Published ")
    anyone = page(None, submission=str(ids["failed"]))
    assert anyone.code[0].value.startswith("ZeroDivisionError") and not anyone.info


def test_compare_needs_both_to_be_open_to_the_viewer(page, ids):
    a, b = ids["bob_fastai"], ids["ann_women"]
    at = page(member("ann"), compare=str(a), **{"with": str(b)})
    assert [w.value for w in at.warning] == [
        "Not compared: a comparison shows both submissions' code and predictions."
    ]
    said = [t.value.split(":")[0] for t in at.text if t.value.startswith("submission")]
    assert said == [f"submission {a} is bob's"]
    assert not at.code and not at.dataframe


def test_the_latest_table_hides_other_members_files_and_messages(page, ids):
    table = page(None, competition="titanic").dataframe[-1].value.set_index("id")
    assert table.loc[ids["ann_women"], "user"] == "ann"
    assert table.loc[ids["ann_women"], "score"] > 0.7  # scores are public
    assert table.loc[ids["ann_women"], ["filename", "message"]].isna().all()
    assert table.loc[ids["baseline"], "filename"] == "gender_rule.py"
    own = page(member("ann"), competition="titanic").dataframe[-1].value.set_index("id")
    assert own.loc[ids["ann_women"], "message"] == "women first"


def test_the_organiser_page_is_for_organisers_only(page, board_home):
    anonymous = page(None, view="organiser")
    assert (
        anonymous.header[0].value == "Competitions"
        and "Organiser" not in anonymous.radio[0].options
    )
    ann = page(member("ann"), view="organiser")
    assert ann.header[0].value == "Competitions"
    at = page(view="organiser")
    assert at.header[0].value == "Organiser"
    at.text_input[0].input("eve")
    next(b for b in at.button if b.label == "Add").click().run()
    assert at.success[0].value.startswith("The token of eve, shown once")
    token = at.code[0].value
    assert members.who(token) == "eve" and at.query_params == {"view": "organiser"}
    at.run()  # shown once: gone on the next rerun
    assert not [c for c in at.code if c.value == token]
    members.remove("eve")
    # the rules of the competition in the sidebar, as `harness rules NAME --daily-limit 7`
    name = next(h.value for h in at.subheader if h.value.startswith("Rules of ")).split()[-1]
    with db.connect(read_only=True) as con:
        before = rules.current(con, name)
    next(n for n in at.number_input if n.label.startswith("Daily limit")).set_value(7)
    next(b for b in at.button if b.label == "Save the rules").click().run()
    assert not at.exception and not at.error
    with db.connect(read_only=True) as con:
        after = rules.current(con, name)
    assert after.daily_limit == 7 and after.final == before.final
    rules.change(name, daily_limit=before.daily_limit)
    # a team, as `harness team create pair --members ann,bob --competition NAME`
    member("ann"), member("bob")
    at.run()  # the members box offers them
    next(t for t in at.text_input if t.label == "Team").input("pair")
    next(m for m in at.multiselect if m.label == "Members").set_value(["ann", "bob"])
    next(b for b in at.button if b.label == "Create").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [(t["team"], t["members"]) for t in teams.listing(name)] == [("pair", ["ann", "bob"])]
    for who in ("ann", "bob"):  # the team ends: the other tests' boards stay as they were
        teams.remove([name], "pair", who)


def test_an_openid_sign_in_is_the_member_with_that_address(page, board_home, ids):
    """Where the group configured Streamlit's st.login ([auth] in secrets.toml), the
    provider's verified address signs in the member the organiser gave it to."""
    if not any(m["member"] == "hal" for m in members.listing()):
        members.add("hal", email="Hal@Example.org")

    def as_user(**user) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.secrets["auth"] = {"redirect_uri": "http://localhost/oauth2callback"}
        at.user = user
        at.query_params["view"] = "submit"
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    hal = as_user(is_logged_in=True, email="hal@example.org", email_verified=True)
    assert "Signed in as hal" in [t.value for t in hal.text] and hal.get("file_uploader")
    unknown = as_user(is_logged_in=True, email="mallory@example.org")
    assert not unknown.get("file_uploader")
    assert "Your e-mail address is not a member's: ask the organiser." in [
        c.value for c in unknown.caption
    ]
    unverified = as_user(is_logged_in=True, email="hal@example.org", email_verified=False)
    assert not unverified.get("file_uploader")
    out = as_user(is_logged_in=False)
    assert [b.label for b in out.button if "account" in b.label] == ["Sign in with your account"]
