"""What portable numerics cost: course baselines run natively and portably, timed and hashed.

Portable numerics (harness.run.repro.PORTABLE: torch's, oneDNN's, MKL's, OpenBLAS's and
numpy's AVX2 kernels, two threads) give every x86-64 machine of a group the same bits; on a
CPU with AVX-512 or AMX they give up its wider kernels, on one with more than two cores its
other cores (for one run). Each baseline is submitted natively and portably, alternating, in a
fresh harness home; the best wall time of each and whether the predictions differ are
printed, with the ratio portable/native.

    .venv/bin/python bench/portable_numerics.py [--repeat N] [BASELINE ...]

BASELINE is competition/file under submissions/ (default: mnist/simple_cnn.py,
movielens/collab_learner.py, titanic/fastai_tabular.py).
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT = ("mnist/simple_cnn.py", "movielens/collab_learner.py", "titanic/fastai_tabular.py")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("baselines", nargs="*", default=list(DEFAULT))
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    os.environ.setdefault("HARNESS_HOME", tempfile.mkdtemp(prefix="bench-numerics-"))
    from harness.run import pipeline, repro

    caps = " ".join(f"{k}={v}" for k, v in repro.PORTABLE.items())
    print(f"harness home {os.environ['HARNESS_HOME']}; portable: {caps}")
    print(f"CPU {repro.cpu_model()}: {repro.cpu_features()}")
    for baseline in args.baselines:
        name, file = baseline.split("/")
        subprocess.run(
            [sys.executable, "-m", "harness.cli", "data", "fetch", name],
            check=True,
            capture_output=True,
        )
        times: dict[bool, list[float]] = {False: [], True: []}
        hashes: dict[bool, set[str]] = {False: set(), True: set()}
        for _ in range(args.repeat):
            for portable in (False, True):
                row = pipeline.submit(
                    name,
                    REPO / "submissions" / name / file,
                    "bench",
                    limits=pipeline.Limits(portable=portable),
                    log=lambda *_: None,
                )
                if row["status"] != "scored":
                    raise SystemExit(f"{baseline} failed: {row['error']}")
                times[portable].append(row["wall_seconds"])
                hashes[portable].add(row["predictions_sha256"])
        native, portable = min(times[False]), min(times[True])
        same = "the same predictions" if hashes[False] == hashes[True] else "other predictions"
        print(
            f"{baseline}: native {native:.1f} s, portable {portable:.1f} s, "
            f"ratio portable/native {portable / native:.3f}; {same}"
        )


if __name__ == "__main__":
    main()
