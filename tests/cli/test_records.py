"""`harness show` and `reproduce` of a submission, after its human summary and board."""

from tests.cli.test_submitting import WOMEN
from tests.conftest import harness_here, harness_here_json, write


def test_human_summary_leaderboard_show_and_reproduce(ready, tmp_path):
    w = write(tmp_path / "w.py", '"""Women first."""\n' + WOMEN)
    proc = harness_here("submit", "titanic", str(w), "--user", "ann", home=ready)
    assert proc.returncode == 0
    assert "scored" in proc.stdout and "rank 1 of 1 on the public board" in proc.stdout
    harness_here(
        "submit",
        "titanic",
        str(write(tmp_path / "z.py", "def fit_predict(a, b, test):\n    return [0] * len(test)\n")),
        "--user",
        "bob",
        home=ready,
    )

    code, board = harness_here_json("leaderboard", "titanic", home=ready)
    assert code == 0
    assert [(r["rank"], r["user"], r["entries"]) for r in board] == [(1, "ann", 1), (2, "bob", 1)]
    assert {"rank", "user", "score", "submission_id", "entries"} <= set(board[0])
    text = harness_here("leaderboard", "titanic", home=ready).stdout
    assert "ann" in text and "bob" in text and "higher is better" in text

    code, shown = harness_here_json("show", str(board[0]["submission_id"]), home=ready)
    assert code == 0 and shown["docstring"] == "Women first." and shown["user"] == "ann"
    assert shown["private_score"] is None and shown["content"].startswith('"""Women first')
    human = harness_here("show", str(board[0]["submission_id"]), home=ready).stdout
    assert "docstring:" in human
    fields = dict(
        line.split(None, 1) for line in human.splitlines() if len(line.split(None, 1)) == 2
    )
    assert fields["timeout_seconds"] == "3600" and fields["is_baseline"] == "no"
    assert fields["public_score"] == f"{board[0]['score']:.5f}"  # a score keeps its digits
    assert harness_here("show", "999", home=ready).returncode == 2

    code, rep = harness_here_json("reproduce", str(board[0]["submission_id"]), home=ready)
    assert code == 0 and rep["identical"] is True
