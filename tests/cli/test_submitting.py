"""`harness submit` on the host: its JSON, exit codes and usage errors; submits at once."""

import json

from tests.conftest import cli, cli_json, started, write

WOMEN = "def fit_predict(train, valid, test):\n    return (test['Sex'] == 'female').astype(int)\n"
SUBMIT_KEYS = {"id", "competition", "status", "metric", "public_score", "error"}


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
