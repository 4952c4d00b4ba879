"""One harness home for the leaderboard tests, filled by real `harness submit` runs.

Titanic only (offline data), in two rounds of concurrent submits:
- ann: nobody survives (round 1), then the gender rule (round 2): her best moves, and it
  ties the course baseline's gender rule (round 1), which ranks first as the earlier;
- bob: two epochs of fastai's tabular_learner (epochs, diagnostics), then a failure;
- course: the gender-rule baseline; cat: a rejected CSV;
- a user called `<script>alert(1)</script>`, whose message holds markdown too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from harness.competition.artifacts import save_json
from harness.paths import REPO_ROOT, submissions_dir
from harness.store import db
from tests.conftest import write

APP = REPO_ROOT / "leaderboard" / "app.py"  # the board's entry script, which AppTest runs
HOSTILE = "<script>alert(1)</script>"
ZEROS = '"""Nobody survives."""\ndef fit_predict(train, valid, test):\n    return [0] * len(test)\n'
WOMEN = (
    '"""Women first: *the* **gender** rule."""\n'
    'CONFIG = {"rule": "sex"}\n\n\n'
    "def fit_predict(train, valid, test):\n"
    "    return (test['Sex'] == 'female').astype(int)\n"
)
TINY_FASTAI = '''"""Two epochs of fastai's tabular_learner."""
from fastai.tabular.all import *

CONFIG = {"arch": "tabular 10-10", "epochs": 2, "lr": 0.03}


def train(dls):
    learn = tabular_learner(dls, metrics=accuracy, layers=[10, 10])
    learn.fit(CONFIG["epochs"], lr=CONFIG["lr"])
    return learn
'''
BROKEN = "def fit_predict(train, valid, test):\n    return 1 / 0\n"


def harness(home: Path, *args: str, **env: str) -> subprocess.Popen:
    """Starts the real `harness` command on `home`."""
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HARNESS_HOME": str(home), **env},
    )


def done(proc: subprocess.Popen) -> dict | str:
    """Waits for a command; its JSON output when it printed one, else its stdout."""
    out, errs = proc.communicate(timeout=600)
    assert proc.returncode in (0, 1), errs[-3000:]
    return json.loads(out) if out.startswith("{") else out


@pytest.fixture(scope="session")
def board_home(tmp_path_factory, cache_dir) -> Path:
    """A harness home whose store holds the submissions above; ids by name in ids.json."""
    home = tmp_path_factory.mktemp("board")
    files = tmp_path_factory.mktemp("board-files")
    paths = {
        name: write(files / file, text)
        for name, file, text in [
            ("zeros", "zeros.py", ZEROS),
            ("women", "women.py", WOMEN),
            ("fastai", "tiny_fastai.py", TINY_FASTAI),
            ("broken", "broken.py", BROKEN),
            ("empty", "empty.csv", "PassengerId,Survived\n"),
        ]
    }
    assert done(harness(home, "data", "fetch", "titanic", HARNESS_CACHE=str(cache_dir)))

    def submit(path: Path, user: str, *extra: str) -> subprocess.Popen:
        return harness(home, "submit", "titanic", str(path), "--user", user, "--json", *extra)

    # two rounds of concurrent submits: ann's second (better) entry comes after her first
    first = {
        "ann_zeros": submit(paths["zeros"], "ann", "--message", "nobody"),
        "bob_fastai": submit(paths["fastai"], "bob", "--message", "tabular"),
        "baseline": submit(
            submissions_dir() / "titanic" / "gender_rule.py", "course", "--baseline"
        ),
        "hostile": submit(paths["zeros"], HOSTILE, "--message", f"{HOSTILE} **bold**"),
        "rejected": submit(paths["empty"], "cat"),
    }
    ids = {k: done(p)["id"] for k, p in first.items()}
    second = {
        "ann_women": submit(paths["women"], "ann", "--message", "women first"),
        "failed": submit(paths["broken"], "bob"),
    }
    ids |= {k: done(p)["id"] for k, p in second.items()}
    # Titanic's diagnostics are PNG and CSV; a JSON one (an lr_find curve) joins them here
    with db.connect(path=home / "harness.duckdb") as con:
        run_dir = con.execute(
            "SELECT run_dir FROM submissions WHERE id = ?", [ids["bob_fastai"]]
        ).fetchone()[0]
        curve = {"lr": [1e-4, 1e-3, 1e-2], "loss": [0.69, 0.61, 0.55]}
        path = save_json(Path(run_dir) / "artifacts", "lr_find", curve, "Learning rate finder")
        con.execute(
            "INSERT INTO artifacts VALUES (?, ?, ?, ?, ?)",
            [ids["bob_fastai"], path.name, "json", "Learning rate finder", str(path)],
        )
    (home / "ids.json").write_text(json.dumps(ids))
    return home


@pytest.fixture(scope="session")
def ids(board_home) -> dict[str, int]:
    return json.loads((board_home / "ids.json").read_text())


def signed_in(at: AppTest, member: str | None) -> AppTest:
    """The session of a browser whose login cookie signs in `member` (AppTest cannot send
    cookies; the app keeps the cookie's member under this key, which no widget has)."""
    if member is not None:
        at.session_state["_member"] = member
    return at


def texts(at: AppTest) -> list[str]:
    """Everything the page renders as markdown (which could carry markup)."""
    kinds = ("markdown", "caption", "header", "subheader", "title", "success", "error", "info")
    return (
        [str(el.value) for kind in kinds for el in getattr(at, kind)]
        + [str(el.proto) for el in at.get("html")]
        + [f"{el.label} {el.value}" for el in at.metric]  # both are markdown
    )


def shown(at: AppTest) -> list[str]:
    """Every element's value the page sent, widgets' values aside."""
    return texts(at) + [el.value for kind in ("text", "code") for el in getattr(at, kind)]
