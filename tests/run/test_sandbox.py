"""Hostile submissions on Titanic: each attack is recorded and changes nothing it does not own.

Every test submits a real hostile file through `pipeline.submit` (one through `harness
submit`) and then checks the world: the store's other rows, the hidden labels, the other
runs' folders, the harness code and the virtualenv are as they were, and the attack's
row exists (failed, or scored without cheating: the gender rule's score, never 1.0).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from harness.competition import artifacts, data, registry
from harness.paths import REPO_ROOT
from harness.run import cgroups, pipeline, runner, sandbox, space
from harness.store import submissions
from tests.conftest import cli_json, write

SB, WHY = sandbox.find()
needs_bwrap = pytest.mark.skipif(SB is None, reason=f"no usable sandbox: {WHY}")
GENDER = "(test['Sex'] == 'female').astype(int)"
SITE = Path(next(p for p in sys.path if p.endswith("site-packages")))


def digest(path: Path) -> str:
    """A hash of a file, or of a folder's names, sizes and contents."""
    h = hashlib.sha256()
    path = Path(path)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def honest_home(tmp_path_factory, data_root, cache_dir) -> tuple[Path, dict]:
    """A harness home with the session's data and an honest member's scored run, the
    same for this module's attacks (each snapshots it again: `world`); the run's row."""
    home = tmp_path_factory.mktemp("world") / "home"
    home.mkdir()
    (home / "data").symlink_to(data_root, target_is_directory=True)
    code = f"def fit_predict(train, valid, test):\n    return {GENDER}\n"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_HOME", str(home))
        mp.setenv("HARNESS_CACHE", str(cache_dir))
        honest = pipeline.submit("titanic", write(home.parent / "honest.py", code), "ann")
    assert honest["status"] == "scored"
    return home, honest


@pytest.fixture
def world(honest_home, monkeypatch, cache_dir):
    """The honest member's scored run, and a snapshot of what no submission may change."""
    ready, honest = honest_home
    monkeypatch.setenv("HARNESS_HOME", str(ready))
    monkeypatch.setenv("HARNESS_CACHE", str(cache_dir))
    prepared = data.current(registry.get("titanic"))
    watched = {
        "labels": prepared.path / "hidden" / "test_labels.parquet",
        "honest run": Path(honest["run_dir"]),
        "harness code": REPO_ROOT / "harness" / "run",
        "competition": REPO_ROOT / "competitions" / "titanic",
    }
    before = {k: digest(p) for k, p in watched.items()}
    pth = set(SITE.glob("*.pth"))
    runs = {p.name for p in (ready / "runs").iterdir()}

    class World:
        home = ready
        labels = watched["labels"]
        raw = (
            prepared.path.parent.parent / "raw"
            if (prepared.path.parent.parent / "raw").exists()
            else None
        )
        store = ready / "harness.duckdb"
        gender_score = honest["public_score"]

        @staticmethod
        def unchanged(row: dict) -> None:
            """The attack is recorded, and nothing outside its own run changed."""
            assert submissions.submission(row["id"]) is not None
            again = submissions.submission(honest["id"])
            assert (again["public_score"], again["status"]) == (
                honest["public_score"],
                "scored",
            )
            assert {k: digest(p) for k, p in watched.items()} == before
            assert set(SITE.glob("*.pth")) == pth
            now = {p.name for p in (ready / "runs").iterdir()}
            new = now - runs - {".staging"}
            expect = {Path(row["run_dir"]).name} if row.get("run_dir") else set()
            assert new == expect  # its own folder, nothing else
            assert not list((ready / "runs" / ".staging").iterdir())  # no orphans
            if row["status"] == "scored":
                assert row["public_score"] <= World.gender_score + 1e-9  # no cheating

    return World


def submit(tmp_path: Path, name: str, code: str, **kw) -> dict:
    return pipeline.submit("titanic", write(tmp_path / name, code), "mallory", **kw)


def found(row: dict) -> list[str]:
    """What the attack printed as FOUND lines: anything it could read or change."""
    return [x for x in (row["log"] or "").splitlines() if x.startswith("FOUND")]


@needs_bwrap
def test_labels_via_proc_and_disk_are_out_of_reach(world, tmp_path):
    targets = [
        str(world.labels),
        str(world.home),
        str(world.store),
        str(Path(os.environ["HARNESS_CACHE"])),
        str(Path.home() / ".local" / "share" / "harness"),
        str(Path.home() / ".kaggle"),
        str(REPO_ROOT.parent / "shared"),
    ]
    if world.raw:
        targets.append(str(world.raw))
    code = f"""
import os, glob
from pathlib import Path
TARGETS = {targets!r}

def fit_predict(train, valid, test):
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        for what in ("environ", "cmdline"):
            try:
                text = open(f"/proc/{{pid}}/{{what}}", "rb").read().decode(errors="replace")
            except OSError:
                continue
            if "HARNESS_HOME" in text or {str(world.home)!r} in text:
                print("FOUND home in /proc", pid, what)
    for t in TARGETS:
        if os.path.exists(t):
            print("FOUND", t)
    if os.environ.get("HARNESS_HOME") or any(".kaggle" in v for v in os.environ.values()):
        print("FOUND a private variable")
    print("PIDS", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
    return {GENDER}
"""
    row = submit(tmp_path, "spy.py", code)
    assert row["status"] == "scored" and row["sandboxed"] is True, row["error"]
    mode = "root mode: the run's own uid" if os.geteuid() == 0 else "user-namespace mode"
    assert row["log"].startswith(f"[harness] sandbox: bubblewrap, {mode}")
    # the few /etc files a run may read are readable by its uid (fontconfig, matplotlib)
    assert "Fontconfig error" not in row["log"]
    assert found(row) == []
    pids = json.loads(next(x for x in row["log"].splitlines() if x.startswith("PIDS"))[5:])
    assert len(pids) < 10  # only the sandbox's own processes
    world.unchanged(row)


@needs_bwrap
def test_store_labels_code_and_venv_cannot_be_changed(world, tmp_path):
    victims = [
        str(world.store),
        str(world.labels),
        str(REPO_ROOT / "harness" / "run" / "worker.py"),
        str(REPO_ROOT / "harness" / "evil.py"),
        str(REPO_ROOT / "competitions" / "titanic" / "competition.py"),
        str(SITE / "evil.pth"),
        str(Path(sys.prefix) / "bin" / "evil"),
        str(world.home / "runs" / "evil"),
    ]
    code = f"""
import os

def fit_predict(train, valid, test):
    for v in {victims!r}:
        try:
            with open(v, "a") as f:
                f.write("import os; os.system('touch /tmp/pwned')\\n")
            print("FOUND wrote", v)
        except OSError as e:
            print("refused", v, type(e).__name__)
    try:
        import duckdb
        con = duckdb.connect({str(world.store)!r})
        con.execute("UPDATE submissions SET public_score = 0")
        print("FOUND store updated")
    except Exception as e:
        print("refused store", type(e).__name__)
    return {GENDER}
"""
    row = submit(tmp_path, "vandal.py", code)
    assert row["status"] == "scored", row["error"]
    assert found(row) == []
    assert not (SITE / "evil.pth").exists() and not (REPO_ROOT / "harness" / "evil.py").exists()
    world.unchanged(row)


@needs_bwrap
def test_a_setsid_daemon_dies_with_the_run(world, tmp_path):
    marker = f"harness-daemon-{os.getpid()}-{time.monotonic_ns()}"
    code = f"""
import subprocess, sys

def fit_predict(train, valid, test):
    daemon = (
        "import time, sys\\n"
        "time.sleep(3)\\n"
        "import duckdb\\n"
        "duckdb.connect({str(world.store)!r}).execute('UPDATE submissions SET public_score = 0')\\n"
    )
    subprocess.Popen([sys.executable, "-c", daemon, {marker!r}], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return {GENDER}
"""
    row = submit(tmp_path, "daemon.py", code)
    assert row["status"] == "scored", row["error"]
    time.sleep(4)
    alive = [
        p
        for p in psutil.process_iter(["cmdline", "status"])
        if marker in (p.info["cmdline"] or []) and p.info["status"] != psutil.STATUS_ZOMBIE
    ]
    assert alive == []
    world.unchanged(row)


@needs_bwrap
def test_no_network_not_even_the_hosts_loopback(world, tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    port = server.getsockname()[1]
    code = f"""
import socket

def fit_predict(train, valid, test):
    try:
        s = socket.create_connection(("127.0.0.1", {port}), timeout=2)
        s.sendall(test.to_csv().encode())
        print("FOUND a connection")
    except OSError as e:
        print("refused", type(e).__name__)
    try:
        socket.create_connection(("pypi.org", 443), timeout=2)
        print("FOUND the internet")
    except OSError as e:
        print("refused", type(e).__name__)
    return {GENDER}
"""
    try:
        row = submit(tmp_path, "caller.py", code)
        with pytest.raises(TimeoutError):
            server.accept()
    finally:
        server.close()
    assert row["status"] == "scored" and found(row) == []
    world.unchanged(row)


@needs_bwrap
@pytest.mark.skipif(SB is not None and not SB.filtered, reason="no seccomp filter here")
def test_no_namespace_or_mount_of_its_own_so_no_memory_outside_the_limit(world, tmp_path):
    # a tmpfs in a namespace of the run's own holds memory that no process's RSS shows
    mount = "mount -t tmpfs -o size=8g none /tmp && echo FOUND mounted && df -h /tmp"
    code = f"""
import ctypes, errno, os, subprocess

def refused(what, err):
    print("refused", what, errno.errorcode.get(err, err))

def fit_predict(train, valid, test):
    sh = subprocess.run(["unshare", "-rm", "sh", "-c", {mount!r}], capture_output=True, text=True)
    print(sh.stdout, end="")
    print("unshare -rm:", sh.returncode, sh.stderr.strip())
    if hasattr(os, "unshare"):  # Python 3.12 and later
        try:
            os.unshare(os.CLONE_NEWUSER | os.CLONE_NEWNS)
            print("FOUND os.unshare")
        except OSError as e:
            refused("os.unshare", e.errno)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x10000000 | 0x20000) == 0:  # CLONE_NEWUSER | CLONE_NEWNS
        print("FOUND unshare()")
    else:
        refused("unshare()", ctypes.get_errno())
    calls = {{
        # clone(CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD, no stack): a fork into new namespaces
        "clone": (56, 0x10000000 | 0x20000 | 17, 0, 0, 0, 0),
        "clone3": (435, 0, 0),  # ENOSYS: glibc falls back to clone, whose flags are read
        "setns": (308, 0, 0),
        "mount": (165, b"none", b"/tmp", b"tmpfs", 0, 0),
        "fsopen": (430, b"tmpfs", 0),
    }}
    for name, args in calls.items():
        r = libc.syscall(*args)
        if r == 0 and name == "clone":
            os._exit(0)  # the child of a clone that should have been refused
        if r >= 0:
            print("FOUND", name, r)
        else:
            refused(name, ctypes.get_errno())
    # what a run does every day still works: threads and processes of its own
    print(subprocess.run(["sh", "-c", "echo child ok"], capture_output=True, text=True).stdout)
    return {GENDER}
"""
    row = submit(tmp_path, "nested.py", code)
    assert row["status"] == "scored", row["error"]
    log = row["log"]
    assert found(row) == []
    assert "unshare failed: Operation not permitted" in log
    refusals = ["unshare()", "clone", "setns", "mount", "fsopen"]
    for name in refusals + (["os.unshare"] if hasattr(os, "unshare") else []):
        assert f"refused {name} EPERM" in log, name
    assert "refused clone3 ENOSYS" in log and "child ok" in log
    assert "seccomp: no namespaces or mounts of its own" in log.splitlines()[0]
    world.unchanged(row)


@needs_bwrap
def test_a_huge_fallocate_fails_at_once_and_the_host_keeps_its_disk(world, tmp_path):
    code = f"""
import os, time

def fit_predict(train, valid, test):
    free = os.statvfs(".").f_bavail * os.statvfs(".").f_frsize
    fd = os.open("big.bin", os.O_CREAT | os.O_WRONLY, 0o600)  # the run's working folder
    for what, call in [
        ("fallocate", lambda: os.posix_fallocate(fd, 0, 5 * 2**30)),
        ("write", lambda: os.pwrite(fd, b"x", 3 * 2**30)),
    ]:
        t0 = time.monotonic()
        try:
            call()
            print("FOUND", what)
        except OSError as e:
            print(f"refused {{what}} errno {{e.errno}} in {{time.monotonic() - t0:.3f}} s")
    lost = free - os.statvfs(".").f_bavail * os.statvfs(".").f_frsize
    print(f"host disk lost: {{lost / 2**20:.0f}} MiB")
    os.close(fd)
    return {GENDER}
"""
    row = submit(tmp_path, "filler.py", code)
    assert row["status"] == "scored", row["error"]
    assert found(row) == []
    lines = {x.split(" errno")[0]: x for x in row["log"].splitlines() if x.startswith("refused")}
    for what in ("fallocate", "write"):
        errno_, secs = lines[f"refused {what}"].split(" errno ")[1].split(" in ")
        assert errno_ == "27" and float(secs.removesuffix(" s")) < 1, lines  # EFBIG, at once
    lost = next(x for x in row["log"].splitlines() if x.startswith("host disk lost"))
    assert int(lost.split()[-2]) < 512, lost  # other tests may write meanwhile: not 5 GiB
    world.unchanged(row)


ARTIFACT_ATTACKS = {
    "traversal": (
        'json.dump([{"name": "../../../data/titanic/raw/titanic3.csv", "kind": "csv", '
        '"title": "all passengers"}], open(art / "artifacts.json", "w"))',
        "not a plain file name",
    ),
    "symlink": (
        'os.symlink("/etc/passwd", art / "plot.csv"); '
        'json.dump([{"name": "plot.csv", "kind": "csv", "title": "t"}], '
        'open(art / "artifacts.json", "w"))',
        "artifacts/plot.csv is a symbolic link",
    ),
    "symlinked predictions": (
        'atexit.register(lambda: (os.unlink(out / "predictions.csv"), '
        'os.symlink("/etc/passwd", out / "predictions.csv")))',
        "out/predictions.csv is a symbolic link",
    ),
    "result.json not JSON": (
        'atexit.register(lambda: open(out / "result.json", "w").write("{not json"))',
        "out/result.json is not JSON",
    ),
    "result.json a list": (
        'atexit.register(lambda: open(out / "result.json", "w").write("[1, 2]"))',
        "out/result.json is a list, not an object",
    ),
    "model of the wrong type": (
        'atexit.register(lambda: open(out / "result.json", "w").write('
        'json.dumps({"model": {"architecture": 1, "parameters": "many"}})))',
        "model lacks its architecture",
    ),
    "epochs.jsonl garbage": (
        'open(out / "epochs.jsonl", "w").write("{\\"fit\\": \\"x\\"}\\n\\x00\\x01")',
        "out/epochs.jsonl, line 1",
    ),
    "error.json a number": (
        'atexit.register(lambda: open(out / "error.json", "w").write("7"))',
        "out/error.json has no message",
    ),
    "huge result.json": (
        'atexit.register(lambda: open(out / "result.json", "w").write(" " * (3 * 2**20)))',
        "out/result.json is 3,145,728 bytes, over its limit",
    ),
    "raw_preds pickled": (
        'import numpy as np; np.save(out / "raw_preds.npy", np.array([{}], dtype=object))',
        "raw_preds.npy",
    ),
}


@pytest.mark.parametrize("attack", list(ARTIFACT_ATTACKS))
def test_malformed_worker_output_fails_the_run_with_one_line(world, tmp_path, attack):
    action, message = ARTIFACT_ATTACKS[attack]
    code = f"""
import atexit, json, os, sys
from pathlib import Path

def fit_predict(train, valid, test):
    job = json.loads(Path(sys.argv[1]).read_text())
    out, art = Path(job["out"]), Path(job["artifacts"])
    art.mkdir(exist_ok=True)
    {action}
    return {GENDER}
"""
    row = submit(tmp_path, "forger.py", code)
    assert row["status"] == "failed", row
    assert message in row["error"] and "\n" not in row["error"]
    assert row["public_score"] is None
    # a forged artifacts index is deleted with its files; what the host drew after the
    # run stays, for its author: the valid-set report
    report = {"confusion_matrix.csv", "confusion_matrix.png"}
    assert {a["name"] for a in row["artifacts"]} == report
    assert all(a["path"].startswith(row["run_dir"] + "/") for a in row["artifacts"])
    world.unchanged(row)


def test_markdown_in_an_artifact_title_is_stored_as_plain_text(world, tmp_path):
    title = "![x](http://evil.example/a.png) **bold** <script>alert(1)</script>"
    code = f"""
import json, sys
from pathlib import Path
import pandas as pd
from harness.competition.artifacts import save_table

def fit_predict(train, valid, test):
    job = json.loads(Path(sys.argv[1]).read_text())
    save_table(Path(job["artifacts"]), "notes", pd.DataFrame({{"a": [1]}}), {title!r})
    return {GENDER}
"""
    row = submit(tmp_path, "titles.py", code)
    assert row["status"] == "scored"
    [art] = [a for a in row["artifacts"] if a["name"] == "notes.csv"]
    assert art["title"] == title
    world.unchanged(row)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO_ROOT / "leaderboard" / "app.py"), default_timeout=60)
    at.session_state["_member"] = row["user_name"]  # its member, signed in: the page is theirs
    at.query_params["submission"] = str(row["id"])
    at.run()
    assert not at.exception
    assert title in [t.value for t in at.text]
    shown = [m.value for kind in ("markdown", "caption", "warning") for m in at.get(kind)]
    assert not any("evil.example" in s or "<script" in s for s in shown)


def test_an_oversized_csv_is_refused_before_it_is_read(world, tmp_path):
    big = tmp_path / "preds.csv"
    with open(big, "wb") as f:
        f.write(b"PassengerId,Survived\n")
        f.truncate(150 * 10**6)  # sparse: 150 MB on paper, nothing on disk
    before = psutil.Process().memory_info().rss
    row = pipeline.submit("titanic", big, "mallory")
    assert psutil.Process().memory_info().rss - before < 50 * 2**20
    assert row["status"] == "rejected"
    assert row["error"] == "preds.csv is 150 MB, over the 100 MB limit for a CSV submission"
    world.unchanged(row)


def test_an_oversized_code_file_is_refused_before_it_is_read(world, tmp_path):
    big = tmp_path / "model.py"
    with open(big, "wb") as f:
        f.write(b"def fit_predict(train, valid, test):\n    return 0\n")
        f.truncate(20 * 10**6)  # sparse: 20 MB on paper (a model's weights pasted in)
    before = psutil.Process().memory_info().rss
    row = pipeline.submit("titanic", big, "mallory")
    assert psutil.Process().memory_info().rss - before < 50 * 2**20
    assert row["status"] == "rejected" and row["run_dir"] is None
    assert row["error"] == "model.py is 20 MB, over the 1 MB limit for a code submission"
    world.unchanged(row)


@needs_bwrap
def test_harness_submit_records_the_sandbox_and_cleans_up(world, tmp_path):
    path = write(
        tmp_path / "plain.py", f"def fit_predict(train, valid, test):\n    return {GENDER}\n"
    )
    code, out = cli_json("submit", "titanic", str(path), "--user", "zoe", home=world.home)
    assert code == 0 and out["sandboxed"] is True
    code, shown = cli_json("show", str(out["id"]), home=world.home)
    assert shown["sandboxed"] is True
    world.unchanged(submissions.submission(out["id"]))


def test_without_a_sandbox_the_run_says_so_and_is_recorded(world, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(sandbox.SETTING, "off")
    row = submit(
        tmp_path, "bare.py", f"def fit_predict(train, valid, test):\n    return {GENDER}\n"
    )
    assert row["status"] == "scored" and row["sandboxed"] is False
    lines = [x for x in capsys.readouterr().err.splitlines() if "not sandboxed" in x]
    assert len(lines) == 1
    assert row["log"].startswith("[harness] NOT sandboxed: HARNESS_SANDBOX=off\n")
    world.unchanged(row)


# The run's limits held by the kernel, and nothing left behind (issue 24)

CG, CG_WHY = cgroups.find()
needs_cgroups = pytest.mark.skipif(not CG, reason=f"no cgroup for runs here: {CG_WHY}")


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _our_leftovers() -> tuple[list[str], list[str]]:
    """This harness's run groups and tmpfs mounts still on the host (none once runs end)."""
    groups = [
        p.name for h in CG for p in h.parent.glob(f"{cgroups.PREFIX}{os.getpid()}-*") if p.is_dir()
    ]
    mounts = [
        x
        for x in Path("/proc/self/mountinfo").read_text().splitlines()
        if f"/space.{os.getpid()} " in x
    ]
    return groups, mounts


@needs_bwrap
@needs_cgroups
def test_tmp_shm_and_memory_filled_the_kernel_stops_the_run_at_its_limit(world, tmp_path):
    # what a crashed harness left: a run's group and its folders' tmpfs, both ended
    dead = _dead_pid()
    stale = [h.parent / f"{cgroups.PREFIX}{dead}-0badc0de" for h in CG]
    for g in stale:
        g.mkdir(exist_ok=True)
    crashed = tmp_path / "run-crashed" / f"space.{dead}"
    crashed.parent.mkdir()
    assert space.mount(crashed, 2**20, 10)
    # /tmp and /dev/shm are a quarter of the limit each: their pages are in no process's
    # RSS, and the cgroup counts them
    code = f"""
import os

def fill(folder):
    with open(os.path.join(folder, "fill"), "wb") as f:
        try:
            while True:
                f.write(b"x" * 2**20)
        except OSError as e:
            print("full", folder, e.errno, flush=True)

def fit_predict(train, valid, test):
    fill("/dev/shm")
    fill("/tmp")
    print("FILLED", flush=True)
    hoard = []
    while True:
        hoard.append(bytearray(2**24))
    return {GENDER}
"""
    t0 = time.monotonic()
    row = submit(tmp_path, "hoarder.py", code, limits=pipeline.Limits(memory_mb=1000))
    assert time.monotonic() - t0 < 30
    assert row["status"] == "failed"
    assert row["error"] == (
        "memory: the run used more than 1000 MiB (tmpfs and shared memory included); "
        "the kernel stopped it"
    )
    assert "full /dev/shm 28" in row["log"] and "full /tmp 28" in row["log"]  # ENOSPC
    assert 900 < row["peak_memory_mb"] <= 1001  # the group's peak, tmpfs included
    assert "memory 1000 MiB (tmpfs and shared memory included)" in row["log"]
    assert not any(g.exists() for g in stale) and not crashed.exists()
    assert _our_leftovers() == ([], [])
    world.unchanged(row)


@needs_bwrap
def test_fallocates_past_the_disk_cap_fail_at_once_and_leave_nothing(world, tmp_path, monkeypatch):
    # every file under the per-file cap (RLIMIT_FSIZE), their sum far over the folders'
    # cap: the folders' own filesystem refuses the first call that would pass it
    monkeypatch.setattr(runner, "DISK_CAP", 64 * 2**20)
    code = f"""
import json, os, sys, time
from pathlib import Path

def fit_predict(train, valid, test):
    out = Path(json.loads(Path(sys.argv[1]).read_text())["out"])
    for i in range(8):
        fd = os.open(out / f"junk{{i}}.bin", os.O_CREAT | os.O_WRONLY, 0o600)
        t0 = time.monotonic()
        try:
            os.posix_fallocate(fd, 0, 48 * 2**20)
            print("fallocated", i, flush=True)
        except OSError as e:
            print(f"refused {{i}} errno {{e.errno}} in {{time.monotonic() - t0:.3f}} s")
        os.close(fd)
    return {GENDER}
"""
    row = submit(tmp_path, "filler.py", code)
    assert row["status"] == "scored", row["error"]
    log = row["log"].splitlines()
    if SB.mode == "root":  # a tmpfs of the cap's size: the second file cannot fit
        assert [x for x in log if x.startswith("fallocated")] == ["fallocated 0"]
        refused = [x for x in log if x.startswith("refused")]
        assert len(refused) == 7 and all(" errno 28 in 0.0" in x for x in refused), refused
    run = Path(row["run_dir"])
    assert not list(run.rglob("junk*"))  # not what the record needs: deleted
    assert sum(p.stat().st_size for p in run.rglob("*") if p.is_file()) < 2**20
    world.unchanged(row)


def _png(width: int, height: int, grey: int = 0) -> bytes:
    """A greyscale PNG, written by hand: a bomb's header costs nothing to make."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\0" + bytes([grey]) * width
    pixels = zlib.compress(row * height, 9)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


LEAVER = """
import json, os, sys
from pathlib import Path

def fit_predict(train, valid, test):
    job = json.loads(Path(sys.argv[1]).read_text())
    out, art = Path(job["out"]), Path(job["artifacts"])
    art.mkdir(exist_ok=True)
    (out / "junk.bin").write_bytes(b"x" * 2**20)
    (out / "stash").mkdir()
    (out / "stash" / "more.bin").write_bytes(b"x" * 2**20)
    (art / "undeclared.csv").write_text("a\\n1\\n")
    Path("scratch.bin").write_bytes(b"x" * 2**20)  # the working folder
    {files}
    json.dump({index}, open(art / "artifacts.json", "w"))
    return {gender}
"""


@needs_bwrap
def test_what_a_run_leaves_is_deleted_but_what_its_record_needs(world, tmp_path):
    keep = (
        'pd.DataFrame({"a": [1]}).to_csv(art / "kept.csv", index=False)\n'
        '    with open(art / "big.csv", "wb") as f:\n'
        "        f.truncate(33 * 2**20)\n"
    )
    keep = "import pandas as pd\n    " + keep
    index = [{"name": "kept.csv", "kind": "csv", "title": "kept"}]
    row = submit(tmp_path, "leaver.py", LEAVER.format(files=keep, index=index, gender=GENDER))
    assert row["status"] == "scored", row["error"]
    run = Path(row["run_dir"])
    left = {str(p.relative_to(run)) for p in run.rglob("*")}
    assert {
        "out/junk.bin",
        "out/stash",
        "artifacts/undeclared.csv",
        "artifacts/big.csv",
    }.isdisjoint(left)
    assert not any(x.startswith("work") or "space." in x or "scratch" in x for x in left), left
    assert {"out/predictions.csv", "out/result.json", "artifacts/kept.csv"} <= left
    assert {a["name"] for a in row["artifacts"]} >= {"kept.csv"}
    world.unchanged(row)

    # a declared artifact over its cap: refused in the record, and deleted with the rest
    index = [{"name": "big.csv", "kind": "csv", "title": "a gigabyte, on paper"}]
    row = submit(tmp_path, "leaver2.py", LEAVER.format(files=keep, index=index, gender=GENDER))
    assert row["status"] == "failed"
    assert row["error"] == (
        "its artifacts were refused: artifact 'big.csv' is 34,603,008 bytes, over 33,554,432"
    )
    run = Path(row["run_dir"])
    assert not (run / "artifacts" / "big.csv").exists()
    assert not (run / "artifacts" / "kept.csv").exists()  # a refused index keeps nothing
    assert not (run / "out" / "junk.bin").exists() and not (run / "work").exists()


@needs_bwrap
def test_a_png_bomb_is_refused_and_a_large_image_gets_its_thumbnail_once(world, tmp_path):
    bomb = _png(13_000, 13_000)
    assert len(bomb) < 200_000  # a tiny file, 169 million pixels
    files = "(art / 'plot.png').write_bytes({raw!r})"
    index = [{"name": "plot.png", "kind": "png", "title": "a plot"}]
    code = LEAVER.format(files=files.format(raw=bomb), index=index, gender=GENDER)
    t0 = time.monotonic()
    row = submit(tmp_path, "bomb.py", code)
    assert time.monotonic() - t0 < 30
    assert row["status"] == "failed"
    assert row["error"] == (
        "its artifacts were refused: artifact 'plot.png' is 13,000x13,000 pixels, over the "
        "cap of 25,000,000"
    )
    assert not (Path(row["run_dir"]) / "artifacts" / "plot.png").exists()
    world.unchanged(row)

    # many images each under the cap: the run's total is capped too (the host decodes each)
    many = "\n    ".join(f"(art / 'p{i}.png').write_bytes({_png(5000, 5000)!r})" for i in range(5))
    five = [{"name": f"p{i}.png", "kind": "png", "title": "p"} for i in range(5)]
    row = submit(tmp_path, "many.py", LEAVER.format(files=many, index=five, gender=GENDER))
    assert row["status"] == "failed" and row["error"] == (
        "its artifacts were refused: its images have 125,000,000 pixels in all, over a "
        "run's 100,000,000"
    )
    assert not list((Path(row["run_dir"]) / "artifacts").glob("p?.png"))

    big = _png(2400, 1800, grey=128)  # a legitimate large plot: 4.3 million pixels
    row = submit(
        tmp_path, "big.py", LEAVER.format(files=files.format(raw=big), index=index, gender=GENDER)
    )
    assert row["status"] == "scored", row["error"]
    run = Path(row["run_dir"])
    thumb = run / artifacts.THUMBS / "plot.png"
    from PIL import Image

    with Image.open(thumb) as im:
        assert im.size == (1600, 1200)
    made = thumb.stat().st_mtime_ns
    for _ in range(3):  # each page view: the thumbnail as made, never made again
        assert artifacts.thumbnail(run / "artifacts", "plot.png") == thumb
    assert thumb.stat().st_mtime_ns == made
    assert (run / "artifacts" / "plot.png").read_bytes() == big  # the original stays


def test_a_full_index_keeps_the_harness_report_and_no_refused_files(world, tmp_path):
    """A run that declares the most artifacts an index may hold: the host's report still
    comes first, the run's last entries make room, and nothing left over stays on disk."""
    files = "for i in range(500): (art / f'n{i}.csv').write_text('a\\n1\\n')"
    index = [{"name": f"n{i}.csv", "kind": "csv", "title": "n"} for i in range(500)]
    row = submit(tmp_path, "full.py", LEAVER.format(files=files, index=index, gender=GENDER))
    assert row["status"] == "scored", row["error"]
    names = [a["name"] for a in row["artifacts"]]
    assert len(names) == 500 and names[0] == "confusion_matrix.csv" and "n496.csv" in names
    folder = Path(row["run_dir"]) / "artifacts"
    assert {p.name for p in folder.iterdir()} == {*names, "artifacts.json"}
    world.unchanged(row)


def test_the_folders_a_pth_file_adds_are_bound_but_never_one_above_the_home(
    home, tmp_path, monkeypatch
):
    """A venv that borrows another environment's packages through a .pth (as
    tests/test_install.py's does) finds them in the sandbox; an old-style editable
    install's .pth naming the checkout, which may hold the home, binds nothing (nor does
    one naming a folder above the user's home)."""
    import site

    site_dir, borrowed = tmp_path / "site-packages", tmp_path / "other-env" / "site-packages"
    site_dir.mkdir()
    borrowed.mkdir(parents=True)
    lines = ["# a comment", "import os; os.environ", str(borrowed), str(home.parent), "/"]
    (site_dir / "a.pth").write_text("\n".join([*lines, str(tmp_path / "gone"), ""]))
    (site_dir / "b.pth").write_text("../other-env/site-packages\n")  # relative to its folder
    monkeypatch.setattr(site, "getsitepackages", lambda: [str(site_dir)])
    assert sandbox.pth_folders() == [borrowed, borrowed]
    assert borrowed in sandbox.python_paths() and home.parent not in sandbox.python_paths()
