"""The group's server as members meet it: a real `harness serve`, the real `harness`
command in other homes (members' machines), and hostile clients talking HTTP."""

from __future__ import annotations

import json
import socket
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import psutil

from tests.conftest import cli, harness_here, harness_here_json, write
from tests.server.conftest import SLOW, WOMEN, login, member


def sample(host: Path) -> Path:
    return host / "data" / "titanic" / "current" / "files" / "sample_submission.csv"


def queue_rows(host: Path) -> list:
    """The queue as stored (read with the server stopped)."""
    con = duckdb.connect(str(host / "harness.duckdb"), read_only=True)
    try:
        return con.execute("SELECT id, state, attempts FROM queue ORDER BY id").fetchall()
    finally:
        con.close()


def workers_of(server) -> list[psutil.Process]:
    """The server's run, once its worker is up (running is said before it starts): the
    `harness.run.worker` processes below the server, sandboxed or not. Only its own: other
    tests' runs on this machine (pytest-xdist's other worker) are not the server's."""
    deadline = time.monotonic() + 30
    while True:
        try:
            below = psutil.Process(server.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            below = []
        found = [p for p in below if "harness.run.worker" in " ".join(cmdline(p))]
        if found:
            return found
        assert time.monotonic() < deadline, "the server's run never started its worker"
        time.sleep(0.1)


def cmdline(p: psutil.Process) -> list[str]:
    try:
        return [] if p.status() == psutil.STATUS_ZOMBIE else p.cmdline()
    except psutil.Error:  # ended
        return []


def outlive(workers: list[psutil.Process], within: float = 10) -> list[psutil.Process]:
    """Those of `workers` still running after up to `within` seconds."""
    deadline = time.monotonic() + within
    while (alive := [p for p in workers if cmdline(p)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive


def test_a_member_logs_in_fetches_submits_and_reads_the_board(serve, ready, tmp_path):
    alice = member(ready, "alice")
    server = serve()
    laptop = tmp_path / "laptop"

    bad = login(laptop, server.url, alice[:-4] + "xxxx")
    assert bad.returncode == 1 and "token" in bad.stderr and len(bad.stderr.splitlines()) == 1
    assert not (laptop / "login.json").exists()
    ok = login(laptop, server.url, alice)
    assert ok.returncode == 0 and "alice" in ok.stdout
    assert stat.S_IMODE((laptop / "login.json").stat().st_mode) == 0o600

    fetched = harness_here("data", "fetch", "titanic", home=laptop)
    assert fetched.returncode == 0, fetched.stderr
    folder = Path(fetched.stdout.strip())
    assert harness_here("data", "path", "titanic", home=laptop).stdout.strip() == str(folder)
    host_files = sample(ready).parent
    for name in ("train.csv", "test.csv", "sample_submission.csv"):
        assert (folder / name).read_bytes() == (host_files / name).read_bytes()

    code, csv = harness_here_json(
        "submit", "titanic", str(sample(ready)), "--message", "zeros", home=laptop
    )
    assert code == 0 and csv["status"] == "scored" and csv["user"] == "alice", csv
    code, py = harness_here_json(
        "submit", "titanic", str(write(tmp_path / "w.py", WOMEN)), home=laptop
    )
    assert code == 0 and py["status"] == "scored" and py["sandboxed"] is True, py
    assert py["id"] > csv["id"] and py["private_score"] is None

    # impersonation: a usage error, nothing queued
    bob = harness_here("submit", "titanic", str(sample(ready)), "--user", "bob", home=laptop)
    assert bob.returncode == 2 and "alice" in bob.stderr
    # the server's numerics are the organiser's: a member's choice is refused, not ignored
    native = harness_here(
        "submit", "titanic", str(sample(ready)), "--numerics", "native", home=laptop
    )
    assert native.returncode == 2 and "--numerics is for local runs" in native.stderr

    # the host's own commands work on the same store while the server runs
    code, host_board = harness_here_json("leaderboard", "titanic", home=ready)
    code, board = harness_here_json("leaderboard", "titanic", home=laptop)
    # the same table on the member's machine as on the host (the host's first line says
    # the metric and the data)
    table = harness_here("leaderboard", "titanic", home=laptop).stdout.splitlines()
    assert table == harness_here("leaderboard", "titanic", home=ready).stdout.splitlines()[1:]
    assert table[0].split() == [
        "rank",
        "user",
        "score",
        "entries",
        "submission_id",
        "submitted_at",
        "baseline",
    ]
    assert code == 0 and board == json.loads(json.dumps(host_board)) and board[0]["user"] == "alice"
    code, shown = harness_here_json("show", str(py["id"]), home=laptop)
    assert code == 0 and shown["user"] == "alice" and shown["status"] == "scored"
    assert shown["private_score"] is None and "run_dir" not in shown
    assert all("path" not in a for a in shown["artifacts"])
    human = harness_here("submit", "titanic", str(sample(ready)), home=laptop)
    assert human.returncode == 0 and "scored" in human.stdout and "rank 1 of 1" in human.stdout
    queued = harness_here_json("submit", "titanic", str(sample(ready)), "--no-wait", home=laptop)[1]
    assert queued["status"] == "queued" and queued["place"] >= 1

    # one server per home: a second one says which process holds it, and nothing else
    second = cli("serve", "--port", "1", home=ready)
    assert second.returncode == 1
    assert second.stderr == (
        f"harness: error: another harness serve (pid {server.proc.pid}) serves {ready}; "
        "stop it first\n"
    )

    # a new token: the old one stops working at once, and logout forgets the login
    assert harness_here("member", "token", "alice", home=ready).returncode == 0
    refused = harness_here("leaderboard", "titanic", home=laptop)
    assert refused.returncode == 1 and "token was refused" in refused.stderr
    assert harness_here("logout", home=laptop).returncode == 0
    assert not (laptop / "login.json").exists()


def test_hostile_clients_get_one_line_errors_and_change_nothing(serve, ready):
    alice = member(ready, "alice")
    server = serve()
    before = harness_here_json("leaderboard", "titanic", home=ready)[1]

    # no token, a wrong token, a removed member's token: the same 401, naming nobody
    harness_here_json("member", "add", "gone", home=ready)
    gone = harness_here_json("member", "token", "gone", home=ready)[1]["token"]
    assert harness_here("member", "remove", "gone", home=ready).returncode == 0
    answers = [
        server.api("GET", "/api/competitions"),
        server.api("GET", "/api/competitions", "hns_" + "A" * 43),
        server.api("GET", "/api/competitions", gone),
    ]
    assert [r.status_code for r in answers] == [401, 401, 401]
    assert answers[1].json() == answers[2].json() and list(answers[1].json()) == ["error"]
    assert "gone" not in answers[2].text

    # the hidden labels and the host's folders are out of reach (an encoded slash is
    # refused by Streamlit's path check, in plain text, before any route sees it)
    for path in (
        "/api/competitions/titanic/files/..%2Fhidden%2Ftest_labels.parquet",
        "/api/competitions/..%2F..%2F/files",
    ):
        r = server.api("GET", path, alice)
        assert r.status_code == 400 and r.text == "Bad Request", (path, r.text)
    for path in (
        "/api/competitions/titanic/files/../hidden/test_labels.parquet",
        "/api/competitions/titanic/files/hidden/test_labels.parquet",
        "/api/competitions/titanic/files/%2Fetc%2Fpasswd",
        "/api/competitions/titanic/files/train.csv/../../hidden/test_labels.parquet",
        "/api/submissions/1/record",
        "/api/nothing",
    ):
        r = server.api("GET", path, alice)
        assert r.status_code == 404 and list(r.json()) == ["error"], (path, r.text)

    # uploads: a path for a name, the wrong kind, over the code limit, no length
    for name, content, code in (
        ("../../evil.py", WOMEN.encode(), 400),
        ("evil.sh", b"rm -rf /", 400),
        ("big.py", b"#" * (10**6 + 1), 413),
        ("ok.py", WOMEN.encode(), 404),  # an unknown competition
    ):
        comp = "titanic" if name != "ok.py" else "titanicc"
        r = server.api(
            "POST", f"/api/competitions/{comp}/submissions", alice, files={"file": (name, content)}
        )
        assert r.status_code == code and list(r.json()) == ["error"], (name, r.text)
        assert "\n" not in r.json()["error"]

    def chunked():
        yield b"--x\r\n"

    r = server.api(
        "POST",
        "/api/competitions/titanic/submissions",
        alice,
        data=chunked(),
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert r.status_code == 411  # streamed without a length: refused before reading
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            b"POST /api/competitions/titanic/submissions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"Authorization: Bearer {alice}\r\n".encode()
            + b"Content-Type: multipart/form-data; boundary=x\r\n"
            + b"Content-Length: 200000000\r\n\r\n--x\r\n"
        )
        answer = b""  # 413 at once: the 200 MB are never read
        while not answer.endswith(b"}") and (chunk := sock.recv(4096)):
            answer += chunk
        answer = answer.decode()
    assert answer.startswith("HTTP/1.1 413") and '{"error":' in answer, answer
    server.stop()
    assert queue_rows(ready) == [] and not list((ready / "uploads").glob("*"))
    assert harness_here_json("leaderboard", "titanic", home=ready)[1] == before


def test_members_take_turns_and_concurrent_uploads_all_land(serve, ready):
    alice, bob = member(ready, "alice"), member(ready, "bob")
    # ten uploads at once from each member: over the rules' default queue cap (5)
    assert harness_here_json("rules", "titanic", "--max-queued", "10", home=ready)[0] == 0
    server = serve("--workers", "1")
    zeros = sample(ready).read_bytes()

    slow = server.upload(alice, "slow.py", SLOW.format(seconds=4).encode())
    server.wait(alice, slow["id"], until=("running",))
    mine = [server.upload(alice, "a.csv", zeros)["id"] for _ in range(3)]
    theirs = [server.upload(bob, "b.csv", zeros)["id"] for _ in range(2)]
    assert server.status(bob, theirs[0])["place"] == 1  # bob was not served yet: bob first
    assert server.status(alice, mine[2])["place"] == 5
    for sub_id in [slow["id"], *mine, *theirs]:
        server.wait(alice, sub_id)
    rows = harness_here_json("leaderboard", "titanic", home=ready)[1]
    assert {r["user"] for r in rows} == {"alice", "bob"}
    ran = [
        harness_here_json("show", str(i), home=ready)[1]["created_at"]
        for i in [slow["id"], theirs[0], mine[0], theirs[1], mine[1], mine[2]]
    ]
    assert ran == sorted(ran)  # alice, bob, alice, bob, alice, alice

    # 20 uploads at once from two members, the board and the app read meanwhile
    reads, stop = [], threading.Event()

    def read_board():
        while not stop.is_set():
            reads.append(
                server.api("GET", "/api/competitions/titanic/leaderboard", bob).status_code
            )
            reads.append(server.api("GET", "/").status_code)

    reader = threading.Thread(target=read_board)
    reader.start()
    with ThreadPoolExecutor(20) as pool:
        ids = list(
            pool.map(
                lambda i: server.upload(alice if i % 2 else bob, f"c{i}.csv", zeros)["id"],
                range(20),
            )
        )
    assert len(set(ids)) == 20
    done = [server.wait(bob, i)["status"] for i in ids]
    stop.set()
    reader.join()
    assert done == ["scored"] * 20
    assert reads and set(reads) == {200}
    server.stop()
    assert queue_rows(ready) == []


def test_a_crash_mid_run_runs_it_once_more_then_fails_it_and_queued_work_survives(serve, ready):
    alice = member(ready, "alice")
    server = serve()
    slow = server.upload(alice, "slow.py", SLOW.format(seconds=600).encode())["id"]
    server.wait(alice, slow, until=("running",))
    behind = server.upload(alice, "z.csv", sample(ready).read_bytes())["id"]
    assert server.status(alice, behind)["status"] == "queued"

    workers = workers_of(server)
    server.kill9()
    assert not outlive(workers), "a worker outlived the server"  # the sandbox dies with it
    assert queue_rows(ready) == [(slow, "running", 1), (behind, "queued", 0)]
    assert (
        harness_here_json("show", str(behind), home=ready)[1]["status"] == "queued"
    )  # on the host

    server = serve()  # the same home: the run goes back in line, once
    st = server.wait(alice, slow, until=("running",))
    assert st["attempt"] == 2
    server.kill9()
    server = serve()
    failed = server.wait(alice, slow)
    assert failed["status"] == "failed"
    assert "the server stopped during this run" in failed["error"]
    assert server.wait(alice, behind)["status"] == "scored"
    shown = harness_here_json("show", str(slow), home=ready)[1]
    assert shown["status"] == "failed" and shown["user"] == "alice"
    server.stop()
    assert queue_rows(ready) == [] and not list((ready / "uploads").glob("*"))


def test_without_a_sandbox_the_worker_still_dies_with_the_server(serve, ready, monkeypatch):
    monkeypatch.setenv("HARNESS_SANDBOX", "off")
    alice = member(ready, "alice")
    server = serve("--no-sandbox")
    slow = server.upload(alice, "slow.py", SLOW.format(seconds=600).encode())["id"]
    server.wait(alice, slow, until=("running",))
    workers = workers_of(server)
    server.kill9()
    assert not outlive(workers), "an unsandboxed worker outlived the server"
