"""Reads the server asks on every call (a token, a board) are remembered until the store
is written, by this process or another: a withdrawn token stops working at once and a
new score shows on the next read."""

from __future__ import annotations

import subprocess
import sys
import time

from harness.competition import registry
from harness.store import db, leaderboards, members
from tests.conftest import cli

HOLD = (
    "import sys, duckdb\n"
    "con = duckdb.connect(sys.argv[1])  # read-write: no other process opens the file\n"
    "print('held', flush=True)\n"
    "sys.stdin.read()\n"
)


def test_reads_are_remembered_until_another_process_writes(ready, files, monkeypatch):
    monkeypatch.setattr(db, "LOCK_WAIT_SECONDS", 2.0)  # a read that went to the store fails
    comp = registry.get("titanic")
    token = members.add("ann")
    assert members.who(token) == "ann" and leaderboards.ranking(comp)[1] == []

    # another process holds the store, so no read gets in: the same reads are answered
    # from memory, a wrong token included
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(ready / "harness.duckdb")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        t0 = time.monotonic()
        assert members.who(token) == "ann" and members.who("hns_" + "A" * 43) is None
        assert leaderboards.ranking(comp)[1] == []
        assert time.monotonic() - t0 < 0.5
    finally:
        holder.communicate("", timeout=30)

    # another process scores a submission, then withdraws ann's token: the next reads
    # here see both
    assert cli("submit", "titanic", str(files["women"]), "--user", "bob").returncode == 0
    rows = leaderboards.ranking(comp)[1]
    assert [(r["rank"], r["user"], r["members"]) for r in rows] == [(1, "bob", ["bob"])]
    rows[0]["members"].append("eve")  # each caller's rows are its own
    assert leaderboards.ranking(comp)[1][0]["members"] == ["bob"]
    assert cli("member", "token", "ann").returncode == 0
    assert members.who(token) is None

    # a write in this process is seen as at once
    cy = members.add("cy")
    assert members.who(cy) == "cy"
    members.remove("cy")
    assert members.who(cy) is None
