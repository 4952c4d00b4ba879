"""What `harness submit` adds to a training run: MovieLens collab_learner, harness vs plain script.

Both train fastai's collab_learner exactly as submissions/movielens/collab_learner.py does
(same DataLoaders, 5 epochs) and predict the hidden test set; both are timed from the
outside, interpreter start-up and imports included. The harness adds a worker process,
seeding, copying the inputs, validating, scoring and one DuckDB transaction.

    .venv/bin/python bench/movielens_overhead.py [--repeat N] [--load N]

`--load N` keeps N busy processes (a pure-Python loop each) running meanwhile, as other
jobs on a shared machine would: the harness must then be no slower than the plain script.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
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


def timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0,):
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return wall, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--load", type=int, default=0, help="busy processes running meanwhile")
    args = ap.parse_args()
    home = Path(os.environ.get("HARNESS_HOME") or tempfile.mkdtemp(prefix="bench-home-"))
    env = {**os.environ, "HARNESS_HOME": str(home)}
    harness = [sys.executable, "-m", "harness.cli"]
    subprocess.run(
        [*harness, "data", "fetch", "movielens"], env=env, check=True, capture_output=True
    )
    inputs = home / "data" / "movielens" / "current" / "inputs"
    work = Path(tempfile.mkdtemp(prefix="bench-plain-"))
    (work / "plain.py").write_text(PLAIN.format(repo=str(REPO), inputs=str(inputs)))
    print(f"harness home {home}; {args.repeat} run(s) each, alternating; load {args.load}")
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.load)]
    try:
        compare(args.repeat, work, env, harness)
    finally:
        for h in hogs:
            h.kill()
            h.wait()


def compare(repeat: int, work: Path, env: dict, harness: list[str]) -> None:
    plain, wrapped = [], []
    for i in range(repeat):
        wall, _ = timed([sys.executable, "plain.py"], work, env)
        plain.append(wall)
        sub = str(REPO / "submissions" / "movielens" / "collab_learner.py")
        wall, out = timed(
            [*harness, "submit", "movielens", sub, "--user", "bench", "--json"], work, env
        )
        wrapped.append(wall)
        row = json.loads(out)
        print(
            f"run {i + 1}: plain {plain[-1]:.1f} s, harness {wall:.1f} s "
            f"(worker {row['wall_seconds']:.1f} s, test RMSE {row['public_score']:.4f})"
        )
    p, h = min(plain), min(wrapped)
    print(f"best of {repeat}: plain script {p:.1f} s, harness submit {h:.1f} s")
    print(f"harness overhead: {h - p:+.1f} s, ratio harness/plain = {h / p:.3f}")


if __name__ == "__main__":
    main()
