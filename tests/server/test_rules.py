"""The competition's rules through the group's server: the daily limit (also with two
uploads at once), final picks with only the token's own, the private board's reveal."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.conftest import harness_here as here
from tests.conftest import harness_here_json as here_json
from tests.conftest import write
from tests.server.conftest import WOMEN, login, member


def test_the_server_enforces_the_limit_picks_and_the_private_reveal(
    serve, ready, tmp_path, monkeypatch
):
    monkeypatch.setenv("HARNESS_NOW", "2026-12-05T10:00")  # the host, its server, the members
    alice, bob = member(ready, "alice"), member(ready, "bob")
    code, _ = here_json("rules", "titanic", "--daily-limit", "1", home=ready)
    assert code == 0
    server = serve()

    # two uploads at once with one left: one is queued, the other rejected (429)
    def upload(i: int):
        return server.api(
            "POST",
            "/api/competitions/titanic/submissions",
            alice,
            files={"file": (f"women{i}.py", WOMEN.encode())},
        )

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(upload, range(2)))
    assert sorted(r.status_code for r in answers) == [202, 429], [r.text for r in answers]
    queued = next(r.json() for r in answers if r.status_code == 202)
    refused = next(r.json() for r in answers if r.status_code == 429)
    assert (queued["remaining"], queued["daily_limit"]) == (0, 1)
    assert refused["status"] == "rejected" and refused["remaining"] == 0
    assert refused["error"].startswith("daily limit reached: titanic allows 1 submission a day")
    assert server.wait(alice, queued["id"])["status"] == "scored"
    assert server.status(alice, refused["id"])["status"] == "rejected"  # recorded, never run

    laptop, other = tmp_path / "laptop", tmp_path / "other"
    assert login(laptop, server.url, alice).returncode == 0
    assert login(other, server.url, bob).returncode == 0
    code, mine = here_json("rules", "titanic", home=laptop)
    assert code == 0 and (mine["user"], mine["remaining"], mine["picks"]) == ("alice", 0, [])
    assert "0 of 1 left today" in here("rules", "titanic", home=laptop).stdout
    again = write(tmp_path / "again.py", WOMEN)
    code, over = here_json("submit", "titanic", str(again), home=laptop)
    assert code == 1 and over["status"] == "rejected" and over["remaining"] == 0
    setting = here("rules", "titanic", "--daily-limit", "5", home=laptop)
    assert setting.returncode == 2 and "organiser" in setting.stderr
    code, theirs = here_json("submit", "titanic", str(again), home=other)
    assert code == 0 and theirs["status"] == "scored" and theirs["remaining"] == 0

    # final picks: only the token's own
    code, picked = here_json("select", str(queued["id"]), home=laptop)
    assert code == 0 and picked == {
        "competition": "titanic",
        "user": "alice",
        "team": False,
        "picks": [queued["id"]],
        "final": 2,
    }
    stolen = here("select", str(theirs["id"]), home=laptop)
    assert stolen.returncode == 2 and "bob's, not alice's" in stolen.stderr
    assert here_json("rules", "titanic", home=laptop)[1]["picks"] == [queued["id"]]
    assert here_json("rules", "titanic", home=other)[1]["picks"] == []

    # the private board: hidden until the organiser reveals it (no deadline here)
    hidden = here("leaderboard", "titanic", "--private", home=laptop)
    assert hidden.returncode == 1 and "until the organiser reveals them" in hidden.stderr
    assert here_json("show", str(queued["id"]), home=laptop)[1]["private_score"] is None
    assert here("reveal", "titanic", home=ready).returncode == 0
    code, board = here_json("leaderboard", "titanic", "--private", home=laptop)
    assert code == 0 and {r["user"]: r["picks"] for r in board} == {
        "alice": [queued["id"]],
        "bob": [theirs["id"]],
    }
    assert [r["rank"] for r in board] == [1, 2] and {r["public_rank"] for r in board} == {1, 2}
    shown = here_json("show", str(queued["id"]), home=laptop)[1]
    assert shown["private_score"] == next(r["score"] for r in board if r["user"] == "alice")
