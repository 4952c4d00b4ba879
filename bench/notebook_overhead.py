"""What `harness submit` adds to a notebook: the harness vs nbclient on its own.

Both execute the same course-style Titanic notebook (fastai's tabular_learner, EPOCHS
epochs, about 30 s here, reading `../input/titanic/` behind Kaggle's switch and writing
submission.csv) with nbclient on a fresh IPython kernel, timed from the outside,
interpreter start-up included. The harness adds the sandbox, the seeding, copying the
inputs, picking and validating the CSV, scoring and one DuckDB transaction. Then a
trivial notebook (it copies the sample submission) against submitting that CSV itself:
the fixed cost of a notebook run.

    .venv/bin/python bench/notebook_overhead.py [--repeat N] [--epochs N]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

CELLS = [
    "import os\nfrom pathlib import Path\n"
    "iskaggle = os.environ.get('KAGGLE_KERNEL_RUN_TYPE', '')\n"
    "path = Path('../input/titanic') if iskaggle else Path('titanic')",
    "from fastai.tabular.all import *\n"
    "df = pd.read_csv(path/'train.csv')\ntst = pd.read_csv(path/'test.csv')",
    "cats, conts = ['Sex', 'Pclass', 'Embarked'], ['Age', 'SibSp', 'Parch', 'Fare']\n"
    "dls = TabularPandas(df, splits=RandomSplitter(seed=42)(df), procs=[Categorify, "
    "FillMissing, Normalize], cat_names=cats, cont_names=conts, y_names='Survived', "
    "y_block=CategoryBlock()).dataloaders(path='.')",
    "learn = tabular_learner(dls, metrics=accuracy, layers=[10, 10])\nlearn.fit({epochs}, lr=0.03)",
    "preds, _ = learn.get_preds(dl=learn.dls.test_dl(tst))\n"
    "tst['Survived'] = preds.argmax(1).numpy()\n"
    "tst[['PassengerId', 'Survived']].to_csv('submission.csv', index=False)",
]
TRIVIAL = ["import shutil\nshutil.copy('../input/titanic/sample_submission.csv', 'submission.csv')"]
EXECUTE = (
    "import sys, nbformat, nbclient\n"
    "nb = nbformat.read(sys.argv[1], as_version=4)\n"
    "nbclient.NotebookClient(nb, kernel_name='python3', resources={'metadata': "
    "{'path': sys.argv[2]}}).execute()\n"
)


def notebook(path: Path, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)
    return path


def timed(cmd: list[str], env: dict, cwd: Path | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout[-1000:]}\n{proc.stderr[-2000:]}")
    return wall, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=180)  # about 30 s here
    args = ap.parse_args()
    home = Path(os.environ.get("HARNESS_HOME") or tempfile.mkdtemp(prefix="bench-home-"))
    env = {**os.environ, "HARNESS_HOME": str(home)}
    harness = [sys.executable, "-m", "harness.cli"]
    subprocess.run([*harness, "data", "fetch", "titanic"], env=env, check=True, capture_output=True)
    files = home / "data" / "titanic" / "current" / "files"
    scratch = Path(tempfile.mkdtemp(prefix="bench-nb-"))
    course = notebook(scratch / "course.ipynb", [c.format(epochs=args.epochs) for c in CELLS])
    trivial = notebook(scratch / "trivial.ipynb", TRIVIAL)
    print(f"harness home {home}; {args.repeat} run(s) each, alternating; {args.epochs} epochs")

    plain, wrapped = [], []
    for i in range(args.repeat):
        # nbclient alone, in Kaggle's layout: ../input/titanic beside the working folder
        kaggle = Path(tempfile.mkdtemp(prefix="bench-kaggle-"))
        shutil.copytree(files, kaggle / "input" / "titanic")
        (kaggle / "working").mkdir()
        alone = {**env, "KAGGLE_KERNEL_RUN_TYPE": "Batch"}
        wall, _ = timed(
            [sys.executable, "-c", EXECUTE, str(course), str(kaggle / "working")], alone
        )
        plain.append(wall)
        shutil.rmtree(kaggle)
        wall, out = timed(
            [*harness, "submit", "titanic", str(course), "--user", "bench", "--json"], env
        )
        wrapped.append(wall)
        row = json.loads(out)
        if row["status"] != "scored":
            sys.exit(f"the harness run failed: {row['error']}")
        print(
            f"run {i + 1}: nbclient {plain[-1]:.1f} s, harness {wall:.1f} s "
            f"(worker {row['wall_seconds']:.1f} s, public accuracy {row['public_score']:.4f})"
        )
    p, h = min(plain), min(wrapped)
    print(f"best of {args.repeat}: nbclient alone {p:.1f} s, harness submit {h:.1f} s")
    print(f"notebook overhead: {h - p:+.1f} s, ratio harness/nbclient = {h / p:.3f}")

    csv, nb = [], []
    for _ in range(args.repeat):
        wall, _ = timed(
            [*harness, "submit", "titanic", str(files / "sample_submission.csv"), "--user", "b"],
            env,
        )
        csv.append(wall)
        wall, _ = timed([*harness, "submit", "titanic", str(trivial), "--user", "b"], env)
        nb.append(wall)
    c, n = min(csv), min(nb)
    print(f"trivial notebook {n:.1f} s against its CSV {c:.1f} s: {n - c:+.1f} s for the notebook")


if __name__ == "__main__":
    main()
