"""A real `harness serve` process on 127.0.0.1, started and stopped by its own process id,
and members' machines as other harness homes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from harness.cli.demo_board import free_port
from tests.conftest import cli_json

WOMEN = "def fit_predict(train, valid, test):\n    return (test['Sex'] == 'female').astype(int)\n"
SLOW = (
    "import time\n"
    "def fit_predict(train, valid, test):\n"
    "    time.sleep({seconds})\n"
    "    return (test['Sex'] == 'female').astype(int)\n"
)


class Server:
    """`harness serve` on a free port of 127.0.0.1, in the host's harness home."""

    def __init__(self, home: Path, log: Path, *args: str):
        self.home, self.log, self.args = home, log, args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Server:
        cmd = [sys.executable, "-m", "harness.cli", "serve", "--port", str(self.port), *self.args]
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "HARNESS_HOME": str(self.home)},
                start_new_session=True,  # its own process group: nothing outlives the test
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(self.url + "/api/health", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def kill9(self) -> None:
        """A crash: SIGKILL to the server's own process only."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def api(self, method: str, path: str, token: str | None = None, headers=None, **kwargs):
        headers = {**({"Authorization": f"Bearer {token}"} if token else {}), **(headers or {})}
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def upload(self, token: str, name: str, content: bytes, message: str | None = None) -> dict:
        r = self.api(
            "POST",
            "/api/competitions/titanic/submissions",
            token,
            files={"file": (name, content)},
            data={"message": message} if message else {},
        )
        assert r.status_code == 202, r.text
        return r.json()

    def status(self, token: str, sub_id: int) -> dict:
        return self.api("GET", f"/api/submissions/{sub_id}", token).json()

    def wait(self, token: str, sub_id: int, until=("scored", "failed", "rejected"), limit=120):
        deadline = time.monotonic() + limit
        while (st := self.status(token, sub_id))["status"] not in until:
            assert time.monotonic() < deadline, (st, self.log.read_text()[-3000:])
            time.sleep(0.2)
        return st


@pytest.fixture
def serve(ready, tmp_path):
    """Starts servers on the host home `ready`; stops every one at the end."""
    started: list[Server] = []

    def start(*args: str) -> Server:
        s = Server(ready, tmp_path / "serve.log", *args).start()
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()
        if s.proc.poll() is None:
            os.killpg(s.proc.pid, signal.SIGKILL)


def member(host: Path, name: str) -> str:
    """A new member on the host; their token."""
    code, out = cli_json("member", "add", name, home=host)
    assert code == 0 and out["member"] == name, out
    return out["token"]


def login(machine: Path, url: str, token: str) -> subprocess.CompletedProcess:
    """`harness login URL --token -` with the token piped on stdin, as a member would
    (a token in argv works but warns: `ps` and the shell's history show it)."""
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "login", url, "--token", "-"],
        input=token + "\n",
        capture_output=True,
        text=True,
        env={**os.environ, "HARNESS_HOME": str(machine)},
        timeout=300,
    )
