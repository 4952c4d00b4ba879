"""With --json, stdout is exactly one JSON object, for every competition and every path.

`cli_json` fails the test when stdout holds anything besides one JSON value (a report's
print, a warning, a progress line): diagnostics belong on stderr or in the run's log.
"""

import pytest

from harness.competition import registry
from tests.conftest import cli_json, write

# labels, not probabilities: the path on which a report has no raw predictions to plot
MODE = '''
def fit_predict(train, valid, test):
    """The most common target of train, for every test row."""
    return [train["{target}"].mode()[0]] * len(test)
'''


@pytest.mark.parametrize("name", sorted(registry.discover()))
def test_submit_and_show_print_one_json_object(name, ready, tmp_path):
    spec = registry.get(name).spec
    code = write(tmp_path / "mode.py", MODE.format(target=spec.train_target))
    status, row = cli_json("submit", name, str(code), "--user", "ann")
    assert status == 0 and row["status"] == "scored", row
    assert row["competition"] == name and isinstance(row["public_score"], float)
    status, shown = cli_json("show", str(row["id"]))
    assert status == 0 and shown["id"] == row["id"] and shown["public_score"] == row["public_score"]
    # hidden until the deadline or a reveal: null, in both
    assert shown["private_score"] is None and row["private_score"] is None
    assert row["late"] is False and shown["late"] is False
    assert row["remaining"] is None and row["daily_limit"] is None  # no limit by default


def test_every_failure_path_prints_one_json_object(ready, tmp_path):
    header_only = write(tmp_path / "empty.csv", "PassengerId,Survived\n")
    status, row = cli_json("submit", "titanic", str(header_only), "--user", "ann")
    assert status == 1 and row["status"] == "rejected" and "empty.csv" in row["error"]
    crash = write(tmp_path / "crash.py", "def fit_predict(train, valid, test):\n    1 / 0\n")
    status, row = cli_json("submit", "titanic", str(crash), "--user", "ann")
    assert status == 1 and row["status"] == "failed" and "ZeroDivisionError" in row["error"]
    status, board = cli_json("leaderboard", "titanic")
    assert status == 0 and board == []
