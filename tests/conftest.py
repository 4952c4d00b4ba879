"""Shared fixtures: a harness home per test, offline data prepared once per session."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
KAGGLE_TITANIC = SHARED / "data" / "kaggle-titanic"


@pytest.fixture(scope="session", autouse=True)
def published_data():
    """The whole session prepares the published data (`HARNESS_SECRET=public`): the same
    fingerprints in every test home, and the README's measured figures. Tests of the
    secret set their own with monkeypatch."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_SECRET", "public")
        yield


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    """Downloaded wheels, kept between sessions (each is checked against its sha256 when
    read); HARNESS_TEST_CACHE moves them."""
    default = Path.home() / ".cache" / "harness-tests"
    path = Path(os.environ.get("HARNESS_TEST_CACHE") or default)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def data_root(tmp_path_factory, cache_dir) -> Path:
    """A harness home whose offline data is prepared once for all competitions."""
    root = tmp_path_factory.mktemp("prepared")
    env = {"HARNESS_HOME": str(root), "HARNESS_CACHE": str(cache_dir)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        from harness.competition import data, registry

        for comp in registry.discover().values():
            data.fetch_and_prepare(comp, "offline", log=lambda *_: None)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return root / "data"


@pytest.fixture
def home(tmp_path, monkeypatch, cache_dir) -> Path:
    """An empty harness home for one test (no data, no database)."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HARNESS_HOME", str(h))
    monkeypatch.setenv("HARNESS_CACHE", str(cache_dir))
    return h


@pytest.fixture
def ready(home, data_root) -> Path:
    """A harness home with the session's prepared offline data and an empty database."""
    (home / "data").symlink_to(data_root, target_is_directory=True)
    return home


def cli(*args: str, home: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs the real `harness` command in a subprocess."""
    env = dict(os.environ)
    if home is not None:
        env["HARNESS_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def harness_here(*args: str, home: Path | None = None) -> subprocess.CompletedProcess:
    """The `harness` command run in this process (`harness.cli.main.run`: the same code
    as the console script, without a Python start-up per call), as `cli` returns it.

    Args:
        home: the harness home for this call (default: $HARNESS_HOME as it is).
    """
    import contextlib
    import io

    from harness.cli.main import run

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        if home is not None:
            mp.setenv("HARNESS_HOME", str(home))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = run(list(args))
            except SystemExit as e:  # argparse's usage errors
                code = e.code
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def harness_here_json(*args: str, home: Path | None = None) -> tuple[int, object]:
    """`harness ... --json` in this process: its exit code and its one JSON value."""
    proc = harness_here(*args, "--json", home=home)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"stdout is not one JSON value:\n{proc.stdout}\nstderr:\n{proc.stderr}")


def started(*args: str, home: Path | None = None) -> subprocess.Popen:
    """The real `harness` command started in the background (stdout and stderr piped)."""
    env = dict(os.environ)
    if home is not None:
        env["HARNESS_HOME"] = str(home)
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def cli_json(*args: str, home: Path | None = None) -> tuple[int, object]:
    """Runs `harness ... --json` and parses stdout, which must be exactly one JSON value."""
    proc = cli(*args, "--json", home=home)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"stdout is not one JSON value:\n{proc.stdout}\nstderr:\n{proc.stderr}")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# a test cluster on the loopback only: Ray would otherwise swap 127.0.0.1 for the machine's
# own address (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 keeps it), and without Ray's token
# (nothing but this machine can reach it); a process that joins it needs the same
RAY_TEST_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}


def free_port_for_ray() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ray_cluster():
    """A real Ray cluster: `ray start --head --block` on 127.0.0.1 with two CPUs (its own
    temp folder, stopped by its own process group at the end); its address. This
    process is connected to it. RAY_TEST_ENV holds what a process joining it needs."""
    ray = pytest.importorskip("ray")
    port = free_port_for_ray()
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # Ray's sockets need a short path
    cmd = [
        sys.executable,
        "-m",
        "ray.scripts.scripts",
        "start",
        "--head",
        "--block",
        f"--port={port}",
        "--node-ip-address=127.0.0.1",
        "--num-cpus=2",
        "--num-gpus=0",
        "--include-dashboard=false",
        f"--temp-dir={temp}",
        "--disable-usage-stats",
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **RAY_TEST_ENV},
        start_new_session=True,  # its own process group: stopped as one at the end
    )
    address = f"127.0.0.1:{port}"
    mp = pytest.MonkeyPatch()
    mp.setattr(ray._private.ray_constants, "ENABLE_RAY_CLUSTER", False)
    try:
        deadline = time.monotonic() + 90
        while True:  # the head takes a few seconds to answer
            try:
                ray.init(address=address, logging_level="ERROR", log_to_driver=False)
                break
            except (ConnectionError, RuntimeError):
                assert proc.poll() is None and time.monotonic() < deadline, "ray start failed"
                time.sleep(1)
        yield address
    finally:
        ray.shutdown()
        mp.undo()
        os.killpg(proc.pid, signal.SIGKILL)  # a SIGTERM would drain for 30 s first
        proc.wait()
        for p in psutil.process_iter(["cmdline"]):  # nothing of it outlives the session
            if any(temp in a for a in p.info["cmdline"] or []):
                p.kill()


def kill_ray_worker(name: str = "ray::run_on_node", within: float = 120) -> int:
    """SIGKILLs the Ray worker process running a harness run once it has started; its pid."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for p in psutil.process_iter(["cmdline"]):
            if any(name in a for a in p.info["cmdline"] or []):
                time.sleep(1.0)  # the run has started inside it
                p.kill()
                return p.pid
        time.sleep(0.1)
    raise AssertionError("no Ray worker ran the task")
