"""The Ray executor against a real Ray cluster this module starts on 127.0.0.1 (its own
temp folder, two CPUs) and stops by its own process group: scores identical to local
runs, two runs at once, a Ray worker killed mid-run, a timeout on the node."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest

from harness.run import pipeline
from harness.run.ray_executor import LOST, NodeLost, RayExecutor
from harness.run.runner import LocalExecutor
from tests.conftest import cli_json, write

ray = pytest.importorskip("ray")

WOMEN = "def fit_predict(train, valid, test):\n    return (test['Sex'] == 'female').astype(int)\n"
SLEEPY = (
    "import time\n"
    "def fit_predict(train, valid, test):\n"
    "    time.sleep({seconds})\n"
    "    return (test['Sex'] == 'female').astype(int)\n"
)
# MNIST: the nearest class mean of the pixels, deterministic and quick
CENTROIDS = """
import numpy as np

def fit_predict(train, valid, test):
    pixels = [c for c in train.columns if c.startswith("pixel")]
    means = train.groupby("label")[pixels].mean()
    d = ((test[pixels].to_numpy()[:, None, :] - means.to_numpy()[None]) ** 2).sum(-1)
    return means.index.to_numpy()[d.argmin(1)]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    """`ray start --head --block` on 127.0.0.1 with two CPUs; its address."""
    port = free_port()
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
    # a cluster on the loopback only: Ray would otherwise swap 127.0.0.1 for the
    # machine's own address (the flag is read when ray is imported, and at each call)
    # and without Ray's token (loopback only: nobody else can reach it)
    loopback = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **loopback},
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
        for p in psutil.process_iter(["cmdline"]):  # nothing of it outlives the module
            if any(temp in a for a in p.info["cmdline"] or []):
                p.kill()


def test_titanic_and_mnist_score_on_ray_as_they_do_locally(cluster, ready, tmp_path):
    for name, code in (("titanic", WOMEN), ("mnist", CENTROIDS)):
        path = write(tmp_path / f"{name}.py", code)
        local = pipeline.submit(name, path, "ann", executor=LocalExecutor())
        on_ray = pipeline.submit(name, path, "ann", executor=RayExecutor(cluster))
        assert local["status"] == on_ray["status"] == "scored", on_ray["error"]
        for key in ("public_score", "private_score", "valid_score", "predictions_sha256"):
            assert on_ray[key] == local[key], key
        assert (local["executor"], on_ray["executor"]) == ("local", "ray")
        assert on_ray["node"] == socket.gethostname() and on_ray["sandboxed"] is True
        assert on_ray["log"] and Path(on_ray["run_dir"], "out", "predictions.csv").exists()
        # reproduced on this machine, whichever executor ran it
        again = pipeline.reproduce(on_ray["id"], executor=LocalExecutor())
        assert again["identical"] is True


def test_two_runs_at_once_on_two_cpus(cluster, ready, tmp_path):
    path = write(tmp_path / "sleepy.py", SLEEPY.format(seconds=4))
    rows, t0 = [], time.monotonic()

    limits = pipeline.Limits(memory_mb=2048)  # what each asks the node for

    def one():
        rows.append(
            pipeline.submit("titanic", path, "ann", limits=limits, executor=RayExecutor(cluster))
        )

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - t0
    assert [r["status"] for r in rows] == ["scored", "scored"]
    assert all(r["wall_seconds"] >= 4 for r in rows)
    assert took < sum(r["wall_seconds"] for r in rows)  # side by side, not in turn


def kill_when_running(name: str = "ray::run_on_node", within: float = 60) -> int:
    """SIGKILLs the Ray worker running our task as soon as it has one; its pid."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for p in psutil.process_iter(["cmdline"]):
            if any(name in a for a in p.info["cmdline"] or []):
                time.sleep(1.0)  # it has started the run
                p.kill()
                return p.pid
        time.sleep(0.1)
    raise AssertionError("no Ray worker ran the task")


def test_a_ray_worker_killed_mid_run_ends_it_failed_or_back_in_line(cluster, ready, tmp_path):
    path = write(tmp_path / "long.py", SLEEPY.format(seconds=60))
    killer = threading.Thread(target=kill_when_running)
    killer.start()
    t0 = time.monotonic()
    row = pipeline.submit("titanic", path, "ann", executor=RayExecutor(cluster))
    killer.join()
    assert (row["status"], row["error"]) == ("failed", LOST)
    assert time.monotonic() - t0 < 45  # not the submission's 60 s: the loss ends it
    # the server's executor raises instead, and puts the work back in line once
    killer = threading.Thread(target=kill_when_running)
    killer.start()
    with pytest.raises(NodeLost, match=LOST):
        pipeline.submit("titanic", path, "bob", executor=RayExecutor(cluster, requeue=True))
    killer.join()
    assert not cli_json("leaderboard", "titanic")[1]
    assert not [p for p in psutil.process_iter(["cmdline"]) if "long.py" in str(p.info["cmdline"])]


def test_a_run_times_out_on_the_node(cluster, ready, tmp_path):
    path = write(tmp_path / "long.py", SLEEPY.format(seconds=60))
    limits = pipeline.Limits(timeout=3)
    row = pipeline.submit("titanic", path, "ann", limits=limits, executor=RayExecutor(cluster))
    assert row["status"] == "failed" and row["error"] == "timed out after 3 s; the run was stopped"
    assert row["executor"] == "ray" and row["wall_seconds"] < 30
