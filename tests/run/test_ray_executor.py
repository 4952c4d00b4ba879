"""The Ray executor against a real Ray cluster the tests start on 127.0.0.1 (`ray_cluster`
in tests/conftest.py): scores identical to local runs, two runs at once, a Ray worker
killed mid-run, a timeout on the node, `--executor ray` with no address, and a second node
of other numerics whose portable runs score as the head's."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from harness.run import pipeline
from harness.run.ray_executor import LOST, NodeLost, RayExecutor, gpu_resource
from harness.run.runner import LocalExecutor
from harness.store import db
from tests.conftest import cli, cli_json, kill_ray_worker, ray_node, write
from tests.run.test_differences import CONV

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


def test_titanic_and_mnist_score_on_ray_as_they_do_locally(ray_cluster, ready, tmp_path):
    for name, code in (("titanic", WOMEN), ("mnist", CENTROIDS)):
        path = write(tmp_path / f"{name}.py", code)
        local = pipeline.submit(name, path, "ann", executor=LocalExecutor())
        on_ray = pipeline.submit(name, path, "ann", executor=RayExecutor(ray_cluster))
        assert local["status"] == on_ray["status"] == "scored", on_ray["error"]
        for key in ("public_score", "private_score", "valid_score", "predictions_sha256"):
            assert on_ray[key] == local[key], key
        assert (local["executor"], on_ray["executor"]) == ("local", "ray")
        assert on_ray["node"] == socket.gethostname() and on_ray["sandboxed"] is True
        assert on_ray["log"] and Path(on_ray["run_dir"], "out", "predictions.csv").exists()
        # reproduced on this machine, whichever executor ran it
        again = pipeline.reproduce(on_ray["id"], executor=LocalExecutor())
        assert again["identical"] is True


def test_two_runs_at_once_on_two_cpus(ray_cluster, ready, tmp_path, monkeypatch):
    monkeypatch.setattr(db, "_ONE_WRITER_PROCESS", True)  # two threads record, as the server's
    path = write(tmp_path / "sleepy.py", SLEEPY.format(seconds=2))
    rows, t0 = [], time.monotonic()

    limits = pipeline.Limits(memory_mb=2048)  # what each asks the node for

    def one():
        rows.append(
            pipeline.submit(
                "titanic", path, "ann", limits=limits, executor=RayExecutor(ray_cluster)
            )
        )

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - t0
    assert [r["status"] for r in rows] == ["scored", "scored"]
    assert all(r["wall_seconds"] >= 2 for r in rows)
    assert took < sum(r["wall_seconds"] for r in rows)  # side by side, not in turn


def test_a_ray_worker_killed_mid_run_ends_it_failed_or_back_in_line(ray_cluster, ready, tmp_path):
    path = write(tmp_path / "long.py", SLEEPY.format(seconds=60))
    killer = threading.Thread(target=kill_ray_worker)
    killer.start()
    t0 = time.monotonic()
    row = pipeline.submit("titanic", path, "ann", executor=RayExecutor(ray_cluster))
    killer.join()
    assert (row["status"], row["error"]) == ("failed", LOST)
    assert time.monotonic() - t0 < 45  # not the submission's 60 s: the loss ends it
    # the server's executor raises instead, and puts the work back in line once
    killer = threading.Thread(target=kill_ray_worker)
    killer.start()
    with pytest.raises(NodeLost, match=LOST):
        pipeline.submit("titanic", path, "bob", executor=RayExecutor(ray_cluster, requeue=True))
    killer.join()
    assert not cli_json("leaderboard", "titanic")[1]
    assert not [p for p in psutil.process_iter(["cmdline"]) if "long.py" in str(p.info["cmdline"])]


def test_a_run_times_out_on_the_node(ray_cluster, ready, tmp_path):
    path = write(tmp_path / "long.py", SLEEPY.format(seconds=60))
    limits = pipeline.Limits(timeout=3)
    row = pipeline.submit("titanic", path, "ann", limits=limits, executor=RayExecutor(ray_cluster))
    assert row["status"] == "failed" and row["error"] == "timed out after 3 s; the run was stopped"
    assert row["executor"] == "ray" and row["wall_seconds"] < 30


def test_executor_ray_without_an_address_starts_a_local_ray_and_stops_it(ready, tmp_path):
    path = write(tmp_path / "women.py", WOMEN)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    before = {p.pid for p in psutil.process_iter() if "raylet" in p.name()}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "submit",
            "titanic",
            str(path),
            "--user",
            "ann",
            "--executor",
            "ray",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = json.loads(proc.stdout)
    assert (row["status"], row["executor"], row["node"]) == ("scored", "ray", socket.gethostname())
    local = pipeline.submit("titanic", path, "bob", executor=LocalExecutor())
    assert row["public_score"] == local["public_score"]
    time.sleep(1)
    after = {p.pid for p in psutil.process_iter() if "raylet" in p.name()}
    assert after <= before  # its Ray ended with it
    shown = cli("show", str(row["id"])).stdout
    assert "executor" in shown and "ray" in shown


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86-64's instruction sets")
def test_two_nodes_of_other_numerics_score_alike_portably(ray_cluster, ready, tmp_path):
    # the second node stands for an older machine: oneDNN capped to AVX2 in its environment
    head = next(n["NodeID"] for n in ray.nodes() if n["Alive"])
    path = write(tmp_path / "conv.py", CONV)  # a convolution and a long sum
    with ray_node(ray_cluster, {"ONEDNN_MAX_CPU_ISA": "AVX2"}) as older:

        def run(node: str, portable: bool) -> dict:
            limits = pipeline.Limits(portable=portable)
            executor = RayExecutor(ray_cluster, node=node)
            row = pipeline.submit("movielens", path, "ann", limits=limits, executor=executor)
            assert row["status"] == "scored", row["error"]
            return row

        native = run(older, False)
        a, b = run(head, True), run(older, True)
    # the older node's own cap reached its native run (that a cap moves these predictions:
    # tests/run/test_differences.py), and its predictions are not the portable ones
    assert native["reported"]["versions"]["numerics_caps"] == "ONEDNN_MAX_CPU_ISA=AVX2"
    assert native["predictions_sha256"] != a["predictions_sha256"]
    assert a["predictions_sha256"] == b["predictions_sha256"]
    assert (a["public_score"], a["private_score"]) == (b["public_score"], b["private_score"])
    assert a["reported"]["versions"] == b["reported"]["versions"]  # caps, threads, all
    # a run asked of a node that has left fails with the reason, the store untouched else
    gone = pipeline.submit("movielens", path, "ann", executor=RayExecutor(ray_cluster, node=older))
    assert gone["status"] == "failed"
    assert gone["error"].startswith("the Ray node asked for cannot run it"), gone["error"]
    # Ray's own name of a GPU model: the resource a competition's GPU runs are sent to
    nodes = [{"CPU": 2.0, "GPU": 1.0, "accelerator_type:H100": 1.0}, {"CPU": 4.0}]
    assert gpu_resource(nodes, "NVIDIA H100 80GB HBM3") == "accelerator_type:H100"
    assert gpu_resource(nodes, "NVIDIA A100-SXM4-40GB") is None  # no node has one
    assert gpu_resource(nodes, None) is None
