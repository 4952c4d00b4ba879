"""Kaggle's way of handing in an answer: the contract a notebook written for Kaggle keeps.

A notebook, or a Python file that defines neither `train` nor `fit_predict`, runs top to
bottom as on Kaggle: the competition's files read-only at `/kaggle/input/<slug>/`, the
working directory `/kaggle/working` (so `../input/<slug>/` works too),
`KAGGLE_KERNEL_RUN_TYPE` set. Its answer is `submission.csv` in the working directory,
else the one CSV written there in the competition's submission format; `--output NAME`
picks one among several. The answer is then validated and scored on the host exactly
like an uploaded CSV.
"""

from __future__ import annotations

import os
import re
import runpy
import shutil
import sys
from pathlib import Path

INPUT = Path("/kaggle/input")
WORKING = Path("/kaggle/working")
FILES = "kaggle"  # the run's copy of the competition's files, inside its inputs folder
ENTRIES = ("script", "notebook")  # the entries that run in Kaggle's way
ANSWER = "submission.csv"
MAX_CANDIDATES = 50  # CSVs looked at in the working directory
OUTPUT_NAME = re.compile(
    r"(?:[A-Za-z0-9_][A-Za-z0-9._-]{0,99}/){0,4}[A-Za-z0-9_][A-Za-z0-9._-]{0,99}"
)


def check_output(name: str | None) -> str | None:
    """--output: a CSV's name relative to /kaggle/working (folders allowed, no '..').

    Raises:
        UsageError: not such a name.
    """
    from harness.errors import UsageError

    if name is None or name == "":
        return None
    name = name.removeprefix(f"{WORKING}/").removeprefix("./")  # the same file, named so
    if not OUTPUT_NAME.fullmatch(name) or not name.lower().endswith(".csv"):
        raise UsageError(
            f"--output {name!r} is not a CSV's name in /kaggle/working (e.g. submission.csv "
            "or out/sub.csv: letters, digits, '.', '_', '-')"
        )
    return name


class NoAnswer(Exception):
    """The run left no CSV that can be its answer; str() is one line for its author."""


def slug(comp) -> str:
    """The folder under /kaggle/input: Kaggle's slug where the competition has one."""
    return comp.spec.kaggle or comp.name


def environment() -> dict[str, str]:
    """What Kaggle sets for a committed notebook, and pip told that there is no network
    (a `!pip install` cell fails at once and the notebook goes on, as on Kaggle)."""
    return {
        "KAGGLE_KERNEL_RUN_TYPE": "Batch",
        "PIP_RETRIES": "0",
        "PIP_TIMEOUT": "2",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
    }


def link_files(files: Path, dest: Path) -> None:
    """The competition's user-facing files into a run's inputs: copies, never links, so
    that a run without a sandbox (where nothing is read-only) cannot change the
    prepared files every later run reads (a few MiB: pets' images)."""
    for folder, _, names in os.walk(files):
        target = dest / Path(folder).relative_to(files)
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(os.path.join(folder, name), target / name)


def run_script(path: Path) -> None:
    """Runs a Kaggle-style script as `__main__`, as `python script.py` would."""
    sys.argv = [str(path)]
    try:
        runpy.run_path(str(path), run_name="__main__")
    except SystemExit as e:  # a script may end itself; only a failing code is a failure
        if e.code not in (None, 0):
            raise


def candidates(working: Path) -> list[str]:
    """The CSV files the run left in its working directory (relative names, sorted)."""
    found = []
    for folder, dirs, names in os.walk(working, followlinks=False):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder) / name
            if name.lower().endswith(".csv") and path.is_file() and not path.is_symlink():
                found.append(path.relative_to(working).as_posix())
                if len(found) >= MAX_CANDIDATES:
                    return found
    return found


def pick(working: Path, comp, test_ids, wanted: str | None, what: str) -> str:
    """The name of the CSV in `working` that is the run's answer.

    Args:
        comp: the competition (its submission format).
        test_ids: the test's ids, which the answer must hold.
        wanted: the name `--output` gave, if any.
        what: "the notebook" or "the script", for the messages.

    Raises:
        NoAnswer: the wanted file is missing, there is no CSV, none is in the format, or
            several are and none is named submission.csv.
    """
    from harness.validate import SubmissionError, validate_csv

    found = candidates(working)
    listed = ", ".join(found) if found else "no CSV"
    if wanted:
        if wanted not in found:
            raise NoAnswer(f"--output {wanted}: {what} left no such file in {WORKING} ({listed})")
        return wanted
    if ANSWER in found:
        return ANSWER
    if not found:
        raise NoAnswer(
            f"{what} wrote no CSV in {WORKING}: Kaggle's answer is {ANSWER} there "
            f"(df.to_csv('{ANSWER}', index=False))"
        )
    fits, problems = [], []
    for name in found:
        try:
            validate_csv(working / name, comp.spec.submission, test_ids, name=name)
            fits.append(name)
        except SubmissionError as e:
            problems.append(str(e))
    if len(fits) == 1:
        return fits[0]
    if not fits:
        shown = "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else "")
        raise NoAnswer(f"no CSV {what} wrote is in {comp.name}'s submission format: {shown}")
    raise NoAnswer(
        f"{what} wrote {len(fits)} CSVs in {comp.name}'s submission format and none is "
        f"named {ANSWER}: {', '.join(fits)}; choose one with --output NAME"
    )


def hand_in(working: Path, out: Path, comp, test_ids, wanted: str | None, what: str) -> str:
    """Copies the run's answer to out/predictions.csv; returns its name."""
    name = pick(working, comp, test_ids, wanted, what)
    shutil.copyfile(working / name, out / "predictions.csv")
    print(f"[run] the answer: {name} (in {WORKING})", flush=True)
    return name
