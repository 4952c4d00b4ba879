"""The group's server on Ray (`harness serve --executor ray`) against the tests' Ray cluster:
runs land on a node, and a run whose Ray worker dies goes back in line once."""

from __future__ import annotations

import threading

from tests.conftest import RAY_TEST_ENV, kill_ray_worker
from tests.server.conftest import SLOW, member


def test_the_server_runs_on_ray_and_requeues_a_lost_run_once(
    serve, ready, ray_cluster, monkeypatch
):
    for k, v in {**RAY_TEST_ENV, "RAY_ADDRESS": ray_cluster}.items():
        monkeypatch.setenv(k, v)
    alice = member(ready, "alice")
    server = serve("--executor", "ray")
    killer = threading.Thread(target=kill_ray_worker)
    killer.start()
    sub = server.upload(alice, "slow.py", SLOW.format(seconds=6).encode())
    killer.join()
    done = server.wait(alice, sub["id"], limit=240)
    assert done["status"] == "scored" and done["executor"] == "ray", done
    record = server.api("GET", f"/api/submissions/{sub['id']}/record", alice).json()
    assert record["node"] and record["sandboxed"] is True
    log = server.log.read_text()
    assert f"submission {sub['id']}: the Ray node running it was lost" in log
    assert "queued to run once more" in log
    assert "runs go to Ray (1 node(s), 2 CPUs)" in log
