"""Teams through the real `harness` command: Kaggle's merge rule refused and allowed, one
team per member, the team's shared limit, board row and picks. Time is injected."""

from __future__ import annotations

from tests.store.conftest import at, here, here_json, submit


def team(*args: str):
    return here_json("team", *args, "--competition", "titanic")


def test_teams_merge_under_kaggles_rule_and_share_limit_board_and_picks(files, monkeypatch):
    at(monkeypatch, "2026-12-01T09:00")
    here_json("rules", "titanic", "--daily-limit", "1", "--team-size", "2")
    _, ann = submit(files["women"], "ann")
    _, bob = submit(files["zeros"], "bob")

    # day 1: two submissions together, over the one a team could have made so far
    proc = here("team", "create", "duo", "--members", "ann,bob", "--competition", "titanic")
    assert proc.returncode == 1 and not proc.stdout
    assert proc.stderr.strip() == (
        "harness: error: team 'duo' on titanic: together ann, bob made 2 submissions, more "
        "than the 1 a team could have made in the 1 day since titanic began (1 a day; "
        "Kaggle's merge rule)"
    )
    assert here_json("team", "list")[1] == []  # nothing written

    at(monkeypatch, "2026-12-02T09:00")  # day 2: two allowed
    code, made = team("create", "duo", "--members", "ann,bob")
    assert code == 0 and made == {"team": "duo", "competitions": {"titanic": ["ann", "bob"]}}
    board = here_json("leaderboard", "titanic")[1]
    assert [(r["user"], r["team"], r["members"], r["entries"]) for r in board] == [
        ("duo", True, ["ann", "bob"], 2)
    ]
    assert board[0]["submission_id"] == ann["id"]  # the team's best

    # one limit for the team: ann's submission uses bob's too
    code, first = submit(files["class"], "ann")
    assert (code, first["status"], first["remaining"]) == (0, "scored", 0)
    code, second = submit(files["class"], "bob")
    assert (code, second["status"]) == (1, "rejected")
    assert "per team and team 'duo' made 1 today" in second["error"]

    # a member is in one team per competition; sizes and names are checked
    for args, word, exit_code in (
        (["create", "pair", "--members", "cat,ann"], "ann is already in team 'duo'", 1),
        (["add", "duo", "cat"], "over titanic's team size of 2", 1),
        (["create", "ann", "--members", "cat"], "a member's name", 2),
        (["add", "trio", "cat"], "no team called 'trio'", 2),
        (["remove", "duo", "cat"], "cat is not in team 'duo'", 2),
    ):
        proc = here("team", *args, "--competition", "titanic")
        assert proc.returncode == exit_code and word in proc.stderr, (args, proc.stderr)

    # picks are the team's: bob picks ann's submission
    code, picked = here_json("select", str(first["id"]), "--user", "bob")
    assert code == 0 and (picked["user"], picked["team"]) == ("duo", True)

    # bob leaves: his submissions go with him, back to a row of his own
    code, left = team("remove", "duo", "bob")
    assert code == 0 and left["competitions"] == {"titanic": ["ann"]}
    board = here_json("leaderboard", "titanic")[1]
    assert sorted((r["user"], r["members"]) for r in board) == [
        ("bob", ["bob"]),
        ("duo", ["ann"]),
    ]
    rows = here_json("team", "list")[1]
    assert [(r["competition"], r["team"], r["members"]) for r in rows] == [
        ("titanic", "duo", ["ann"])
    ]

    # a team of the whole course, on every competition still open; none once closed
    assert here_json("rules", "titanic", "--deadline", "now")[0] == 0
    code, course = here_json("team", "create", "study", "--members", "cat,dan")
    assert code == 0 and "titanic" not in course["competitions"]
    assert set(course["competitions"]) == {"mnist", "movielens", "pets", "rossmann"}
    proc = here("team", "add", "duo", "eve", "--competition", "titanic")
    assert proc.returncode == 1 and "teams can no longer change" in proc.stderr
