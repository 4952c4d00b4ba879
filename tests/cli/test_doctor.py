"""`harness doctor` as a newcomer and an organiser run it: a line a check, fixes, exit code."""

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from harness.run import sandbox
from harness.store import db, migrations

NAMES = "python files libraries course device numerics sandbox cgroups chromium kaggle store weights disk".split()


def doctor(home: Path, *args: str, env: dict[str, str] | None = None):
    """`harness doctor` in a subprocess, with HOME (and so ~/.kaggle) in the test's folder."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE_")}
    base.update(HARNESS_HOME=str(home), HOME=str(home.parent))
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "doctor", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=120,
    )


def by_name(proc) -> dict[str, dict]:
    report = json.loads(proc.stdout)  # exactly one JSON object
    return {c["name"]: c for c in report["checks"]}


def test_a_fresh_machine_gets_a_line_a_check_and_can_run(tmp_path):
    proc = doctor(tmp_path / "home")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"harness doctor: {tmp_path / 'home'}"
    assert [line.split()[1] for line in lines[1:-1]] == NAMES
    assert lines[-1] == "harness can run submissions here"
    kaggle = next(line for line in lines if line.split()[1] == "kaggle")
    assert kaggle.startswith("warn") and "-> set KAGGLE_API_TOKEN" in kaggle
    assert "none yet, made by the first submission" in proc.stdout
    assert not (tmp_path / "home").exists()  # a doctor changes nothing


def test_json_says_each_check_and_whether_runs_can_go(tmp_path):
    proc = doctor(tmp_path / "home", "--json", env={"KAGGLE_API_TOKEN": "x"})
    assert proc.returncode == 0
    checks = by_name(proc)
    assert list(checks) == NAMES
    assert json.loads(proc.stdout)["can_run"] is True
    assert checks["kaggle"] == {
        "name": "kaggle",
        "status": "ok",
        "detail": "credentials in KAGGLE_API_TOKEN (Kaggle asked at first use); client kaggle "
        "2.2.5, kagglesdk 0.1.38, as the group's server is tested with",
        "fix": "",
    }
    sb, why = sandbox.find()
    want = f"bubblewrap, {sb.mode} mode; {sb.guard}" if sb else why  # the filter, or why none
    assert want in checks["sandbox"]["detail"]
    course = checks["course"]
    assert course["status"] == "ok", course
    assert course["detail"].startswith("pandas 2.") and "fastbook 0.0.29" in course["detail"]
    assert "ipykernel" in course["detail"] and ", dot " in course["detail"]


def test_it_says_where_the_competitions_baselines_and_board_were_found(tmp_path, monkeypatch):
    # a checkout's own folders (an installed wheel's: tests/test_install.py); in process,
    # as the check imports nothing heavy
    from harness.cli import doctor as checks

    repo = Path(__file__).resolve().parents[2]
    ok = checks.files()
    assert ok.status == "ok", ok
    assert ok.detail.startswith(f"the checkout {repo}: ")
    assert "competitions in competitions/, baselines in submissions/" in ok.detail
    assert ok.detail.endswith("the board leaderboard/app.py")
    monkeypatch.setenv("HARNESS_COMPETITIONS", str(tmp_path))
    assert checks.files() == checks.Check(
        "files",
        "fail",
        f"the checkout {repo}: no competition in {tmp_path}",
        "point HARNESS_COMPETITIONS at a folder of competitions, or unset it",
    )


def test_a_run_without_graphviz_dot_is_warned_of_with_what_to_install(tmp_path):
    # an unsandboxed run looks for programs on the harness's own PATH: here, one without dot
    env = {"HARNESS_SANDBOX": "off", "PATH": str(Path(sys.executable).parent)}
    proc = doctor(tmp_path / "home", "--json", env=env)
    assert proc.returncode == 0  # submissions run; a notebook that draws a graph would not
    course = by_name(proc)["course"]
    assert course["status"] == "warn" and "dot" not in course["detail"]
    assert course["fix"] == "apt-get install graphviz (its dot draws graphviz.Source in a run)"


def test_a_store_from_a_newer_harness_fails_with_its_fix(tmp_path):
    home = tmp_path / "home"
    with db.connect(path=home / "harness.duckdb"):
        pass  # a real store at today's schema
    proc = doctor(home, "--json")
    assert by_name(proc)["store"]["detail"].endswith(
        f"schema {migrations.SCHEMA_VERSION}, 0 submissions"
    )
    con = duckdb.connect(str(home / "harness.duckdb"))
    con.execute(
        "UPDATE meta SET value = ? WHERE key = 'schema_version'", [migrations.SCHEMA_VERSION + 1]
    )
    con.close()
    proc = doctor(home)
    assert proc.returncode == 1
    line = next(x for x in proc.stdout.splitlines() if x.split()[1] == "store")
    assert line.startswith("FAIL") and "newer than this harness" in line
    assert line.endswith("-> update the harness (git pull, ./run)")
    assert proc.stdout.splitlines()[-1].startswith("harness cannot run submissions here")


def test_a_required_sandbox_that_is_missing_fails(tmp_path):
    proc = doctor(
        tmp_path / "home", "--json", env={"PATH": str(tmp_path), "HARNESS_SANDBOX": "require"}
    )
    assert proc.returncode == 1
    check = by_name(proc)["sandbox"]
    assert check["status"] == "fail"
    assert check["detail"].startswith("bubblewrap is not installed")
    assert check["fix"] == "apt-get install bubblewrap (docs/sandbox.md)"
    assert json.loads(proc.stdout)["can_run"] is False
