"""`harness serve`: never without a sandbox unless told, and it says which one."""

import os
import subprocess
import sys
from pathlib import Path

import pytest


def serve_says(home: Path, *args: str, env: dict[str, str]) -> tuple[int | None, list[str]]:
    """`harness serve`'s exit code (None: it was serving, and was stopped) and its first
    two stderr lines: the address, then the sandbox mode."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "serve", "--port", "0", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HARNESS_HOME": str(home), **env},
        start_new_session=True,  # its own process group, so nothing outlives the test
    )
    try:
        lines = [proc.stderr.readline().rstrip("\n") for _ in range(2)]
        try:
            return proc.wait(timeout=3), lines
        except subprocess.TimeoutExpired:
            return None, lines
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
        proc.stderr.close()


def test_serve_refuses_to_run_members_code_without_a_sandbox(home):
    code, lines = serve_says(home, env={"HARNESS_SANDBOX": "off"})
    assert code == 1
    assert lines[0] == (
        "harness: error: no sandbox for members' code (HARNESS_SANDBOX=off): install "
        "bubblewrap (docs/sandbox.md) or pass --no-sandbox to serve the group without one"
    )
    code, lines = serve_says(home, "--no-sandbox", env={"HARNESS_SANDBOX": "off"})
    assert code is None, lines  # serving
    assert lines[1] == (
        "harness: warning: members' code runs NOT sandboxed (HARNESS_SANDBOX=off; --no-sandbox)"
    )


def test_serve_says_which_sandbox_mode_is_in_force(home):
    from harness.run import sandbox

    sb, why = sandbox.find()
    if sb is None:
        pytest.skip(f"no sandbox on this host: {why}")
    code, lines = serve_says(home, env={"HARNESS_SANDBOX": "auto"})
    assert code is None, lines
    assert lines[1] == f"harness: members' code runs sandboxed: bubblewrap, {sb.mode} mode"
