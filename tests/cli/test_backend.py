"""Local or server, chosen once: logged in, what only the host does is refused in one
line before anything is asked of the server or written here (the server's own answers:
tests/server/ and tests/cli/test_members_machine.py)."""

from __future__ import annotations

import json

import pytest

from harness.cli import backend
from tests.conftest import harness_here

NOWHERE = "http://127.0.0.1:9"  # nothing listens: a refusal that asked the server would say so


def test_the_login_picks_the_server_else_this_machine(home, monkeypatch):
    assert type(backend.choose()) is backend.Local
    monkeypatch.setenv("HARNESS_SERVER", NOWHERE)
    where = backend.choose()
    assert type(where) is backend.Remote and where.url == NOWHERE


@pytest.mark.parametrize(
    "args, said",
    [
        (["team", "list"], "teams are formed by the organiser, on the host (harness team there)"),
        (
            ["reproduce", "5"],
            f"reproduce re-runs on the host that recorded the run; you are logged in to "
            f"{NOWHERE}: ask the organiser (harness reproduce 5 there)",
        ),
        (["weights", "list"], "pretrained weights are the host's: harness weights there"),
        (
            ["rules", "titanic", "--daily-limit", "3"],
            "the organiser sets the rules, on the host (harness rules there)",
        ),
        (["select", "1", "--user", "bob"], "--user is for the host; the server picks for your"),
        (["data", "fetch", "titanic", "--source", "offline"], "--source is for the host"),
        (["data", "path", "titanic"], f"titanic's files are not fetched from {NOWHERE} yet"),
    ],
    ids=["team", "reproduce", "weights", "rules", "select", "data-fetch", "data-path"],
)
def test_a_members_machine_refuses_the_hosts_work_in_one_line(home, monkeypatch, args, said):
    monkeypatch.setenv("HARNESS_SERVER", NOWHERE)
    proc = harness_here(*args)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(f"harness: error: {said}") and proc.stderr.count("\n") == 1
    if args[0] != "data":  # data fetch|path print a folder, no JSON
        out = json.loads(harness_here(*args, "--json").stdout)
        assert out["exit_code"] == 2 and out["error"].startswith(said)
    assert not (home / "harness.duckdb").exists()
