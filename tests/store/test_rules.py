"""A competition's rules through the real `harness` command: the daily limit over a UTC
midnight, final picks, the deadline and the private reveal. Time is injected
(HARNESS_NOW), never slept."""

from __future__ import annotations

import json

from tests.conftest import started
from tests.store.conftest import at, here, here_json, submit


def test_rules_are_set_printed_and_every_change_kept(ready, monkeypatch):
    code, r = here_json("rules", "titanic")
    assert code == 0
    assert (r["daily_limit"], r["final"], r["deadline"], r["team_size"]) == (None, 2, None, 4)
    assert r["closed"] is False and r["history"] == []

    at(monkeypatch, "2026-12-01T09:00")
    code, r = here_json("rules", "titanic", "--daily-limit", "5", "--final", "1")
    assert code == 0 and (r["daily_limit"], r["final"]) == (5, 1)
    at(monkeypatch, "2026-12-01T10:00")
    # an offset is converted: every time in the store is UTC
    code, r = here_json("rules", "titanic", "--deadline", "2026-12-31T23:59+01:00")
    assert r["deadline"] == "2026-12-31 22:59:00" and r["daily_limit"] == 5
    at(monkeypatch, "2026-12-01T11:00")
    code, r = here_json("rules", "titanic", "--daily-limit", "none", "--team-size", "2")
    assert (r["daily_limit"], r["team_size"], r["final"]) == (None, 2, 1)
    assert [(h["changed_at"], h["changed"]) for h in r["history"]] == [
        ("2026-12-01 09:00:00", "daily_limit=5, final=1"),
        ("2026-12-01 10:00:00", "deadline=2026-12-31 22:59"),
        ("2026-12-01 11:00:00", "daily_limit=none, team_size=2"),
    ]
    text = here("rules", "titanic").stdout
    assert "2026-12-31 22:59 UTC" in text and "up to 2" in text and "changes:" in text

    for bad, word in (
        (["--daily-limit", "0"], "--daily-limit"),
        (["--daily-limit", "many"], "--daily-limit"),
        (["--final", "0"], "--final"),
        (["--deadline", "next friday"], "--deadline"),
    ):
        proc = here("rules", "titanic", *bad)
        assert proc.returncode == 2 and word in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and not proc.stdout
    assert len(here_json("rules", "titanic")[1]["history"]) == 3  # nothing written


def test_the_daily_limit_counts_scored_work_per_utc_day(files, monkeypatch):
    at(monkeypatch, "2026-12-03T20:00")
    assert here_json("rules", "titanic", "--daily-limit", "2")[0] == 0

    at(monkeypatch, "2026-12-03T23:50")
    code, first = submit(files["women"], "ann")
    assert (code, first["status"], first["remaining"], first["daily_limit"]) == (0, "scored", 1, 2)
    at(monkeypatch, "2026-12-03T23:51")
    code, crashed = submit(files["crash"], "ann")
    assert (code, crashed["status"], crashed["remaining"]) == (1, "failed", 1)  # not charged
    code, refused = submit(files["empty"], "ann")
    assert (code, refused["status"], refused["remaining"]) == (1, "rejected", 1)  # not charged
    code, other = submit(files["zeros"], "bob")  # bob's count is his own
    assert (other["status"], other["remaining"]) == ("scored", 1)
    at(monkeypatch, "2026-12-03T23:53")
    code, second = submit(files["class"], "ann")
    assert (code, second["status"], second["remaining"]) == (0, "scored", 0)

    at(monkeypatch, "2026-12-03T23:54")
    code, over = submit(files["women"], "ann")
    assert (code, over["status"], over["remaining"]) == (1, "rejected", 0)
    assert "daily limit reached" in over["error"] and "2 submissions a day" in over["error"]
    assert "next is possible at 2026-12-04 00:00 UTC, in 0 h 06 min" in over["error"]
    assert over["public_score"] is None
    assert here_json("show", str(over["id"]))[1]["status"] == "rejected"  # recorded, run nothing
    proc = here("submit", "titanic", str(files["women"]), "--user", "ann")
    assert proc.returncode == 1 and "0 of 2 left today" in proc.stdout

    at(monkeypatch, "2026-12-04T00:00:01")  # a new UTC day
    code, fresh = submit(files["women"], "ann")
    assert (code, fresh["status"], fresh["remaining"]) == (0, "scored", 1)
    assert (
        "1 of 2 left today"
        in here("submit", "titanic", str(files["zeros"]), "--user", "bob").stdout
    )


def test_two_submits_at_once_with_one_left_only_one_runs(files, monkeypatch):
    at(monkeypatch, "2026-12-03T12:00")
    assert here_json("rules", "titanic", "--daily-limit", "1")[0] == 0
    args = ("submit", "titanic", str(files["slow"]), "--user", "ann", "--json")
    procs = [started(*args) for _ in range(2)]  # at once
    outs = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    assert sorted(o["status"] for o in outs) == ["rejected", "scored"], outs
    assert [o["remaining"] for o in outs] == [0, 0]
    rejected = next(o for o in outs if o["status"] == "rejected")
    assert "daily limit reached" in rejected["error"] and rejected["wall_seconds"] is None
    assert len(here_json("leaderboard", "titanic")[1]) == 1


def test_deadline_hides_private_scores_then_picks_decide_the_private_board(files, monkeypatch):
    at(monkeypatch, "2026-12-05T10:00")
    here_json("rules", "titanic", "--deadline", "2026-12-10T12:00")
    _, women = submit(files["women"], "ann")
    _, klass = submit(files["class"], "ann")
    _, zeros = submit(files["zeros"], "bob")
    _, crash = submit(files["crash"], "bob")
    assert (
        women["private_score"] is None
        and here_json("show", str(women["id"]))[1]["private_score"] is None
    )
    proc = here("leaderboard", "titanic", "--private")
    assert proc.returncode == 1 and not proc.stdout
    assert proc.stderr.strip() == (
        "harness: error: titanic's private scores are hidden until the deadline, "
        "2026-12-10 12:00 UTC (or until the organiser reveals them)"
    )
    assert here("leaderboard", "titanic", "--private", "--json").returncode == 1

    # picks: one's own, scored, at most --final, one competition
    code, picked = here_json("select", str(klass["id"]))
    assert code == 0 and (picked["user"], picked["picks"], picked["final"]) == (
        "ann",
        [klass["id"]],
        2,
    )
    for ids, user, word in (
        ([women["id"]], "bob", "ann's, not bob's"),
        ([crash["id"]], None, "failed"),
        ([women["id"], klass["id"], women["id"] + 1000], None, "no submission"),
        ([9999], None, "no submission"),
    ):
        args = [str(i) for i in ids] + (["--user", user] if user else [])
        proc = here("select", *args)
        assert proc.returncode == 2 and word in proc.stderr, proc.stderr
    here_json("rules", "titanic", "--final", "1")
    proc = here("select", str(women["id"]), str(klass["id"]))
    assert proc.returncode == 2 and "allows 1 final pick, not 2" in proc.stderr

    at(monkeypatch, "2026-12-10T12:00")  # the deadline: closed, private scores shown
    code, late = submit(files["women"], "bob")
    assert code == 0 and late["status"] == "scored" and late["late"] is True
    board = here_json("leaderboard", "titanic")[1]
    assert [(r["user"], r["submission_id"]) for r in board] == [
        ("ann", women["id"]),
        ("bob", zeros["id"]),
    ]  # bob's late (better) entry stays off
    proc = here("select", str(women["id"]))
    assert proc.returncode == 1 and "final picks are locked" in proc.stderr

    shown = {i: here_json("show", str(i))[1] for i in (women["id"], klass["id"], zeros["id"])}
    assert all(isinstance(s["private_score"], float) for s in shown.values())
    code, private = here_json("leaderboard", "titanic", "--private")
    assert code == 0
    assert [
        {k: r[k] for k in ("rank", "user", "score", "public_rank", "picks")}
        for r in sorted(private, key=lambda r: r["user"])
    ] == [
        {
            "rank": next(r["rank"] for r in private if r["user"] == "ann"),
            "user": "ann",
            # her pick, not her best public one
            "score": shown[klass["id"]]["private_score"],
            "public_rank": 1,
            "picks": [klass["id"]],
        },
        {
            "rank": next(r["rank"] for r in private if r["user"] == "bob"),
            "user": "bob",
            "score": shown[zeros["id"]]["private_score"],  # no picks: his best public one
            "public_rank": 2,
            "picks": [zeros["id"]],
        },
    ]
    assert sorted(r["rank"] for r in private) == [1, 2]
    assert all(r["moved"] == r["public_rank"] - r["rank"] for r in private)
    text = here("leaderboard", "titanic", "--private").stdout
    assert "shake-up" in text and "(auto)" in text
    assert here_json("show", str(late["id"]))[1]["late"] is True


def test_caps_the_run_timeout_and_open_code_are_rules_too(ready, monkeypatch):
    code, r = here_json("rules", "titanic")
    assert (r["timeout_seconds"], r["max_queued"], r["max_stored_mb"], r["open_code"]) == (
        None,
        5,
        500,
        False,
    )
    assert "the server's (serve --timeout, default 900 s)" in here("rules", "titanic").stdout
    at(monkeypatch, "2026-12-01T09:00")
    code, r = here_json(
        "rules", "titanic", "--timeout", "120", "--max-queued", "2", "--max-stored-mb", "50",
        "--open-code",
    )  # fmt: skip
    assert code == 0
    assert (r["timeout_seconds"], r["max_queued"], r["max_stored_mb"], r["open_code"]) == (
        120,
        2,
        50,
        True,
    )
    text = here("rules", "titanic").stdout
    assert "120 s" in text and "2 uploads queued" in text and "50 MB" in text
    assert "public after the deadline" in text
    at(monkeypatch, "2026-12-01T10:00")
    code, r = here_json("rules", "titanic", "--timeout", "none", "--no-open-code")
    assert (r["timeout_seconds"], r["open_code"], r["max_queued"]) == (None, False, 2)
    assert r["history"][-1]["changed"] == "timeout_seconds=none, open_code=False"
    for bad, word in (
        (["--timeout", "0"], "--timeout"),
        (["--timeout", "soon"], "--timeout"),
        (["--max-queued", "0"], "--max-queued"),
        (["--max-stored-mb", "-1"], "--max-stored-mb"),
        (["--retroactive"], "--retroactive"),
    ):
        proc = here("rules", "titanic", *bad)
        assert proc.returncode == 2 and word in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and not proc.stdout
    assert len(here_json("rules", "titanic")[1]["history"]) == 2  # nothing written


def test_a_past_deadline_asks_for_retroactive_and_now_closes_now(files, monkeypatch):
    """Attack: a typo'd past --deadline made every earlier submission late and emptied
    the boards; now it is refused unless --retroactive says it is meant."""
    at(monkeypatch, "2026-12-05T10:00")
    _, women = submit(files["women"], "ann")
    at(monkeypatch, "2026-12-05T11:00")
    _, zeros = submit(files["zeros"], "bob")
    at(monkeypatch, "2026-12-05T12:00")
    proc = here("rules", "titanic", "--deadline", "2026-12-05T10:30")
    assert proc.returncode == 2 and not proc.stdout
    assert proc.stderr.strip().splitlines() == [
        f"harness: error: --deadline 2026-12-05 10:30 UTC is in the past: 1 submission made "
        f"since then ({zeros['id']}) would become late and leave the boards; --deadline now "
        "closes the competition now, --retroactive makes them late"
    ]
    code, r = here_json("rules", "titanic")
    assert r["deadline"] is None and r["history"] == []  # nothing changed
    # a past time before which nothing was made harms no one: no flag needed
    assert here_json("rules", "titanic", "--deadline", "2026-12-05T11:30")[0] == 0
    assert here_json("rules", "titanic", "--deadline", "none")[0] == 0

    code, r = here_json("rules", "titanic", "--deadline", "now")
    assert code == 0 and r["deadline"] == "2026-12-05 12:00:00" and r["closed"] is True
    board = here_json("leaderboard", "titanic")[1]
    assert {row["user"] for row in board} == {"ann", "bob"}  # both made before: on time
    code, private = here_json("leaderboard", "titanic", "--private")
    assert code == 0 and {row["user"] for row in private} == {"ann", "bob"}
    assert here_json("show", str(zeros["id"]))[1]["late"] is False

    code, r = here_json("rules", "titanic", "--deadline", "2026-12-05T10:30", "--retroactive")
    assert code == 0 and r["history"][-1]["changed"] == "deadline=2026-12-05 10:30 (retroactive)"
    assert [row["user"] for row in here_json("leaderboard", "titanic")[1]] == ["ann"]
    assert here_json("show", str(zeros["id"]))[1]["late"] is True
    assert here_json("show", str(women["id"]))[1]["late"] is False
