"""Runs that go wrong end as `failed` with their log; nothing else is disturbed."""

import json
import os
import time

import pandas as pd
import psutil
import pytest

from harness.competition import data, registry
from harness.run import cgroups, pipeline
from harness.run.pipeline import Limits
from harness.store import leaderboards, submissions
from tests.conftest import write

GENDER = "    return (test['Sex'] == 'female').astype(int)\n"
FAILURES = {
    "exception": (
        "def fit_predict(train, valid, test):\n    raise ValueError('bad model')\n",
        "ValueError: bad model (boom.py, line 2, in fit_predict)",
        {},
    ),
    "error at import": (
        "import no_such_package\ndef fit_predict(train, valid, test): pass\n",
        "ModuleNotFoundError: No module named 'no_such_package' (boom.py, line 1, in <module>)",
        {},
    ),
    "sys.exit": (
        "import sys\ndef fit_predict(train, valid, test):\n    sys.exit(3)\n",
        "the submission called sys.exit(3) before it produced predictions",
        {},
    ),
    "timeout": (
        "import time\ndef fit_predict(train, valid, test):\n    time.sleep(600)\n",
        "timed out after 6 s; the run was stopped",
        {"timeout": 6},
    ),
    "killed": (
        "import os, signal\ndef fit_predict(train, valid, test):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n",
        "the worker was killed by SIGKILL",
        {},
    ),
    "greedy": (
        "def fit_predict(train, valid, test):\n    hoard = []\n    while True:\n"
        "        hoard.append(b'x' * 2**26)\n",
        # the kernel's limit where a cgroup holds it, else the runner's watch
        "more than 1500 MiB (tmpfs and shared memory included); the kernel stopped it"
        if cgroups.find()[0]
        else "over the memory limit of 1500 MiB; the run was stopped",
        {"memory_mb": 1500},
    ),
    "wrong length": (
        "def fit_predict(train, valid, test):\n    return [0, 1]\n",
        "fit_predict returned 2 predictions for the 596 rows of test: 418 test rows + 178 valid "
        "rows",
        {},
    ),
    "bad values": (
        "def fit_predict(train, valid, test):\n    return [2] * len(test)\n",
        "invalid predictions: boom predictions, row 1 (line 2), column Survived: '2' is not "
        "one of 0, 1",
        {},
    ),
    "not a learner": (
        "def train(dls):\n    return None\n",
        "train(dls) must return a fastai Learner, got NoneType",
        {},
    ),
}


@pytest.mark.parametrize("kind", list(FAILURES))
def test_each_failure_is_recorded_with_its_log(ready, tmp_path, kind):
    code, message, limits = FAILURES[kind]
    # the bystander: a CSV (no worker to wait for) already on the board
    test = data.current(registry.get("titanic")).load("test")
    women = (test["Sex"] == "female").astype(int)
    good = tmp_path / "good.csv"
    pd.DataFrame({"PassengerId": test["PassengerId"], "Survived": women}).to_csv(good, index=False)
    good = pipeline.submit("titanic", good, "ann")
    t0 = time.monotonic()
    row = pipeline.submit(
        "titanic",
        write(tmp_path / "boom.py", code),
        "bob",
        limits=Limits(**limits),
        log=lambda *_: None,
    )
    assert row["status"] == "failed"
    assert message in row["error"]
    assert "\n" not in row["error"]
    assert row["log"] is not None and row["run_dir"]
    assert row["public_score"] is None and row["private_score"] is None
    if kind == "timeout":
        assert time.monotonic() - t0 < 6 + 15
    if kind == "exception":
        assert "Traceback" in row["log"] and "ValueError: bad model" in row["log"]
    # the good submission and the board are untouched
    assert submissions.submission(good["id"])["public_score"] == good["public_score"]
    _, board = leaderboards.ranking(registry.get("titanic"))
    assert [r["user"] for r in board] == ["ann"]


def test_what_the_worker_is_given_holds_no_labels(ready, tmp_path):
    spy = write(
        tmp_path / "spy.py",
        """
import json, os, sys
from pathlib import Path

def fit_predict(train, valid, test):
    job = json.loads(Path(sys.argv[1]).read_text())
    seen = {"job": job, "env": dict(os.environ), "cwd": os.getcwd(),
            "files": sorted(str(p) for p in Path(job["inputs"]).parent.rglob("*")),
            "test_columns": list(test.columns)}
    print("SEEN " + json.dumps(seen))
    return (test["Sex"] == "female").astype(int)
""",
    )
    row = pipeline.submit("titanic", spy, "eve")
    assert row["status"] == "scored"
    seen = json.loads(next(x for x in row["log"].splitlines() if x.startswith("SEEN "))[5:])
    prepared = data.current(registry.get("titanic"))
    assert "Survived" not in seen["test_columns"]
    everything = json.dumps(seen)
    for secret in (str(prepared.path), str(ready), "test_labels", "hidden"):
        assert secret not in everything
    assert not str(seen["cwd"]).startswith(str(ready))
    assert {os.path.basename(f) for f in seen["files"]} >= {
        "train.parquet",
        "valid.parquet",
        "test.parquet",
        "job.json",
    }


def test_processes_a_submission_leaves_behind_are_ended(ready, tmp_path):
    # a unique sleep, found again by its command line: a sandboxed worker's pids are
    # those of its own namespace, and it cannot write outside its folders
    marker = f"600.{os.getpid()}{time.monotonic_ns() % 10**6}"
    code = f"""
import subprocess
def fit_predict(train, valid, test):
    child = subprocess.Popen(["sleep", {marker!r}])
{GENDER}"""
    row = pipeline.submit("titanic", write(tmp_path / "leaver.py", code), "ann")
    assert row["status"] == "scored"
    time.sleep(0.5)
    left = [
        p
        for p in psutil.process_iter(["cmdline", "status"])
        if p.info["cmdline"] == ["sleep", marker] and p.info["status"] != psutil.STATUS_ZOMBIE
    ]
    assert left == []


def test_a_run_sharing_the_machine_gets_its_share_of_threads(ready, tmp_path):
    from harness.run.runner import LocalExecutor

    code = (
        "import torch\n"
        "def fit_predict(train, valid, test):\n"
        "    print('threads', torch.get_num_threads(), flush=True)\n" + GENDER
    )
    row = pipeline.submit(
        "titanic",
        write(tmp_path / "share.py", code),
        "ann",
        executor=LocalExecutor(threads=1),
        log=lambda *_: None,
    )
    assert row["status"] == "scored", row["error"]
    lines = row["log"].splitlines()
    assert lines[1].startswith("[harness] OpenMP threads") and lines[1].endswith(
        "; 1 thread(s): its share of the cores"
    )
    assert "threads 1" in lines
