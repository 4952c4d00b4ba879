"""Quotas and fairness on the group's server, tried as a hostile member would: a flood of
uploads, a run that sleeps, uploads that fill the host's disk. Each attack must leave the
queue serving the others, nothing of the refused files on disk, and all of it recorded."""

from __future__ import annotations

import hashlib

from tests.conftest import cli_json
from tests.server.conftest import SLOW, WOMEN, member

TIMEOUT = 4  # seconds: the rules' timeout for titanic's runs in this test


def post(server, token: str, name: str, content: bytes):
    return server.api(
        "POST", "/api/competitions/titanic/submissions", token, files={"file": (name, content)}
    )


def test_a_flooding_member_is_capped_the_others_served_and_a_sleeping_run_stopped(serve, ready):
    alice, bob = member(ready, "alice"), member(ready, "bob")
    code, _ = cli_json(
        "rules", "titanic", "--max-queued", "2", "--timeout", str(TIMEOUT), home=ready
    )
    assert code == 0
    server = serve("--workers", "1", "--timeout", "600")  # the rules' own timeout wins
    sleeper = SLOW.format(seconds=600).encode()

    # the flood: a run that sleeps, then five more; the cap (2 queued or running) holds
    answers = [post(server, alice, "sleep.py", sleeper)]
    answers += [post(server, alice, f"w{i}.py", WOMEN.encode()) for i in range(5)]
    assert [r.status_code for r in answers] == [202, 202, 429, 429, 429, 429]
    mine = [r.json()["id"] for r in answers[:2]]
    for r in answers[2:]:
        got = r.json()
        assert got["status"] == "rejected" and got["error"] == (
            "queue cap reached: titanic allows 2 uploads queued or running per member and "
            "alice has 2; upload again once one of them has run"
        )
    assert len(list((ready / "uploads").iterdir())) == 2  # the refused ones never landed
    refused = server.api("GET", f"/api/submissions/{answers[2].json()['id']}/record", alice)
    kept = refused.json()
    assert (kept["status"], kept["content"], kept["upload_bytes"]) == (
        "rejected",
        None,
        len(WOMEN.encode()),
    )
    assert kept["file_sha256"] == hashlib.sha256(WOMEN.encode()).hexdigest()

    # another member still gets their turn before alice's second upload
    theirs = server.upload(bob, "women.py", WOMEN.encode())["id"]
    assert server.status(bob, theirs)["place"] < server.status(alice, mine[1])["place"]
    stopped = server.wait(alice, mine[0], limit=60)
    assert stopped["status"] == "failed"
    assert stopped["error"].startswith(f"timed out after {TIMEOUT} s"), stopped
    assert server.wait(bob, theirs)["status"] == "scored"
    assert server.wait(alice, mine[1])["status"] == "scored"
    shown = [cli_json("show", str(i), home=ready)[1] for i in (mine[0], theirs, mine[1])]
    assert [s["created_at"] for s in shown] == sorted(s["created_at"] for s in shown)
    assert shown[0]["timeout_seconds"] == TIMEOUT and shown[0]["wall_seconds"] < 60

    # the disk: what the host keeps of alice's uploads is capped too
    assert cli_json("rules", "titanic", "--max-stored-mb", "1", home=ready)[0] == 0
    padded = (WOMEN + "#" * 700_000 + "\n").encode()
    big = server.upload(alice, "big.py", padded)["id"]
    over = post(server, alice, "big2.py", padded)
    assert over.status_code == 429
    assert over.json()["error"].startswith(
        "storage cap reached: titanic keeps at most 1 MB of a member's uploads and alice has "
    )
    assert server.status(alice, big)["status"] in ("queued", "running", "scored")
    assert len(list((ready / "uploads").iterdir())) <= 1  # big.py's until it has run
