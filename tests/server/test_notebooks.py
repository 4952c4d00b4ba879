"""A member's notebook through the group's server: uploaded from their machine (the real
`harness` command with their token) or over HTTP, run as on Kaggle in the host's sandbox."""

from __future__ import annotations

from tests.conftest import cli_json
from tests.run.test_notebooks import WOMEN, make
from tests.server.conftest import login, member


def test_a_member_submits_a_notebook_and_picks_its_answer(serve, ready, tmp_path):
    token = member(ready, "ann")
    server = serve()
    laptop = tmp_path / "laptop"
    assert login(laptop, server.url, token).returncode == 0
    nb = make(
        tmp_path / "two.ipynb",
        "import pandas as pd\ntst = pd.read_csv('../input/titanic/test.csv')",
        "tst.assign(Survived=0)[['PassengerId', 'Survived']].to_csv('all_die.csv', index=False)",
        WOMEN.format(name="women.csv"),
    )
    code, out = cli_json("submit", "titanic", str(nb), home=laptop)
    assert code == 1 and out["status"] == "failed" and out["entry"] == "notebook"
    assert "all_die.csv, women.csv; choose one with --output NAME" in out["error"]
    code, out = cli_json("submit", "titanic", str(nb), "--output", "women.csv", home=laptop)
    assert code == 0 and out["status"] == "scored" and out["user"] == "ann", out
    shown_code, shown = cli_json("show", str(out["id"]), home=laptop)
    assert shown_code == 0 and shown["output"] == "women.csv"
    # over HTTP, a bad answer name is refused before anything is queued
    r = server.api(
        "POST",
        "/api/competitions/titanic/submissions",
        token,
        files={"file": ("two.ipynb", nb.read_bytes())},
        data={"output": "/etc/passwd"},
    )
    assert r.status_code == 400 and "is not a CSV's name" in r.json()["error"]
