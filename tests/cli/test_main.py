"""The `harness` command as users and our acceptance checks call it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import cli, cli_json, started, write

WOMEN = "def fit_predict(train, valid, test):\n    return (test['Sex'] == 'female').astype(int)\n"
SUBMIT_KEYS = {"id", "competition", "status", "metric", "public_score", "error"}


def test_list_names_every_competition(home):
    code, rows = cli_json("list", home=home)
    assert code == 0
    titanic = next(r for r in rows if r["name"] == "titanic")
    assert titanic["metric"] == "accuracy" and titanic["better"] == "higher"


def test_data_path_prints_the_kaggle_style_files(ready):
    proc = cli("data", "path", "titanic", home=ready)
    assert proc.returncode == 0
    folder = Path(proc.stdout.strip())
    assert sorted(p.name for p in folder.iterdir()) == [
        "sample_submission.csv",
        "test.csv",
        "train.csv",
    ]
    assert list(pd.read_csv(folder / "sample_submission.csv").columns) == [
        "PassengerId",
        "Survived",
    ]


def test_submit_json_scored_failed_rejected_and_usage(ready, tmp_path):
    code, out = cli_json(
        "submit",
        "titanic",
        str(write(tmp_path / "w.py", WOMEN)),
        "--user",
        "ann",
        "--message",
        "hi",
        home=ready,
    )
    assert code == 0 and SUBMIT_KEYS <= set(out)
    assert (out["status"], out["competition"], out["metric"], out["error"]) == (
        "scored",
        "titanic",
        "accuracy",
        None,
    )
    assert isinstance(out["public_score"], float) and out["private_score"] is None
    assert out["warnings"] == []  # a list, empty when the run has nothing to say

    code, out = cli_json(
        "submit",
        "titanic",
        str(write(tmp_path / "x.py", "def fit_predict(a, b, c):\n    1/0\n")),
        "--user",
        "bob",
        home=ready,
    )
    assert code == 1 and out["status"] == "failed" and out["public_score"] is None
    assert out["error"].startswith("ZeroDivisionError: division by zero (x.py, line 2")

    code, out = cli_json(
        "submit",
        "titanic",
        str(write(tmp_path / "p.csv", "PassengerId,Survived\n")),
        "--user",
        "bob",
        home=ready,
    )
    assert code == 1 and out["status"] == "rejected"
    assert out["error"].startswith("p.csv")

    for args in (["titanc", str(tmp_path / "w.py")], ["titanic", str(tmp_path / "nope.py")]):
        proc = cli("submit", *args, "--user", "bob", "--json", home=ready)
        # a script reads stdout: the error as its one JSON object, the line on stderr
        assert proc.returncode == 2 and "harness: error:" in proc.stderr
        assert json.loads(proc.stdout) == {
            "error": proc.stderr.strip().removeprefix("harness: error: "),
            "exit_code": 2,
        }
    assert cli("submit", "titanic", str(tmp_path / "w.py"), home=ready).returncode == 2  # no --user


def test_human_summary_leaderboard_show_and_reproduce(ready, tmp_path):
    w = write(tmp_path / "w.py", '"""Women first."""\n' + WOMEN)
    proc = cli("submit", "titanic", str(w), "--user", "ann", home=ready)
    assert proc.returncode == 0
    assert "scored" in proc.stdout and "rank 1 of 1 on the public board" in proc.stdout
    cli(
        "submit",
        "titanic",
        str(write(tmp_path / "z.py", "def fit_predict(a, b, test):\n    return [0] * len(test)\n")),
        "--user",
        "bob",
        home=ready,
    )

    code, board = cli_json("leaderboard", "titanic", home=ready)
    assert code == 0
    assert [(r["rank"], r["user"], r["entries"]) for r in board] == [(1, "ann", 1), (2, "bob", 1)]
    assert {"rank", "user", "score", "submission_id", "entries"} <= set(board[0])
    text = cli("leaderboard", "titanic", home=ready).stdout
    assert "ann" in text and "bob" in text and "higher is better" in text

    code, shown = cli_json("show", str(board[0]["submission_id"]), home=ready)
    assert code == 0 and shown["docstring"] == "Women first." and shown["user"] == "ann"
    assert shown["private_score"] is None and shown["content"].startswith('"""Women first')
    assert "docstring:" in cli("show", str(board[0]["submission_id"]), home=ready).stdout
    assert cli("show", "999", home=ready).returncode == 2

    code, rep = cli_json("reproduce", str(board[0]["submission_id"]), home=ready)
    assert code == 0 and rep["identical"] is True


def test_four_concurrent_submits_give_four_rows(ready, tmp_path):
    w = write(tmp_path / "w.py", WOMEN)
    procs = [
        started("submit", "titanic", str(w), "--user", f"user{i}", "--json", home=ready)
        for i in range(4)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [o[1][-2000:] for o in outs]
    code, board = cli_json("leaderboard", "titanic", home=ready)
    assert sorted(r["user"] for r in board) == [f"user{i}" for i in range(4)]
    assert len({r["submission_id"] for r in board}) == 4


def serve_says(home: Path, *args: str, env: dict[str, str]) -> tuple[int | None, list[str]]:
    """`harness serve`'s exit code (None: it was serving, and was stopped) and its first
    two stderr lines: the address, then the sandbox mode."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "serve", "--port", "0", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HARNESS_HOME": str(home), **env},
        start_new_session=True,  # its own process group, so nothing outlives the test
    )
    try:
        lines = [proc.stderr.readline().rstrip("\n") for _ in range(2)]
        try:
            return proc.wait(timeout=3), lines
        except subprocess.TimeoutExpired:
            return None, lines
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
        proc.stderr.close()


def test_serve_refuses_to_run_members_code_without_a_sandbox(home):
    code, lines = serve_says(home, env={"HARNESS_SANDBOX": "off"})
    assert code == 1
    assert lines[0] == (
        "harness: error: no sandbox for members' code (HARNESS_SANDBOX=off): install "
        "bubblewrap (README, Sandbox) or pass --no-sandbox to serve the group without one"
    )
    code, lines = serve_says(home, "--no-sandbox", env={"HARNESS_SANDBOX": "off"})
    assert code is None, lines  # serving
    assert lines[1] == (
        "harness: warning: members' code runs NOT sandboxed (HARNESS_SANDBOX=off; --no-sandbox)"
    )


def test_serve_says_which_sandbox_mode_is_in_force(home):
    from harness.run import sandbox

    sb, why = sandbox.find()
    if sb is None:
        pytest.skip(f"no sandbox on this host: {why}")
    code, lines = serve_says(home, env={"HARNESS_SANDBOX": "auto"})
    assert code is None, lines
    assert lines[1] == f"harness: members' code runs sandboxed: bubblewrap, {sb.mode} mode"
