"""What a run wrote back, read and checked: its out/ files, its artifacts, their sizes.

Everything the worker (or a notebook's kernel) wrote is hostile input. `settle` keeps
what the record needs of a run that has ended and deletes the rest; `read` reads back
result.json, epochs.jsonl and error.json, each under its cap, links and special files
refused, JSON type-checked, each string one short line. A broken file is one line saying
which file and why (`Malformed`). `take` copies what scoring needs out of a run that goes
on drawing its diagnostics, and `keep_taken` makes those files the ended run's. The
runner (harness.run.runner) runs the worker and hands its folders here.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from harness.run import kaggle_way, weights

# what each file the worker writes back may weigh, in bytes
RESULT_CAP = 1 * 2**20
EPOCHS_CAP = 16 * 2**20
ERROR_CAP = 64 * 2**10
PREDICTIONS_CAP = 512 * 2**20
RAW_PREDS_CAP = 1 * 2**30
MAX_EPOCHS = 100_000
ERROR_SHOWN = 2000  # characters of the worker's own error message kept
# what a run's warnings and decisions (result.json) may hold: each string one short line
MAX_WARNINGS = 20
WARNING_CHARS = 500
MAX_DECISIONS = 10  # kinds of decision: categorical, continuous, dropped, ...
MAX_NAMES = 2000  # names in one decision (a frame's columns)
NAME_CHARS = 200


class Malformed(Exception):
    """A file the worker wrote back that breaks its contract; str() is one line."""


def read_back(path: Path, cap: int) -> bytes | None:
    """A file the worker wrote: None when absent; a regular file under `cap` bytes.

    Raises:
        Malformed: a link, a folder, a device or pipe, or over the cap.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    name = f"{path.parent.name}/{path.name}"
    if stat.S_ISLNK(st.st_mode):
        raise Malformed(f"{name} is a symbolic link; links are refused")
    if not stat.S_ISREG(st.st_mode):
        raise Malformed(f"{name} is not a regular file")
    if st.st_size > cap:
        raise Malformed(f"{name} is {st.st_size:,} bytes, over its limit of {cap:,}")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        return f.read(cap + 1)[:cap]


def read_json(path: Path, cap: int):
    raw = read_back(path, cap)
    if raw is None:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise Malformed(f"{path.parent.name}/{path.name} is not JSON ({e})") from None


def _number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def check_result(result) -> dict:
    """result.json, type-checked: the fields the harness stores, each of its type."""
    if result is None:
        return {}
    if not isinstance(result, dict):
        raise Malformed(f"out/result.json is a {type(result).__name__}, not an object")
    want = {
        "device": str,
        "versions": dict,
        "seconds": dict,
        "model": dict,
        "gpu_peak_mb": (int, float),
        "worker_peak_rss_mb": (int, float),
    }
    for key, kind in want.items():
        v = result.get(key)
        if v is not None and (not isinstance(v, kind) or isinstance(v, bool)):
            raise Malformed(f"out/result.json: {key} is a {type(v).__name__}")
    if not all(_number(v) for v in (result.get("seconds") or {}).values()):
        raise Malformed("out/result.json: seconds holds a value that is not a number")
    if len(result.get("device") or "") > 64:
        raise Malformed("out/result.json: device is too long")
    m = result.get("model")
    if m is not None:
        ok = isinstance(m.get("architecture"), str) and len(m["architecture"]) <= 500
        ok = ok and all(isinstance(m.get(k), int) for k in ("parameters", "trainable"))
        if not ok:
            raise Malformed("out/result.json: model lacks its architecture or parameter counts")
    check_notes(result)
    check_weights(result.get("weights"))
    answer = result.get("output")  # the CSV a run in Kaggle's way handed in
    if answer is not None and not (
        isinstance(answer, str) and kaggle_way.OUTPUT_NAME.fullmatch(answer)
    ):
        raise Malformed("out/result.json: output is not a CSV's name in the working folder")
    return result


WEIGHTS_FIELDS = ("library", "name", "file", "sha256")


def check_weights(loaded) -> None:
    """result.json's `weights`: at most MAX_RECORDED objects of short strings (library,
    name, file, a sha256 of 64 hex digits).

    Raises:
        Malformed: anything else.
    """
    if loaded is None:
        return
    if not isinstance(loaded, list) or len(loaded) > weights.MAX_RECORDED:
        raise Malformed(f"out/result.json: weights is not a list of at most {weights.MAX_RECORDED}")
    for w in loaded:
        ok = isinstance(w, dict) and set(w) == set(WEIGHTS_FIELDS)
        ok = ok and all(isinstance(w[k], str) and 0 < len(w[k]) <= 500 for k in WEIGHTS_FIELDS)
        ok = ok and len(w["sha256"]) == 64 and all(c in "0123456789abcdef" for c in w["sha256"])
        if not ok or not w["file"].isprintable() or not w["name"].isprintable():
            raise Malformed(
                "out/result.json: weights holds an entry that is not library, name, file and sha256"
            )


def check_notes(result: dict) -> None:
    """result.json's `warnings` (a list of strings) and `decisions` (an object of lists of
    strings), type-checked, then cleaned in place: a string is one printable line, cut to
    its length, and a list to its count. A member's code names the columns they quote.

    Raises:
        Malformed: either of another type.
    """
    warnings = result.get("warnings")
    if warnings is not None:
        if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
            raise Malformed("out/result.json: warnings is not a list of strings")
        kept = [plain_line(w, WARNING_CHARS) for w in warnings[:MAX_WARNINGS]]
        if len(warnings) > MAX_WARNINGS:
            kept.append(f"and {len(warnings) - MAX_WARNINGS:,} more warnings: see the log")
        result["warnings"] = [w for w in kept if w]
    decisions = result.get("decisions")
    if decisions is not None:
        if (
            not isinstance(decisions, dict)
            or len(decisions) > MAX_DECISIONS
            or not all(
                isinstance(v, list) and all(isinstance(n, str) for n in v)
                for v in decisions.values()
            )
        ):
            raise Malformed(
                f"out/result.json: decisions is not an object of at most {MAX_DECISIONS} "
                "lists of strings"
            )
        result["decisions"] = {
            plain_line(k, NAME_CHARS): [plain_line(n, NAME_CHARS) for n in v[:MAX_NAMES]]
            for k, v in decisions.items()
        }


def plain_line(text: str, limit: int) -> str:
    """`text` as one printable line of at most `limit` characters: control and format
    characters (terminal escapes, bidi overrides, newlines) become spaces, runs of
    spaces one."""
    spaced = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)
    line = " ".join(spaced.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


EPOCH_NUMBERS = ("seconds", "train_loss", "valid_loss")


def check_epochs(raw: bytes | None) -> list[dict]:
    """epochs.jsonl, type-checked: one object per line, fit and epoch integers, numbers."""
    if raw is None:
        return []
    epochs = []
    for n, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            e = json.loads(line)
        except ValueError:
            raise Malformed(f"out/epochs.jsonl, line {n}: not JSON") from None
        if not isinstance(e, dict) or not all(
            isinstance(e.get(k), int) and not isinstance(e.get(k), bool) for k in ("fit", "epoch")
        ):
            raise Malformed(f"out/epochs.jsonl, line {n}: fit and epoch must be integers")
        bad = [
            k
            for k, v in e.items()
            if k not in ("fit", "epoch") and v is not None and not _number(v)
        ]
        if bad or any(len(k) > 100 for k in e):
            raise Malformed(
                f"out/epochs.jsonl, line {n}: {bad[0] if bad else 'a key'} is not a number"
            )
        epochs.append(e)
        if len(epochs) > MAX_EPOCHS:
            raise Malformed(f"out/epochs.jsonl holds more than {MAX_EPOCHS:,} epochs")
    return epochs


def kept_in_out() -> dict[str, int]:
    """The files of out/ the record needs, each with the bytes it may weigh."""
    from harness.run.notebook import EXECUTED, SHOWN_CAP
    from harness.run.worker import VALID_RAW

    return {
        "predictions.csv": PREDICTIONS_CAP,
        "valid_predictions.csv": PREDICTIONS_CAP,
        "raw_preds.npy": RAW_PREDS_CAP,
        VALID_RAW: RAW_PREDS_CAP,  # the host draws the competition's report from it
        "result.json": RESULT_CAP,
        "epochs.jsonl": EPOCHS_CAP,
        "error.json": ERROR_CAP,
        EXECUTED: SHOWN_CAP,
    }


def settle(run_dir: Path, rw: Path) -> str | None:
    """Keeps what the record needs of a run that has ended, deletes the rest; returns why
    its output was refused, or None.

    Kept: out/'s known files within their caps, and the artifacts its index declares
    within theirs (a PNG over the pixel cap is refused, a large one gets its thumbnail
    now, once). Deleted: any other file, link, special file or folder, work/ whole, and
    a refused file. A run whose folders were a tmpfs of their own (`rw`, harness.run.space)
    has what is kept copied into its run folder, before the tmpfs goes.
    """
    from harness.competition import artifacts

    out, arts = rw / "out", rw / "artifacts"
    shutil.rmtree(rw / "work", ignore_errors=True)  # scratch: nothing is kept
    problem = check_links([out, arts])
    caps = kept_in_out()
    for path in sorted(out.iterdir()) if out.is_dir() and not out.is_symlink() else []:
        cap = caps.get(path.name)
        size = path.lstat().st_size
        if cap is not None and path.is_file() and size <= cap:
            continue
        if cap is not None and path.is_file():
            problem = problem or f"out/{path.name} is {size:,} bytes, over its limit of {cap:,}"
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    refused = artifacts.keep_declared(arts)
    if rw != run_dir:
        for src, dest in ((out, run_dir / "out"), (arts, run_dir / "artifacts")):
            dest.mkdir(exist_ok=True)
            for path in src.iterdir() if src.is_dir() else []:
                shutil.copyfile(path, dest / path.name, follow_symlinks=False)
    if refused is None:
        try:
            for a in artifacts.read_index(run_dir / "artifacts"):
                if a["kind"] == "png":
                    artifacts.thumbnail(run_dir / "artifacts", a["name"])
        except artifacts.ArtifactError as e:
            refused = str(e)
            for path in (run_dir / "artifacts").iterdir():  # emptied: refused files go
                path.unlink()
            shutil.rmtree(run_dir / artifacts.THUMBS, ignore_errors=True)
    if problem:
        return f"the run's output was refused: {' '.join(problem.split())}"
    if refused:
        return f"its artifacts were refused: {' '.join(refused.split())}"
    return None


def check_links(folders: list[Path]) -> str | None:
    """The first link or special file in the run's folders (removed), or None."""
    problem = None
    for top in folders:
        if top.is_symlink():
            top.unlink()
            return f"{top.name} is a symbolic link; links are refused"
        for folder, dirs, files in os.walk(top, followlinks=False):
            for name in dirs + files:
                path = os.path.join(folder, name)
                mode = os.lstat(path).st_mode
                if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
                    continue
                rel = os.path.relpath(path, top.parent)
                what = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
                problem = problem or f"{rel} is {what}; links and special files are refused"
                os.unlink(path)
    return problem


@dataclass
class Written:
    """What a run wrote back, checked: result.json's fields, its epochs, and its error:
    the member's own message (error.json), why its output was refused, or None."""

    result: dict
    epochs: list[dict]
    error: str | None


def read(out: Path, artifacts: Path | None = None) -> Written:
    """Reads back and checks what the run left in `out` (and the links in `artifacts`).

    Links and special files are refused (and removed), each file has a size cap, JSON is
    type-checked. A broken file empties the result and says which file and why; the
    member's own error stands before it.
    """
    result, epochs, error = {}, [], None
    try:
        links = check_links([out] if artifacts is None else [out, artifacts])
        if links:
            raise Malformed(links)
        result = check_result(read_json(out / "result.json", RESULT_CAP))
        epochs = check_epochs(read_back(out / "epochs.jsonl", EPOCHS_CAP))
        err = read_json(out / "error.json", ERROR_CAP)
        if err is not None and not (isinstance(err, dict) and isinstance(err.get("message"), str)):
            raise Malformed("out/error.json has no message")
        if err is not None:
            # the member's own text: terminal escapes and bidi overrides go, as everywhere
            error = plain_line(err["message"], ERROR_SHOWN) or "the submission failed"
        read_back(out / "predictions.csv", PREDICTIONS_CAP)
        read_back(out / "raw_preds.npy", RAW_PREDS_CAP)
    except (Malformed, OSError) as e:
        result = {}
        error = error or f"the run's output was refused: {' '.join(str(e).split())}"
    return Written(result, epochs, error)


# The score first: a run that draws diagnostics after its predictions (what its model
# learned) says so once they are written (worker.SIGN in out/); the host takes what
# scoring needs into TAKEN and scores it while the run goes on. What was taken is what the
# run's folder keeps: whatever the run writes over it later is not what was scored.
TAKEN = "taken"  # in the run's folder, never shown to the run: what was scored
# the files scored, and the valid set's raw outputs the report draws on (worker.VALID_RAW)
SCORED = ("predictions.csv", "raw_preds.npy", "valid_predictions.csv", "valid_raw.npy")


def take(out: Path, taken: Path) -> Written | None:
    """Copies what scoring needs out of a run that goes on (its predictions, result.json,
    epochs.jsonl) into `taken`, each file checked as at the run's end; None when anything
    breaks the rules or no predictions are there (the run's end decides then)."""
    caps = kept_in_out()
    taken.mkdir()
    try:
        for name in (*SCORED, "result.json", "epochs.jsonl"):
            raw = read_back(out / name, caps[name])
            if raw is not None:
                (taken / name).write_bytes(raw)
        written = read(taken)
    except (Malformed, OSError):
        written = None
    if written is None or written.error or not (taken / "predictions.csv").exists():
        shutil.rmtree(taken, ignore_errors=True)
        return None
    return written


def keep_taken(run_dir: Path) -> None:
    """The files that were scored back in the ended run's out/, over what it left there."""
    taken, out = run_dir / TAKEN, run_dir / "out"
    out.mkdir(exist_ok=True)
    for name in SCORED:
        if (taken / name).exists():
            os.replace(taken / name, out / name)
        else:
            (out / name).unlink(missing_ok=True)
    shutil.rmtree(taken, ignore_errors=True)
