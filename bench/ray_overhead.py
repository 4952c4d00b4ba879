"""What Ray adds to a run, and what it gives back when runs share a machine.

    python bench/ray_overhead.py [--repeat N] [--runs N] [--address HOST:PORT]

In a fresh harness home (offline Titanic, prepared once), Titanic's gender rule goes
through `pipeline.submit`:
- the fixed cost: the best of N whole submits with the local executor and with the Ray
  executor (Ray already started; starting it is timed apart);
- throughput: --runs small runs (the gender rule after a 2 s sleep: a stand-in for a
  short training) one after another locally, against all of them handed to Ray at once
  (as many at a time as the cluster has CPUs).
Without --address (or RAY_ADDRESS) a local Ray is started for the benchmark on
127.0.0.1. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SLEEPY = (
    "import time\n"
    "def fit_predict(train, valid, test):\n"
    "    time.sleep(2)\n"
    "    return (test['Sex'] == 'female').astype(int)\n"
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--address")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    os.environ["HARNESS_HOME"] = str(home)
    os.environ.setdefault("HARNESS_CACHE", str(Path.home() / ".cache" / "harness-tests"))
    from harness.competition import data, registry
    from harness.paths import submissions_dir
    from harness.run import pipeline
    from harness.run.ray_executor import RayExecutor, connect
    from harness.run.runner import LocalExecutor
    from harness.store import db

    db.serving()  # runs record from several threads of this process, as in the server
    data.fetch_and_prepare(registry.get("titanic"), "offline", log=lambda *_: None)
    t0 = time.perf_counter()
    ray = connect(args.address)
    start_s = time.perf_counter() - t0
    cpus = int(ray.cluster_resources().get("CPU", 1))
    gender = submissions_dir() / "titanic" / "gender_rule.py"
    sleepy = home / "sleepy.py"
    sleepy.write_text(SLEEPY)
    quiet = {"log": lambda *_: None}

    def submit(path, executor, user="bench"):
        t = time.perf_counter()
        row = pipeline.submit("titanic", path, user, executor=executor, **quiet)
        assert row["status"] == "scored", row["error"]
        return time.perf_counter() - t, row

    times = {"local": [], "ray": []}
    for _ in range(args.repeat):
        for name, ex in (("local", LocalExecutor()), ("ray", RayExecutor(args.address))):
            times[name].append(submit(gender, ex)[0])
    fixed = {k: min(v) for k, v in times.items()}
    median = {k: statistics.median(v) for k, v in times.items()}

    t = time.perf_counter()
    for i in range(args.runs):
        submit(sleepy, LocalExecutor(), f"m{i}")
    serial_s = time.perf_counter() - t
    limits = pipeline.Limits(memory_mb=1024)  # what each asks of the node
    t = time.perf_counter()
    with ThreadPoolExecutor(cpus) as pool:
        list(
            pool.map(
                lambda i: pipeline.submit(
                    "titanic",
                    sleepy,
                    f"r{i}",
                    limits=limits,
                    executor=RayExecutor(args.address),
                    **quiet,
                ),
                range(args.runs),
            )
        )
    ray_s = time.perf_counter() - t

    print(f"Ray: {len(ray.nodes())} node(s), {cpus} CPUs; started or joined in {start_s:.1f} s")
    print(f"{'one run (gender rule)':<28}{'best s':>9}{'median s':>10}")
    for k in ("local", "ray"):
        print(f"{k:<28}{fixed[k]:>9.2f}{median[k]:>10.2f}")
    added = fixed["ray"] - fixed["local"]
    print(f"{'Ray adds':<28}{added:>9.2f}{median['ray'] - median['local']:>10.2f}")
    print(
        f"{args.runs} runs of 2 s + scoring: one after another locally {serial_s:.1f} s, "
        f"through Ray {cpus} at a time {ray_s:.1f} s ({serial_s / ray_s:.2f}x)"
    )
    print(
        json.dumps(
            {
                "nodes": len(ray.nodes()),
                "cpus": cpus,
                "ray_start_s": round(start_s, 2),
                "local_run_s": round(fixed["local"], 3),
                "ray_run_s": round(fixed["ray"], 3),
                "ray_adds_s": round(added, 3),
                "runs": args.runs,
                "serial_local_s": round(serial_s, 1),
                "through_ray_s": round(ray_s, 1),
                "speedup": round(serial_s / ray_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
