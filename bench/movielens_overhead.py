"""What `harness submit` adds to a training run: MovieLens collab_learner, harness vs plain script.

Both train fastai's collab_learner exactly as submissions/movielens/collab_learner.py does
(same DataLoaders, 5 epochs) and predict the hidden test set; both are timed from the
outside, interpreter start-up and imports included. The harness adds a worker process,
seeding, copying the inputs, validating, scoring and one DuckDB transaction.

The harness is timed to its score: the moment `harness submit` says the row is recorded
with it (its stderr line `harness: submission N recorded`, printed once the transaction
is committed), as a member waits for it; the diagnostics (what the model learned, the
report) are drawn after it. The whole command's time is printed beside it.

    .venv/bin/python bench/movielens_overhead.py [--repeat N] [--load N] [--passive]

`--load N` keeps N busy processes (a pure-Python loop each) running meanwhile, as other
jobs on a shared machine would: the harness must then be no slower than the plain script.
`--passive` gives the plain script OMP_WAIT_POLICY=PASSIVE, as the worker has on a busy
machine (harness.run.repro.wait_policy): on a shared machine, where spinning OpenMP threads
make the plain script several times slower, the harness's own overhead alone.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PLAIN = """
import sys
import pandas as pd
from fastai.collab import collab_learner
sys.path.insert(0, {repo!r})
from harness.competition.registry import get

inputs = {inputs!r}
train, valid, test = (pd.read_parquet(f"{{inputs}}/{{s}}.parquet") for s in ("train", "valid", "test"))
dls = get("movielens").dls(train, valid)
learn = collab_learner(dls, n_factors=50, y_range=(0, 5.5))
learn.fit_one_cycle(5, 5e-3, wd=0.1)
preds, _ = learn.get_preds(dl=learn.dls.test_dl(test))
pd.DataFrame({{"id": test.id, "rating": preds.numpy().reshape(-1)}}).to_csv("preds.csv", index=False)
"""


RECORDED = re.compile(r"harness: submission \d+ recorded")


def timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, str, float | None]:
    """(the whole command's seconds, its stdout, the seconds to its `RECORDED` line)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seen: dict = {"lines": []}

    def follow() -> None:  # stderr as it comes: the record's line is timed when it shows
        for line in proc.stderr:
            if "recorded" not in seen and RECORDED.search(line):
                seen["recorded"] = time.perf_counter() - t0
            seen["lines"].append(line)

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    stdout = proc.stdout.read()
    proc.wait()
    wall = time.perf_counter() - t0
    reader.join()
    if proc.returncode not in (0,):
        sys.exit(f"failed: {' '.join(cmd)}\n{''.join(seen['lines'])[-2000:]}")
    return wall, stdout, seen.get("recorded")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--load", type=int, default=0, help="busy processes running meanwhile")
    ap.add_argument("--passive", action="store_true", help="the plain script's threads sleep")
    args = ap.parse_args()
    home = Path(os.environ.get("HARNESS_HOME") or tempfile.mkdtemp(prefix="bench-home-"))
    env = {**os.environ, "HARNESS_HOME": str(home)}
    plain_env = {**env, **({"OMP_WAIT_POLICY": "PASSIVE"} if args.passive else {})}
    harness = [sys.executable, "-m", "harness.cli"]
    subprocess.run(
        [*harness, "data", "fetch", "movielens"], env=env, check=True, capture_output=True
    )
    inputs = home / "data" / "movielens" / "current" / "inputs"
    work = Path(tempfile.mkdtemp(prefix="bench-plain-"))
    (work / "plain.py").write_text(PLAIN.format(repo=str(REPO), inputs=str(inputs)))
    print(
        f"harness home {home}; {args.repeat} run(s) each, alternating; load {args.load}"
        + ("; the plain script's OpenMP threads passive" if args.passive else "")
    )
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)]
    try:
        compare(args.repeat, work, env, plain_env, harness)
    finally:
        for h in hogs:
            h.kill()
            h.wait()


def compare(repeat: int, work: Path, env: dict, plain_env: dict, harness: list[str]) -> None:
    plain, scored, whole = [], [], []
    for i in range(repeat):
        wall, _, _ = timed([sys.executable, "plain.py"], work, plain_env)
        plain.append(wall)
        sub = str(REPO / "submissions" / "movielens" / "collab_learner.py")
        wall, out, recorded = timed(
            [*harness, "submit", "movielens", sub, "--user", "bench", "--json"], work, env
        )
        if recorded is None:
            sys.exit(
                "harness submit never said its row was recorded (`harness: submission N recorded`)"
            )
        scored.append(recorded)
        whole.append(wall)
        row = json.loads(out)
        print(
            f"run {i + 1}: plain {plain[-1]:.1f} s, harness {recorded:.1f} s to its score "
            f"({wall:.1f} s with its diagnostics; worker {row['wall_seconds']:.1f} s, "
            f"test RMSE {row['public_score']:.4f})"
        )
    p, h, w = min(plain), min(scored), min(whole)
    print(f"best of {repeat}: plain script {p:.1f} s, harness submit {h:.1f} s to its score")
    print(f"harness overhead: {h - p:+.1f} s, ratio harness/plain = {h / p:.3f} to the score")
    print(f"the whole command, diagnostics drawn: {w:.1f} s, ratio {w / p:.3f}")


if __name__ == "__main__":
    main()
