"""The demo's board: the group's server (`harness serve`) for this harness home on
127.0.0.1, in a process of its own that the demo starts and stops by its process id."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from harness.cli.console import err
from harness.errors import UsageError

HOST = "127.0.0.1"  # the demo's board is this machine's only: `harness serve` shares one
WAIT = 120.0  # seconds the board may take to answer (Streamlit's start: a few)
STOP_WAIT = 20.0  # seconds the server has to stop (its own graceful shutdown: 5)


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def answers(port: int, host: str = HOST) -> bool:
    """Whether a board (`harness serve`, Streamlit) on `host`:`port` answers its health
    check now; the demo, the tests and the benchmarks wait on it."""
    import http.client

    con = http.client.HTTPConnection(host, port, timeout=2)  # no proxy for loopback
    try:
        con.request("GET", "/_stcore/health")
        r = con.getresponse()
        return r.status == 200 and r.read() == b"ok"
    except OSError:
        return False
    finally:
        con.close()


def check_port(port: int) -> None:
    """Raises UsageError unless the board can bind `port` on 127.0.0.1 (as uvicorn binds)."""
    if not 0 < port < 65536:
        raise UsageError(f"--port takes a port from 1 to 65535, got {port}")
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError as e:
            raise UsageError(
                f"port {port} of {HOST} cannot serve the board ({e.strerror}): pass another "
                "--port, or leave --port out for a free one"
            ) from None


class Board:
    """The group's server (`harness serve`) for this harness home on 127.0.0.1, in its
    own process and session: a Ctrl-C reaches the demo, which stops the server by its
    process id (SIGTERM, then SIGKILL to its process group), and the server dies with
    the demo should the demo be killed (setpriv's parent-death signal)."""

    def __init__(self, proc: subprocess.Popen, port: int, log: Path):
        self.proc, self.port, self.log = proc, port, log
        self.url = f"http://{HOST}:{port}/"

    @classmethod
    def start(cls, port: int | None = None) -> Board:
        """Starts serving (the server takes a few seconds to answer: `ready`).

        Raises:
            UsageError: `port` is taken or out of range.
        """
        from harness.paths import private_home
        from harness.run import sandbox

        if port is None:
            port = free_port()
        else:
            check_port(port)
        argv = [sys.executable, "-m", "harness.cli", "serve", "--host", HOST]
        argv += ["--port", str(port), "--workers", "1"]  # the demo's runs are its own
        try:
            unsandboxed = sandbox.choose()[0] is None
        except sandbox.SandboxUnavailable:  # HARNESS_SANDBOX=require: serve says why
            unsandboxed = False
        if unsandboxed:  # as the demo's own runs go where no sandbox works (doctor says why)
            argv.append("--no-sandbox")
        if setpriv := shutil.which("setpriv"):  # dies with the demo, however it ends
            argv = [setpriv, "--pdeathsig", "TERM", "--", *argv]
        log = private_home() / "demo-server.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # the terminal's Ctrl-C is the demo's to handle
            )
        return cls(proc, port, log)

    def answers(self) -> bool:
        """Whether the board answers its health check now."""
        return answers(self.port)

    def ready(self, seconds: float = WAIT) -> bool:
        """Waits until the board answers; False when the server ended or took too long."""
        deadline = time.monotonic() + seconds
        while self.proc.poll() is None and time.monotonic() < deadline:
            if self.answers():
                return True
            time.sleep(0.1)
        return False

    def why(self) -> str:
        """The server's last words (its log's last line), and where its log is."""
        try:
            lines = [x for x in self.log.read_text(errors="replace").splitlines() if x.strip()]
        except OSError:
            lines = []
        said = lines[-1].strip() if lines else "no answer"
        if self.proc.poll() is None:
            said = f"no answer after {WAIT:.0f} s"
        return f"{said} (its log: {self.log})"

    def hold(self) -> None:
        """Serves until Ctrl-C (KeyboardInterrupt) or the server ends by itself."""
        self.proc.wait()
        err(f"[demo] the board stopped by itself: {self.why()}")

    def stop(self) -> None:
        """Stops the server and everything in its process group."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # uvicorn's graceful shutdown
            try:
                self.proc.wait(timeout=STOP_WAIT)
            except (subprocess.TimeoutExpired, KeyboardInterrupt):
                pass
        try:
            # its own group (start_new_session): what it left behind, if anything (a group's
            # id is not reused while one of its processes lives)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
