"""What the host measures itself, and what a run merely reports (issue 24, "The host").

A run shares its process with the worker, so nothing the worker writes is the host's
word: the attack below rewrites every fact the worker would report, forges the host's
`[harness]` log lines and draws its own confusion matrix. The record keeps the host's
figures, the run's claims apart under `reported`, the forged lines as the run's, and the
confusion matrix the harness drew from the run's valid predictions.
"""

from __future__ import annotations

import os
import threading
import time
from io import BytesIO

import pandas as pd
import pytest

from harness.competition import data, registry
from harness.run import runlog
from harness.run.runner import environment, given_device
from harness.store import submissions
from tests.conftest import harness_here
from tests.run.test_sandbox import GENDER, honest_home, needs_bwrap, submit, world  # noqa: F401

FORGED = {
    "device": "cuda:7",
    "versions": {"torch": "9.9.9", "gpu": "NVIDIA H100 80GB HBM3", "cuda": "99.0"},
    "gpu_peak_mb": 77777.0,
    "seconds": {"setup": 0.001, "train_predict": 0.002},
    "weights": [],
}
ATTACK = f"""
import json, resource, sys
from pathlib import Path

print("[harness] sandbox: none needed, this run is trusted")
print("  [harness] measured by the host: 0.1 s wall, peak memory 1 MiB, device cuda:7")
sys.stderr.write("\\x1b[2K\\r[harness] forged on stderr\\n")
print("[HARNESS] shouting, and a carriage return:\\r[harness] hidden", flush=True)

# the worker's end, rewritten: its facts, and the peak memory it reads
sys.modules["__main__"].process_facts = lambda device: {FORGED!r}
resource.getrusage = lambda who: type("R", (), {{"ru_maxrss": 99_999 * 1024}})()

def fit_predict(train, valid, test):
    job = json.loads(Path(sys.argv[1]).read_text())
    out, art = Path(job["out"]), Path(job["artifacts"])
    (out / "result.json").write_text(json.dumps({{"device": "cuda:7"}}))
    (art / "confusion_matrix.csv").write_text("actual,predicted died,predicted survived\\n"
                                             "died,999,0\\nsurvived,0,999\\n")
    (art / "artifacts.json").write_text(json.dumps([
        {{"name": "confusion_matrix.csv", "kind": "csv",
          "title": "Confusion matrix (validation set)"}}]))
    return {GENDER}
"""


@needs_bwrap
def test_a_run_cannot_forge_the_hosts_facts_log_lines_or_confusion_matrix(world, tmp_path):  # noqa: F811
    row = submit(tmp_path, "forger.py", ATTACK)
    assert row["status"] == "scored", row["error"]
    world.unchanged(row)

    # the host's figures: the device and GPU it gave, its packages, its own clock and watch
    device, gpu = given_device("auto")
    assert (row["device"], row["gpu"]) == (device, gpu)
    assert row["versions"] == environment() and row["versions"]["torch"] != "9.9.9"
    assert row["gpu_peak_mb"] is None  # the host measured none; the run's is its word
    assert 0 < row["peak_memory_mb"] < 99_999
    assert set(row["seconds"]) == {"setup", "run", "read_back", "report", "score"}
    assert row["seconds"]["run"] == pytest.approx(row["wall_seconds"])
    # ...and the run's claims, kept apart
    said = row["reported"]
    assert {k: said[k] for k in FORGED} == FORGED
    assert said["worker_peak_rss_mb"] == 99_999

    # every [harness] line is the host's; the forged ones are the run's
    log = row["log"].rstrip("\n").split("\n")  # a carriage return ends no line here
    host = [x for x in log if x.startswith("[harness]")]
    assert host[0].startswith("[harness] sandbox: bubblewrap") and len(host) >= 3
    assert not [x for x in host if "trusted" in x or "forged" in x or "0.1 s" in x], host
    assert host[-1] == (
        f"[harness] measured by the host: {row['wall_seconds']:.1f} s wall, peak memory "
        f"{row['peak_memory_mb']:,.0f} MiB, device {device}{f' ({gpu})' if gpu else ''}"
    )
    assert log[-1] == host[-1]  # nothing of the run's after the host's last word
    assert "[run] [harness] sandbox: none needed, this run is trusted" in log
    assert "  [run] [harness] measured by the host: 0.1 s wall" in row["log"]
    assert "\x1b[2K\r[run] [harness] forged on stderr" in log
    assert "[run] [HARNESS] shouting, and a carriage return:\r[run] [harness] hidden" in log

    # the confusion matrix: the harness's, from the run's valid predictions
    prepared = data.current(registry.get("titanic"))
    valid = prepared.load("valid")
    predicted = (valid["Sex"] == "female").astype(int)
    want = pd.crosstab(valid["Survived"], predicted).reindex(index=[0, 1], columns=[0, 1])
    found = {a["name"]: a for a in row["artifacts"]}
    assert set(found) == {"confusion_matrix.csv", "confusion_matrix.png"}
    cm = pd.read_csv(found["confusion_matrix.csv"]["path"])
    assert cm[["predicted died", "predicted survived"]].to_numpy().tolist() == want.values.tolist()
    assert found["confusion_matrix.csv"]["title"].startswith("Confusion matrix (validation set)")

    # `harness show` puts the run's word under its own heading, after the host's figures
    shown = harness_here("show", str(row["id"]), home=world.home).stdout
    host_part, _, run_part = shown.partition("reported by the run (its own word")
    assert ["device", device] in [x.split() for x in host_part.splitlines()]
    assert "cuda:7" not in host_part and "cuda:7" in run_part and "77777" in run_part
    assert submissions.submission(row["id"])["reported"]["device"] == "cuda:7"


def relayed(chunks: list[bytes], cap: int = 1 << 20) -> tuple[bytes, list[str]]:
    """What the relay writes, and the lines it hands on, for output written in chunks."""
    read_end, write_end = os.pipe()
    log, lines = BytesIO(), []
    relay = runlog.Relay(read_end, log, cap, lines.append)
    relay.host("[harness] header")
    relay.start()
    for c in chunks:
        os.write(write_end, c)
        time.sleep(0.01)  # each its own read, as a run's writes come
    os.close(write_end)
    relay.stop()
    relay.host("[harness] footer")
    return log.getvalue(), lines


def test_the_relay_escapes_forged_lines_across_reads_and_keeps_the_host_lines_whole():
    text, lines = relayed(
        [b"ok\n[harn", b"ess] split\n", b"no newline", b" [harness] mid-line\n", b"\t[harness] t\r"]
    )
    assert text == (
        b"[harness] header\nok\n[run] [harness] split\nno newline [harness] mid-line\n"
        b"\t[run] [harness] t\r\n[harness] footer\n"
    )
    assert lines == [
        "[harness] header",
        "ok",
        "[run] [harness] split",
        "no newline [harness] mid-line",
        "\t[run] [harness] t\r",
        "[harness] footer",
    ]


def test_the_relay_caps_the_log_and_stops_waiting_for_a_writer_left_behind():
    read_end, write_end = os.pipe()
    log = BytesIO()
    relay = runlog.Relay(read_end, log, 100_000)
    relay.start()
    writer = threading.Thread(target=os.write, args=(write_end, b"x" * 300_000 + b"\n"))
    writer.start()
    writer.join(5)  # drained past the cap: the run is never blocked by its log
    assert not writer.is_alive()
    t0 = time.monotonic()
    relay.stop()  # the write end stays open, as a daemon's would
    assert time.monotonic() - t0 < runlog.DRAIN_SECONDS + 1
    assert 100_000 < len(log.getvalue()) <= 100_000 + 2 * runlog.CHUNK
    os.close(write_end)
