"""What the sandbox adds to a run: Titanic's gender rule and a small fastai run, on and off.

    python bench/sandbox_overhead.py [--repeat N]

Each submission goes through `pipeline.submit` in a fresh harness home (offline Titanic,
prepared once), alternately with HARNESS_SANDBOX=off and the sandbox; the figures are
the best of N of the run's wall time (starting the worker to its end) and of the whole
submit, in milliseconds, and the difference.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

FASTAI = '''"""One epoch of fastai's tabular_learner."""
from fastai.tabular.all import *


def train(dls):
    learn = tabular_learner(dls, metrics=accuracy, layers=[10, 10])
    learn.fit(1, lr=0.03)
    return learn
'''


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    os.environ["HARNESS_HOME"] = str(home)
    os.environ.setdefault("HARNESS_CACHE", str(Path.home() / ".cache" / "harness-tests"))
    from harness.competition import data, registry
    from harness.paths import submissions_dir
    from harness.run import pipeline, sandbox

    sb, why = sandbox.find()
    if sb is None:
        sys.exit(f"no sandbox on this host: {why}")
    data.fetch_and_prepare(registry.get("titanic"), "offline", log=lambda *_: None)
    fastai = home / "tiny_fastai.py"
    fastai.write_text(FASTAI)
    cases = {"gender_rule.py": submissions_dir() / "titanic" / "gender_rule.py", "fastai": fastai}
    print(f"sandbox mode: {sb.mode}; best of {args.repeat}")
    print(
        f"{'run':<16}{'off run ms':>12}{'on run ms':>12}{'added':>9}{'off submit':>12}{'on submit':>11}"
    )
    for name, path in cases.items():
        best = {}
        for _ in range(args.repeat):
            for mode in ("off", "auto"):
                os.environ[sandbox.SETTING] = mode
                t0 = time.perf_counter()
                row = pipeline.submit("titanic", path, "bench", log=lambda *_: None)
                total = (time.perf_counter() - t0) * 1000
                assert row["status"] == "scored", row["error"]
                assert row["sandboxed"] is (mode == "auto")
                run = row["wall_seconds"] * 1000
                old = best.get(mode, (1e18, 1e18))
                best[mode] = (min(old[0], run), min(old[1], total))
        (off_run, off_total), (on_run, on_total) = best["off"], best["auto"]
        print(
            f"{name:<16}{off_run:>12.0f}{on_run:>12.0f}{on_run - off_run:>+9.0f}"
            f"{off_total:>12.0f}{on_total:>11.0f}"
        )


if __name__ == "__main__":
    main()
