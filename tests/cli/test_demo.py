"""The README's demo: the board served first, every Titanic baseline trained, scored and
landing on it; `--no-serve` for scripts and CI."""

import os
import signal
import socket
import subprocess
import sys
import time

from harness.cli.demo_board import answers
from harness.server import app
from tests.conftest import cli_json, harness_here


def terminal() -> None:
    """A Ctrl-C interrupts the child as at a terminal, also where this test runs as a
    background job (which starts its children with SIGINT ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_the_demo_serves_the_board_fills_it_and_serves_until_ctrl_c(ready):
    demo = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "demo", "titanic"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HARNESS_HOME": str(ready)},
        preexec_fn=terminal,
    )
    try:
        first = demo.stderr.readline()
        assert first.startswith("[demo] the board: http://127.0.0.1:"), first
        url = first.split()[3]
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        assert answers(port)  # it answers before the link is printed
        lines = []
        while not (line := demo.stderr.readline()).endswith("(serving until Ctrl-C)\n"):
            assert line, "".join(lines)  # the demo ended without serving on
            lines.append(line)
        runs = [x for x in lines if x.startswith("[demo] titanic 1/1, baseline ")]
        assert len(runs) == 4 and all("public accuracy" in x for x in runs), lines
        assert all(" s elapsed, about " in x and x.endswith(" s left\n") for x in runs)
        assert "train_loss" not in "".join(lines)  # the epochs are in the runs' logs
        assert answers(port)
        demo.send_signal(signal.SIGINT)  # Ctrl-C
        out, rest = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    assert demo.returncode == 0, rest
    assert "[demo] stopping the board" in rest
    assert not answers(port), "the board outlived the demo"
    # the short boards: rank, user, score
    assert "titanic: public accuracy (higher is better)\nrank  user" in out
    code, board = cli_json("leaderboard", "titanic", home=ready)
    scores = {r["user"]: r["score"] for r in board}
    assert set(scores) == {"gender_rule", "nn_from_scratch", "fastai_tabular", "random_forest"}
    assert all(r["is_baseline"] for r in board)
    # plausible: the gender rule near Kaggle's 0.766, nothing absurd
    assert 0.72 < scores["gender_rule"] < 0.82
    assert all(0.72 < s < 0.9 for s in scores.values())

    # again, as a script runs it: nothing served, nothing trained twice, today's full boards
    again = harness_here("demo", "titanic", "--no-serve", home=ready)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("already on the board (submission") == 4
    assert "4 baseline(s) of 1 competition(s), 4 on the board already, about 0 s" in again.stderr
    assert "[demo] the board:" not in again.stderr
    assert "submission_id" in again.stdout  # print_board's whole table

    # another server holds this home: one line, and the demo goes on without its own board
    held = app.hold_home()
    try:
        beside = harness_here("demo", "titanic", home=ready)
    finally:
        os.close(held)
    assert beside.returncode == 0, beside.stderr
    said = beside.stderr.splitlines()
    assert said[0].startswith("[demo] the board did not start: "), said
    assert f"another harness serve (pid {os.getpid()}) serves" in said[0]
    assert said[0].endswith("; the demo goes on without it")
    assert beside.stderr.count("already on the board (submission") == 4


def test_a_taken_port_is_one_line_before_any_work(ready):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        t0 = time.monotonic()
        proc = harness_here("demo", "titanic", "--port", str(port), home=ready)
    assert proc.returncode == 2
    assert proc.stderr == (
        f"harness: error: port {port} of 127.0.0.1 cannot serve the board (Address already "
        "in use): pass another --port, or leave --port out for a free one\n"
    )
    assert time.monotonic() - t0 < 10 and not (ready / "harness.duckdb").exists()


def test_the_default_demo_is_every_competitions_quick_baselines_within_its_budget():
    from harness.cli import demo
    from harness.competition import registry

    quick = {n: demo.plan(n, everything=False) for n in registry.discover()}
    every = {n: demo.plan(n, everything=True) for n in registry.discover()}
    assert all(quick.values())  # every board gets something
    for name, steps in every.items():  # --all: each baseline once
        assert sorted(s.path.name for s in steps) == [p.name for p in demo.baselines(name)]
    # the expected training time leaves room for the data and the workers' start-up
    assert sum(s.seconds for steps in quick.values() for s in steps) <= 480
    assert "resnet34.py" in [s.path.name for s in quick["pets"]]  # lesson 1's model
