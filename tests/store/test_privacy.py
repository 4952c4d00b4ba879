"""Who sees a member's work (harness.store.privacy) on a real store: the member, their team,
organisers, everyone once published or once the rules open code after the deadline."""

from __future__ import annotations

import pytest

from harness.store import db, members, privacy, rules, submissions, teams
from tests.store.conftest import at
from tests.store.test_db import row


@pytest.fixture
def ann_sub(home, monkeypatch) -> dict:
    at(monkeypatch, "2026-12-01T09:00")
    for name in ("ann", "bob", "cat"):
        members.add(name)
    members.add("olga", organiser=True)
    sub_id = submissions.insert_submission(
        row(user_name="ann", content="secret", message="mine"), []
    )
    return submissions.submission(sub_id)


def sees(member: str | None, sub: dict) -> bool:
    return privacy.lens(privacy.viewer(member), "titanic").sees(sub)


def test_a_members_work_is_theirs_their_teams_and_the_organisers(ann_sub, monkeypatch):
    assert privacy.viewer("olga").organiser and not privacy.viewer("ann").organiser
    assert [m for m in ("ann", "bob", "cat", "olga", None) if sees(m, ann_sub)] == ["ann", "olga"]
    assert sees(None, {**ann_sub, "is_baseline": True})  # the course's code is public
    at(monkeypatch, "2026-12-02T09:00")
    teams.create(["titanic"], "duo", ["ann", "bob"])
    assert [m for m in ("ann", "bob", "cat", None) if sees(m, ann_sub)] == ["ann", "bob"]
    shown = privacy.lens(privacy.viewer("cat"), "titanic").shown(ann_sub)
    assert (shown["content"], shown["message"], shown["filename"]) == (None, None, None)
    assert (shown["public_score"], shown["user_name"], shown["epochs"]) == (0.5, "ann", [])
    assert shown["private"].startswith(f"submission {ann_sub['id']} is ann's: ")
    assert shown["private"].endswith("you are signed in as cat")


def test_publishing_is_for_the_member_their_team_or_an_organiser(ann_sub):
    sid = ann_sub["id"]
    with pytest.raises(privacy.Private, match="only ann, their team or an organiser"):
        privacy.publish(sid, privacy.viewer("cat"))
    with pytest.raises(privacy.Private):
        privacy.publish(sid, privacy.ANONYMOUS)
    assert submissions.submission(sid)["published_at"] is None  # nothing changed
    out = privacy.publish(sid, privacy.viewer("ann"))
    assert out["already"] is False and sees(None, submissions.submission(sid))
    assert privacy.publish(sid, privacy.viewer("cat"))["already"] is True


def test_the_rules_can_open_all_code_after_the_deadline(ann_sub, monkeypatch):
    rules.change("titanic", deadline=db.parse_time("2026-12-10T00:00", "--deadline"))
    rules.change("titanic", open_code=True)
    assert not sees(None, ann_sub)  # before the deadline: still ann's
    lens = privacy.lens(privacy.ANONYMOUS, "titanic")
    assert "or the deadline opens all code at 2026-12-10 00:00 UTC" in lens.why_not(ann_sub)
    at(monkeypatch, "2026-12-10T00:00")
    assert sees(None, ann_sub) and sees("cat", ann_sub)
    rules.change("titanic", open_code=False)
    assert not sees(None, ann_sub)  # the organiser can close it again
