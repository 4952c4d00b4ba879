"""A member's machine trusts neither the server nor what other members and their runs
wrote (issue 24): a lying server's file list writes nothing outside the competition's
folder, and says why in one line; terminal escapes in a run's log, error, docstring or
message never reach the terminal; the login token is never only on the command line.

The server here is a real HTTP server on 127.0.0.1 that answers what each attack needs.
"""

from __future__ import annotations

import fcntl
import hashlib
import http.server
import json
import os
import re
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import cli, harness_here, harness_here_json, write

# what a terminal would act on: CSI/OSC/other escapes, BEL, \r, backspace, C1, bidi
RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"  # OSC 52: `rm -rf ~` put on the clipboard
HOSTILE = f"\x1b[2J\x1b[H\x1b]0;owned\x07{CLIPBOARD}\x07\x9b2J\u202e\rOVER"


class Lying(http.server.BaseHTTPRequestHandler):
    """Answers each path from `routes`: (status, body bytes); anything else is a 404."""

    routes: dict[str, tuple[int, bytes]] = {}

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.server.asked.append(self.path)
        status, body = self.routes.get(self.path, (404, b'{"error": "no such thing"}'))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def lying(monkeypatch):
    """A server on 127.0.0.1 that this machine is logged in to (HARNESS_SERVER/TOKEN);
    set `routes` to what it answers."""
    routes: dict[str, tuple[int, bytes]] = {}
    handler = type("Handler", (Lying,), {"routes": routes})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.asked = []
    threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_port}"
    monkeypatch.setenv("HARNESS_SERVER", url)
    monkeypatch.setenv("HARNESS_TOKEN", "hns_test")
    srv.url, srv.routes = url, routes
    yield srv
    srv.shutdown()
    srv.server_close()


def answer(routes: dict, path: str, obj, status: int = 200) -> None:
    routes[path] = (status, obj if isinstance(obj, bytes) else json.dumps(obj).encode())


def entry(path: str, body: bytes) -> dict:
    """One file of a listing as the server's API gives it."""
    return {"path": path, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def everything(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_a_lying_servers_file_list_writes_nothing_outside_the_folder(home, lying, tmp_path):
    files = "/api/competitions/titanic/files"
    folder = home / "remote" / f"127.0.0.1_{lying.server_port}" / "titanic"
    good = b"PassengerId,Pclass\n1,3\n"
    answer(lying.routes, f"{files}/train.csv", good)
    answer(lying.routes, f"{files}/big.csv", good * 1000)
    outside = tmp_path / "outside"  # a link left in the member's folder leads here
    outside.mkdir()
    listing = {"competition": "titanic", "fingerprint": "f", "files": [entry("train.csv", good)]}
    attacks = {
        "another competition": {**listing, "competition": "mnist"},
        "a name that climbs out": {**listing, "competition": "../../../evil"},
        "an absolute name": {**listing, "competition": str(tmp_path / "abs")},
        "an absolute path": {**listing, "files": [entry(str(tmp_path / "x.csv"), good)]},
        "a path that climbs out": {**listing, "files": [entry("../../../x.csv", good)]},
        "a path that climbs out later": {**listing, "files": [entry("a/../../x.csv", good)]},
        "a Windows path": {**listing, "files": [entry("..\\..\\x.csv", good)]},
        "an escape in a name": {**listing, "files": [entry(f"x{CLIPBOARD}.csv", good)]},
        "the manifest's name": {**listing, "files": [entry("checksums.json", good)]},
        "a file twice": {**listing, "files": [entry("train.csv", good)] * 2},
        "a file and a folder": {
            **listing,
            "files": [entry("train.csv", good), entry("train.csv/x", good)],
        },
        "no checksum": {**listing, "files": [{"path": "train.csv", "bytes": 3}]},
        "no list": {**listing, "files": "train.csv"},
        "through a link": {**listing, "files": [entry("link/x.csv", good)]},
        "more bytes than listed": {**listing, "files": [entry("big.csv", good)]},
        "another file than listed": {
            **listing,
            "files": [entry("train.csv", b"x" * len(good))],
        },
    }
    for what, lie in attacks.items():
        answer(lying.routes, files, lie)
        if what == "through a link":
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "link").symlink_to(outside, target_is_directory=True)
        before = everything(tmp_path)
        proc = harness_here("data", "fetch", "titanic")
        assert proc.returncode == 1, (what, proc.stdout, proc.stderr)
        said = proc.stderr.strip()
        assert "\n" not in said and said.startswith("harness: error: "), (what, said)
        assert not RAW.search(said), (what, said)
        # nothing new anywhere but an empty folder of titanic's own
        new = everything(tmp_path) - before
        assert all((tmp_path / p).is_dir() for p in new), (what, new)
        assert all(folder in [tmp_path / p, *(tmp_path / p).parents] for p in new), (what, new)
        assert not list(outside.iterdir()) and not (tmp_path / "x.csv").exists(), what
        (folder / "link").unlink(missing_ok=True)
    answer(lying.routes, files, attacks["another competition"])
    said = harness_here("data", "fetch", "titanic").stderr
    assert "refused the server's file list of titanic: it is for 'mnist'" in said
    # not JSON at all, and an error message that tries the terminal: one clean line
    answer(lying.routes, files, b"<html>\x1b]0;x\x07")
    said = harness_here("data", "fetch", "titanic").stderr
    assert said.count("\n") == 1 and "is not JSON" in said and not RAW.search(said.strip())
    answer(lying.routes, files, {"error": f"down\n{HOSTILE} for maintenance"}, status=503)
    said = harness_here("data", "fetch", "titanic").stderr
    assert said.count("\n") == 1 and "for maintenance" in said and not RAW.search(said.strip())
    # and the honest answer still works: the file, its manifest, in the folder
    answer(lying.routes, files, listing)
    proc = harness_here("data", "fetch", "titanic")
    assert proc.returncode == 0, proc.stderr
    assert (folder / "train.csv").read_bytes() == good
    assert json.loads((folder / "checksums.json").read_text()) == listing
    assert harness_here("data", "fetch", "../titanic").returncode == 2  # the member's own slip


def record(hostile: str) -> dict:
    """A submission's record as the server's API gives it, hostile wherever a member or a
    run writes."""
    return {
        "id": 7,
        "competition": "titanic",
        "user": f"ann{hostile}",
        "filename": f"m{hostile}.py",
        "message": f"try{hostile}",
        "status": "failed",
        "error": f"boom{hostile}",
        "docstring": f"Women first.{hostile}\nsecond line",
        "config": {"lr": f"x{hostile}"},
        "versions": {"torch": "2"},
        "warnings": [f"careful{hostile}"],
        "decisions": {"cat": [f"Sex{hostile}"]},
        "weights": [{"name": f"w{hostile}", "library": "timm", "sha256": "ab", "file": "f"}],
        "epochs": [{"epoch": 0, "seconds": 1.0, "metrics": {f"acc{hostile}": 0.5}}],
        "artifacts": [{"title": f"plot{hostile}", "kind": "image"}],
        "reproductions": [],
        "content": "x",
        "log": f"line one{hostile}\nprogress 10%\rprogress 100%\n\x1b[31mlast\x1b[0m",
        f"key{hostile}": 1,
    }


def test_show_leaderboard_and_diff_through_a_server_print_no_escapes(lying):
    answer(lying.routes, "/api/submissions/7", {"id": 7, "status": "failed"})
    answer(lying.routes, "/api/submissions/7/record", record(HOSTILE))
    board = [{"rank": 1, "user": f"bob{HOSTILE}", "score": 0.8, "also": {}, "entries": 1}]
    answer(lying.routes, "/api/competitions/titanic/leaderboard", board)
    diff = {
        "a": 7,
        "b": 8,
        "competition": f"titanic{HOSTILE}",
        "rows": 2,
        "metric": "accuracy",
        "scores": {"a": 0.5, "b": 1.0},
        "changed": 1,
        "wrong_to_right": 1,
        "right_to_wrong": 0,
        "wrong_to_other_wrong": 0,
        "flips": [{"label": f"1{HOSTILE}", "wrong_to_right": 1, "right_to_wrong": 0}],
        "per_class": [{"label": f"1{HOSTILE}", "rows": 2, "a_accuracy": 0.5, "b_accuracy": 1}],
    }
    answer(lying.routes, "/api/diff/7/8", diff)
    for args in (["show", "7"], ["leaderboard", "titanic"], ["diff", "7", "8"]):
        proc = harness_here(*args)
        assert proc.returncode == 0, (args, proc.stderr)
        assert not RAW.search(proc.stdout), (args, proc.stdout)
        assert "OVER" in proc.stdout, args  # the text stays, only what a terminal obeys goes
    shown = harness_here("show", "7").stdout
    assert "Women first.OVER\n  second line" in shown and "progress 100%" in shown
    # --json stays JSON: every control character escaped by json.dumps, the text intact
    code, row = harness_here_json("show", "7")
    assert code == 0 and row["log"] == record(HOSTILE)["log"]
    assert not RAW.search(harness_here("show", "7", "--json").stdout)


EVIL = r'''"""Women first.\x1b]0;pwned\x07\x1b[2J\x1b]52;c;cm0gLXJmIH4=\x07\u202e and more."""


def fit_predict(train, valid, test):
    print("fitting\x1b[2J\x1b[H\x1b]0;owned\x07\x1b]52;c;cm0gLXJmIH4=\x07\x07 done\rOVERWRITTEN")
    raise RuntimeError("boom\x1b]52;c;cm0gLXJmIH4=\x07\x1b[31m red\x9b2J")
'''


def test_show_of_a_real_run_that_writes_escapes_prints_none(ready, tmp_path):
    # the escapes are Python's own (\\x1b in the source): the member's code makes them
    evil = write(tmp_path / "evil.py", EVIL)
    t0 = time.monotonic()
    proc = cli("submit", "titanic", str(evil), "--user", "ann", "--message", f"m{HOSTILE}")
    assert proc.returncode == 1, proc.stderr
    assert not RAW.search(proc.stdout) and not RAW.search(proc.stderr.replace("\n", ""))
    sub = re.search(r"submission (\d+)", proc.stdout).group(1)
    code, row = harness_here_json("show", sub)
    # the record keeps what was written (the log as the run printed it) ...
    assert code == 0 and "\x1b]52;c;" in row["log"] and "\x1b]0;pwned" in row["docstring"]
    assert row["message"] == f"m{HOSTILE}"
    # ... and the terminal gets none of it
    shown = harness_here("show", sub).stdout
    assert not RAW.search(shown), shown
    assert "Women first. and more." in shown and "OVERWRITTEN" in shown and "boom" in shown
    assert time.monotonic() - t0 < 60


def test_login_takes_the_token_from_a_prompt_stdin_or_the_environment(home, lying, monkeypatch):
    answer(lying.routes, "/api/whoami", {"member": f"ann{HOSTILE}"})
    monkeypatch.delenv("HARNESS_SERVER")
    monkeypatch.delenv("HARNESS_TOKEN")
    token = "hns_" + "s3cret" * 6
    env = {**os.environ, "HARNESS_HOME": str(home)}
    cmd = [sys.executable, "-m", "harness.cli", "login", lying.url]

    def saved() -> str:
        got = json.loads((home / "login.json").read_text())["token"]
        (home / "login.json").unlink()
        return got

    # stdin, with --token - or from a pipe: nothing in argv
    for extra in (["--token", "-"], []):
        proc = subprocess.run(
            cmd + extra, input=token + "\n", capture_output=True, text=True, env=env, timeout=60
        )
        assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr
        assert not RAW.search(proc.stdout) and proc.stdout.startswith("logged in to")
        assert saved() == token
    # HARNESS_TOKEN
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env={**env, "HARNESS_TOKEN": token}, timeout=60
    )
    assert proc.returncode == 0 and saved() == token
    # on the command line: still works, for old scripts, with a warning
    proc = subprocess.run(cmd + ["--token", token], capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and "warning: a token on the command line" in proc.stderr
    assert saved() == token
    # nothing given: one line, nothing saved
    proc = subprocess.run(cmd, input="", capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert not (home / "login.json").exists()
    # a terminal: getpass asks, and the token is not echoed
    main, child = os.openpty()

    def terminal():  # the pty becomes the login's controlling terminal, as in a shell
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    p = subprocess.Popen(cmd, stdin=child, stdout=child, stderr=child, env=env,
                         preexec_fn=terminal)  # fmt: skip
    os.close(child)
    seen = b""
    while b"token for" not in seen:
        seen += os.read(main, 1024)
    os.write(main, token.encode() + b"\n")
    while True:
        try:
            chunk = os.read(main, 1024)
        except OSError:  # the login ended: EIO on the pty
            break
        if not chunk:
            break
        seen += chunk
    assert p.wait(timeout=60) == 0, seen
    os.close(main)
    assert token.encode() not in seen and b"logged in to" in seen
    assert saved() == token
