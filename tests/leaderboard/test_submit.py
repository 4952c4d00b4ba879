"""The Submit page (leaderboard/submit.py) with Streamlit's AppTest: an upload queued as
through the API, followed to its record; what is left today; refusals said as text."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from harness.server import scheduler, status
from harness.store import db, members, queue, rules
from tests.leaderboard.conftest import APP, shown, signed_in


@pytest.fixture
def submit_home(home, board_home) -> Path:
    """An empty store beside the board's prepared Titanic data: nothing queued yet."""
    (home / "data").symlink_to(board_home / "data", target_is_directory=True)
    return home


@pytest.fixture
def zeros(board_home) -> bytes:
    """A valid Titanic CSV: the prepared sample submission, nobody surviving."""
    sample = board_home / "data" / "titanic" / "current" / "files" / "sample_submission.csv"
    return sample.read_bytes()


def submit_form(member: str, file: tuple | None, message: str = "", to: str = "titanic") -> AppTest:
    """The Submit page of a signed-in member, filled in and sent."""
    at = signed_in(AppTest.from_file(str(APP), default_timeout=60), member)
    at.query_params["view"] = "submit"
    at.run()
    assert at.header[0].value == "Submit" and at.query_params == {"view": "submit"}
    next(s for s in at.selectbox if s.label == "Submit to").select(to)
    if file:
        at.file_uploader[0].set_value(file)
    at.text_area[0].input(message)
    next(b for b in at.button if b.label == "Submit").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_submit_queues_an_upload_and_follows_it_to_its_record(submit_home, zeros):
    token = members.add("dee")
    at = submit_form("dee", ("zeros.csv", zeros, "text/csv"), "nobody *survives*")
    [item] = queue.items()  # no scheduler in AppTest: it waits in line
    assert (item["user_name"], item["competition"], item["filename"]) == (
        "dee",
        "titanic",
        "zeros.csv",
    )
    assert item["message"] == "nobody *survives*"
    sub = item["id"]
    assert status.of(sub)["status"] == "queued"
    assert at.subheader[0].value == f"Your submission {sub}"
    assert at.info[0].value == f"#{sub} queued: place 1 in line"
    assert at.query_params == {"view": "submit"}  # never the token
    assert not any(token in t for t in shown(at)) and not at.error
    # a rerun (the Refresh button) keeps the session's submission; its run is recorded
    scheduler.Scheduler(sandboxed=False).run(queue.claim({}))
    next(b for b in at.button if b.label == "Refresh").click().run()
    record = status.of(sub)
    assert record["status"] == "scored" and not queue.items()
    assert at.success[0].value == f"#{sub} scored: public accuracy {record['public_score']:.5f}"
    next(b for b in at.button if b.label == f"Open submission {sub}").click().run()
    assert at.header[0].value == f"Submission {sub}"
    assert at.query_params == {"submission": str(sub)}
    # back on the Submit page, the run is shown
    at.radio[0].set_value("Submit").run()
    assert at.success[0].value.startswith(f"#{sub} scored")


def test_the_submit_page_shows_what_is_left_and_refuses_over_the_limit(submit_home, zeros):
    members.add("dee")
    rules.change("titanic", daily_limit=1)
    at = submit_form("dee", ("zeros.csv", zeros, "text/csv"))
    [item] = queue.items()
    assert "dee on titanic: 0 of 1 left today" in [t.value for t in at.text]
    over = submit_form("dee", ("zeros.csv", zeros, "text/csv"))
    [row] = db.read("SELECT id, status, error FROM submissions")  # recorded, never queued
    assert row["status"] == "rejected" and len(queue.items()) == 1
    assert [e.value for e in over.error] == [f"#{row['id']} rejected:"]
    assert over.code[0].value == row["error"]
    assert row["error"].startswith("daily limit reached: titanic allows 1 submission a day")


def test_an_anonymous_visitor_gets_no_upload_box(submit_home):
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["view"] = "submit"
    at.run()
    assert not at.exception and not at.get("file_uploader") and not at.get("form")
    assert [i.value for i in at.info] == [
        "Sign in with the token the organiser gave you to submit."
    ]
    assert not queue.items() and not (submit_home / "uploads").exists()


def test_a_refused_upload_is_explained_as_text(submit_home, zeros):
    members.add("dee")
    at = submit_form("dee", None)
    assert [e.value for e in at.error] == ["Choose a notebook, a .py or a .csv file to submit."]
    odd = submit_form("dee", ("zeros.csv", zeros, "text/csv"), "a \x1b[31m **b**")
    assert [e.value for e in odd.error] == ["Not queued:"]
    assert odd.code[0].value == "the message must be at most 1000 printable characters"
    unready = submit_form("dee", ("zeros.csv", zeros, "text/csv"), to="movielens")
    assert unready.code[0].value.startswith("the host has not prepared movielens's data yet")
    assert not queue.items()
