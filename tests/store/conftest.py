"""Titanic submissions for the rules and teams tests, and the injected clock."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from harness.competition import data, registry
from tests.conftest import harness_here, harness_here_json, write

CRASH = "def fit_predict(train, valid, test):\n    return 1 / 0\n"
SLOW_WOMEN = (
    "import time\n"
    "def fit_predict(train, valid, test):\n"
    "    time.sleep(2)\n"
    "    return (test['Sex'] == 'female').astype(int)\n"
)


def at(monkeypatch, when: str) -> None:
    """Every command from here on sees this time."""
    monkeypatch.setenv("HARNESS_NOW", when)


def predictions(folder: Path, name: str, rule) -> Path:
    """A Titanic predictions CSV: `rule(test)` for every passenger."""
    test = data.current(registry.get("titanic")).load("test")
    frame = pd.DataFrame({"PassengerId": test["PassengerId"], "Survived": rule(test)})
    path = folder / name
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def files(ready, tmp_path) -> dict[str, Path]:
    return {
        "women": predictions(tmp_path, "women.csv", lambda t: (t["Sex"] == "female").astype(int)),
        "zeros": predictions(tmp_path, "zeros.csv", lambda t: 0),
        "class": predictions(tmp_path, "class.csv", lambda t: (t["Pclass"] == 1).astype(int)),
        "empty": write(tmp_path / "empty.csv", "PassengerId,Survived\n"),
        "crash": write(tmp_path / "crash.py", CRASH),
        "slow": write(tmp_path / "slow.py", SLOW_WOMEN),
    }


here, here_json = harness_here, harness_here_json  # the command, in this process


def submit(path: Path, user: str) -> tuple[int, dict]:
    return here_json("submit", "titanic", str(path), "--user", user)


def submission_row(**over) -> dict:
    """A scored Titanic CSV submission's row for `submissions.insert_submission`."""
    base = dict(
        competition="titanic",
        competition_version=1,
        data_source="offline",
        data_fingerprint="f" * 64,
        user_name="ann",
        kind="csv",
        filename="p.csv",
        file_sha256="0" * 64,
        status="scored",
        metric="accuracy",
        higher_is_better=True,
        public_score=0.5,
        private_score=0.5,
    )
    return {**base, **over}
