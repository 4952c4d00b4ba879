"""Shared fixtures: a harness home per test, offline data prepared once per session."""

from __future__ import annotations

import contextlib
import fcntl
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
from _pytest.nodeid import coerce_node_id

REPO = Path(__file__).resolve().parent.parent
# Kaggle's own Titanic files (train.csv, test.csv as its competition page serves them): the
# Kaggle tests' fixture, in the repository so that they run in every clone
KAGGLE_TITANIC = REPO / "tests" / "kaggle" / "data" / "titanic"

# `./run test` spreads the tests over three pytest-xdist workers (-n 3 --dist loadgroup), one
# by one, except each group here, run whole by one worker: the tests that share a costly
# session fixture (built once, not once per worker: the leaderboard's filled home, the Ray
# cluster), the Ray tests (one counts the machine's raylets), and the Kaggle tests (the
# fake listens on one fixed port)
XDIST_GROUPS = {"board_home": "board", "ray_cluster": "ray"}
XDIST_MODULES = {
    "tests/run/test_ray_executor.py": "ray",
    "tests/kaggle/test_remote.py": "kaggle",
    "tests/server/test_kaggle_api.py": "kaggle_server",  # one server for the module
}


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = item.nodeid.split("::")[0]
        fixtures = [g for f, g in XDIST_GROUPS.items() if f in item.fixturenames]
        group = XDIST_MODULES.get(module) or next(iter(fixtures), None)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
            loadgroup = getattr(item.config.option, "loadgroup", False)  # an xdist worker's
            if loadgroup and not item.nodeid.endswith(f"@{group}") and hasattr(item, "_id"):
                # xdist 3.8 names the group in `item._nodeid`, which pytest 9.2 no longer
                # reads (its node ids are `_id`): the name its scheduler groups by, here
                item._id = coerce_node_id(f"{item.nodeid}@{group}")


@pytest.fixture(scope="session", autouse=True)
def published_data():
    """The whole session prepares the published data (`HARNESS_SECRET=public`): the same
    fingerprints in every test home, and the competition READMEs' measured figures. Tests of the
    secret set their own with monkeypatch."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_SECRET", "public")
        yield


@pytest.fixture(scope="session", autouse=True)
def one_thread_per_worker():
    """Under pytest-xdist, torch in a worker's own process (the tests that train there)
    uses one thread: two workers' OpenMP threads spinning on two cores slowed one such
    test 16 times. Runs are the harness's business: it tells their threads to wait
    passively when the cores are busy."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        from harness.run.repro import after_import

        after_import("torch", lambda torch: torch.set_num_threads(1))
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
    """A harness home whose offline data is prepared once for all competitions: once per
    run, shared by pytest-xdist's workers too (each its own session; the first prepares
    it under a lock in the run's folder, the others wait for it and read it)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # a worker's folder is popen-gwN inside the run's own
    root = base / "prepared"
    with open(base / "prepared.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (root / "prepared.done").exists():
            root.mkdir(exist_ok=True)
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
            (root / "prepared.done").touch()
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


# `ray start --address`, joining on the loopback: Ray refuses a second node where
# RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (the tests' loopback-only cluster) and, where it is 1,
# swaps 127.0.0.1 for the machine's address, on which the tests' head does not listen
JOIN_ON_LOOPBACK = """
import sys
from ray._private import ray_constants, services
ray_constants.ENABLE_RAY_CLUSTER = True
services.resolve_ip_for_localhost = lambda host: host
from ray.scripts.scripts import main
sys.argv = ["ray", *sys.argv[1:]]
main()
"""


@contextlib.contextmanager
def ray_node(address: str, env: dict[str, str], cpus: int = 2):
    """Another node joins the tests' Ray cluster (`ray start --address --block`, its own
    process group), with `env` in its environment as a machine's own; its Ray node id.
    It is stopped at the end and the cluster sees it gone before this returns."""
    import ray

    known = {n["NodeID"] for n in ray.nodes()}
    # as much memory as the head: Ray counts what is free when a node starts, and a run
    # asks for its whole limit (a node with less is infeasible for it)
    memory = max(int(n["Resources"].get("memory", 0)) for n in ray.nodes() if n["Alive"])
    cmd = [sys.executable, "-c", JOIN_ON_LOOPBACK, "start", f"--address={address}", "--block"]
    cmd += ["--node-ip-address=127.0.0.1", f"--num-cpus={cpus}", "--num-gpus=0"]
    cmd += [f"--memory={memory}"]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **RAY_TEST_ENV, **env},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not (new := [n for n in ray.nodes() if n["NodeID"] not in known and n["Alive"]]):
            assert proc.poll() is None and time.monotonic() < deadline, "the node did not join"
            time.sleep(0.5)
        yield new[0]["NodeID"]
    finally:  # `ray start --block` stops its node on SIGTERM and tells the head at once
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 60
        while any(n["Alive"] for n in ray.nodes() if n["NodeID"] not in known):
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)


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
