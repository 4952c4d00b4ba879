"""`pip install .` with no checkout beside it: the wheel carries the competitions, the
demo's baselines and the board (setup.py copies them into harness/shipped/), and the
installed `harness`, run from a folder outside the repository, finds them there: `doctor`
says where, the demo scores titanic's baselines in the sandbox, `serve` serves the board
and takes a member's submission, and the board's script renders the demo's rows.

Slow (a wheel built, a venv made, the real demo and server: 90-100 s on 2 busy cores),
so outside the default suite: `./run test --slow tests/test_install.py`. No network: the venv
borrows the project's environment for the dependencies (a .pth naming .venv's
site-packages) and gets the wheel alone (`pip install --no-deps --no-index`); titanic's
offline data comes from the wheel cache the suite shares (HARNESS_CACHE)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import venv
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO
from tests.server.conftest import WOMEN, free_port

pytestmark = pytest.mark.slow

# what the build reads: the metadata, setup.py's copy and the folders it copies
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "harness")
SOURCES += ("competitions", "submissions", "leaderboard")
END = ("scored", "failed", "rejected")  # a submission's last states


class Installed:
    """A venv holding the wheel, a harness home and a working folder outside the repo."""

    def __init__(self, root: Path, cache: Path):
        self.venv, self.home, self.cwd = root / "venv", root / "home", root / "elsewhere"
        self.cwd.mkdir()
        self.env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "HARNESS_COMPETITIONS")
        }
        self.env.update(
            HARNESS_HOME=str(self.home),
            HARNESS_CACHE=str(cache),
            PATH=f"{self.venv / 'bin'}:{os.environ['PATH']}",
        )

    def run(self, *args: str, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
        """A program of the venv (`harness`, `python`) run from the folder outside."""
        return subprocess.run(
            [str(self.venv / "bin" / args[0]), *args[1:]],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            **kw,
        )

    def json(self, *args: str) -> dict | list:
        proc = self.run(*args, "--json")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory, cache_dir) -> Installed:
    """The wheel built from a copy of the checkout's sources (the build writes build/ and
    an egg-info beside them), installed in a fresh venv whose dependencies are .venv's."""
    root = tmp_path_factory.mktemp("install")
    src, dist = root / "src", root / "dist"
    src.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.py[cod]")
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=skip)
        else:
            shutil.copy2(REPO / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = pip + ["wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(dist)]
    built = subprocess.run([*build, str(src)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("harness-*.whl")
    env = Installed(root, cache_dir)
    venv.EnvBuilder(with_pip=False).create(env.venv)
    site = Path(sysconfig.get_paths(vars={"base": str(env.venv)})["purelib"])
    (site / "project-env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # pip is .venv's, seen through the .pth, and so is .venv's editable harness, which
    # --ignore-installed leaves alone (pip would otherwise call the wheel installed)
    flags = ("-q", "--no-deps", "--no-index", "--ignore-installed")
    install = env.run("python", "-m", "pip", "install", *flags, str(wheel))
    assert install.returncode == 0, install.stdout + install.stderr
    return env


def test_the_wheel_carries_the_competitions_baselines_and_board(installed):
    where = installed.run(
        "python", "-c", "import harness.paths as p; print(p.installed(), p.project_root())"
    )
    shipped = Path(where.stdout.split()[1])
    assert where.stdout.split()[0] == "True" and installed.venv in shipped.parents
    for name in ("competitions", "submissions", "leaderboard"):
        ours = {p.relative_to(REPO / name) for p in (REPO / name).rglob("*") if p.is_file()}
        ours = {p for p in ours if "__pycache__" not in p.parts}
        assert {p.relative_to(shipped / name) for p in (shipped / name).rglob("*")} >= ours


def test_doctor_says_where_it_found_them(installed):
    proc = installed.run("harness", "doctor", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    files = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}["files"]
    site = Path(sysconfig.get_paths(vars={"base": str(installed.venv)})["purelib"])
    assert files["status"] == "ok", files
    assert files["detail"].startswith(f"the installed package's {site / 'harness' / 'shipped'}: ")
    assert (
        "competitions/, baselines in submissions/, the board leaderboard/app.py" in files["detail"]
    )


def test_the_demo_scores_titanic_in_the_sandbox_and_the_board_shows_it(installed):
    # --no-serve: today's terminal demo, for scripts and CI (the demo serves by default)
    demo = installed.run("harness", "demo", "titanic", "--no-serve", timeout=600)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    rows = installed.json("harness", "leaderboard", "titanic")
    listed = (REPO / "submissions" / "titanic" / "demo.txt").read_text()
    quick = {line.split()[0][:-3] for line in listed.splitlines() if line.endswith(" yes")}
    assert {r["user"] for r in rows} == quick, rows
    row = installed.json("harness", "show", str(rows[0]["submission_id"]))
    assert row["sandboxed"] is True, row["log"]
    assert row["harness_git"] == "0.1.0 (installed)"  # no checkout to ask git about
    # the board's own script, run from the package as `harness serve` runs it
    board = installed.run("python", "-c", BOARD, timeout=300)
    assert board.returncode == 0, board.stdout + board.stderr
    shown = json.loads(board.stdout.splitlines()[-1])
    assert shown["exceptions"] == []
    assert installed.venv in Path(shown["app"]).parents
    assert all(name in shown["tables"] for name in quick)


def test_serve_serves_the_board_and_takes_a_submission(installed, tmp_path):
    token = installed.json("harness", "member", "add", "alice")["token"]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        server = subprocess.Popen(
            [str(installed.venv / "bin" / "harness"), "serve", "--port", str(port)],
            cwd=installed.cwd,
            env=installed.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if requests.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.3)
        page = requests.get(url + "/", timeout=30)
        assert page.status_code == 200 and "<title>" in page.text
        auth = {"Authorization": f"Bearer {token}"}
        comps = requests.get(f"{url}/api/competitions", headers=auth, timeout=30).json()
        assert "titanic" in {c["name"] for c in comps}, comps
        sent = requests.post(
            f"{url}/api/competitions/titanic/submissions",
            headers=auth,
            files={"file": ("women.py", WOMEN.encode())},
            timeout=30,
        )
        assert sent.status_code == 202, sent.text
        follow, deadline = f"{url}/api/submissions/{sent.json()['id']}", time.monotonic() + 180
        while (got := requests.get(follow, headers=auth, timeout=30).json())["status"] not in END:
            assert time.monotonic() < deadline, (got, log.read_text()[-3000:])
            time.sleep(0.5)
        assert got["status"] == "scored", (got, log.read_text()[-3000:])
    finally:
        server.send_signal(signal.SIGTERM)  # by its own pid; its session is its own
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


# the board at /?competition=titanic for an anonymous visitor, as JSON on the last line
BOARD = """
import json
from streamlit.testing.v1 import AppTest
from harness.paths import board_app

at = AppTest.from_file(str(board_app()), default_timeout=240)
at.query_params["competition"] = "titanic"
at.run()
tables = " ".join(el.value.to_csv() for el in at.dataframe)
print(json.dumps({"app": str(board_app()), "exceptions": [str(e.value) for e in at.exception],
                  "tables": tables}))
"""
