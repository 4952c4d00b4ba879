"""The host's files as another user of the machine finds them: the home, the store and
the hidden labels are the harness's user's only (they were 0755/0644), also in a home an
older harness left open, and a sandboxed run still works inside the closed home."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.conftest import write
from tests.server.conftest import WOMEN
from tests.store.conftest import here, here_json


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_home_the_store_and_the_labels_are_closed_to_other_users(home, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_SANDBOX", "require")  # the run goes through the sandbox
    home.chmod(0o755)
    assert here("data", "fetch", "titanic").returncode == 0
    labels = home / "data" / "titanic" / "current" / "hidden" / "test_labels.parquet"
    assert (mode(home), mode(labels.parent), mode(labels)) == (0o700, 0o700, 0o600)
    assert mode(home / "data" / "titanic" / "raw") == 0o700  # its train.csv has them too
    code, run = here_json(
        "submit", "titanic", str(write(tmp_path / "w.py", WOMEN)), "--user", "ann"
    )
    assert code == 0 and run["status"] == "scored" and run["sandboxed"] is True, run
    store = home / "harness.duckdb"
    wal = store.with_name(store.name + ".wal")
    assert mode(store) == 0o600 and (not wal.exists() or mode(wal) == 0o600)

    # what an older harness left open, the next commands close
    for path, was in ((home, 0o755), (store, 0o644), (labels.parent, 0o755), (labels, 0o644)):
        path.chmod(was)
    assert here("data", "fetch", "titanic").returncode == 0  # the same data: its folder kept
    assert here_json("rules", "titanic", "--final", "1")[0] == 0  # a command that writes
    assert (mode(home), mode(store), mode(labels.parent), mode(labels)) == (
        0o700,
        0o600,
        0o700,
        0o600,
    )
