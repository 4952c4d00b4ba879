"""One submission from file to stored score: check, run, validate, score, record."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import numpy as np
import psutil

from harness.competition import artifacts, data, registry
from harness.competition.registry import Competition
from harness.errors import UsageError
from harness.paths import runs_dir
from harness.run import diagnostics, differences, kaggle_way, sandbox
from harness.run.repro import git_hash
from harness.run.runner import Executor, Job, LocalExecutor
from harness.run.scoring import also_scores, score
from harness.run.submission import Rejected, SubmissionFile, read
from harness.store import quotas, submissions
from harness.validate import SubmissionError, validate_csv

T = TypeVar("T")
DEFAULT_TIMEOUT = 3600.0
# what a run says of itself in result.json (the device and versions it saw, its phases'
# seconds, its GPU and memory peaks, the weights it loaded): kept as `reported`, apart from
# what the host gave and measured (device, GPU, versions, seconds, wall time, peak memory)
REPORTED = ("device", "versions", "seconds", "gpu_peak_mb", "worker_peak_rss_mb", "weights")
DEFAULT_SEED = 42
MAX_USER_LEN = 64


def default_memory_mb() -> float:
    """Three quarters of the machine's memory, at most 16 GiB."""
    return min(16 * 1024, psutil.virtual_memory().total / 2**20 * 0.75)


@dataclass
class Limits:
    seed: int = DEFAULT_SEED
    device: str = "auto"
    timeout: float = DEFAULT_TIMEOUT
    memory_mb: float | None = None
    output: str | None = None  # Kaggle's way: the CSV in /kaggle/working that is the answer
    portable: bool = False  # portable numerics (repro.PORTABLE): the same bits on any machine


def check_user(user: str) -> str:
    user = (user or "").strip()
    if not user or len(user) > MAX_USER_LEN or any(not c.isprintable() for c in user):
        raise UsageError(f"--user must be 1 to {MAX_USER_LEN} printable characters, got {user!r}")
    return user


def _base_row(
    comp: Competition,
    prepared: data.Prepared,
    sub: SubmissionFile,
    user: str,
    message: str | None,
    is_baseline: bool,
) -> dict:
    return {
        "competition": comp.name,
        "competition_version": comp.spec.version,
        "data_source": prepared.source,
        "data_fingerprint": prepared.fingerprint,
        "user_name": user,
        "message": message,
        "is_baseline": is_baseline,
        "kind": sub.kind,
        "entry": sub.entry,
        "filename": sub.path.name,
        "content": sub.content,
        "file_sha256": sub.sha256,
        "upload_bytes": sub.path.stat().st_size,  # counts against the entrant's storage cap
        "docstring": sub.docstring,
        "config": sub.config,
        "warnings": list(sub.warnings) or None,  # what reading the file found
        "metric": comp.spec.metric,
        "higher_is_better": comp.metric.higher_is_better,
    }


def _scored(comp: Competition, prepared: data.Prepared, preds_path: Path, name: str) -> dict:
    """Validates a predictions file and scores it. Nothing per test row is drawn: the
    diagnostics (the competition's report) are drawn on the valid set (`diagnostics.draw`).

    Raises:
        SubmissionError: the predictions break the submission format.
    """
    test = prepared.load("test")
    preds = validate_csv(preds_path, comp.spec.submission, test[comp.spec.id_col], name=name)
    labels = prepared.test_labels()
    public, private = score(comp, labels, preds)
    canonical = preds.to_csv(index=False).encode()
    fields = {
        "status": "scored",
        "public_score": public,
        "private_score": private,
        "extra_scores": also_scores(comp, labels, preds) or None,
        "predictions_sha256": hashlib.sha256(canonical).hexdigest(),
    }
    return fields


def valid_score(comp: Competition, prepared: data.Prepared, path: Path) -> float | None:
    """The run's score on the valid set (whose labels every member has), in the
    competition's metric: what a member sees locally, set against the public and private
    scores in the shake-up. None when the run kept no valid predictions, or they are
    not in the submission format (it costs the run nothing)."""
    from harness.run.worker import valid_features

    if path.is_symlink() or not path.is_file():
        return None
    spec = comp.spec
    try:
        valid = prepared.load("valid")
        features = valid_features(comp, valid, prepared.load("test"))
        preds = validate_csv(path, spec.submission, features[spec.id_col], name=path.name)
        y = valid[spec.train_target].to_numpy()
        value = comp.metric(y, preds[spec.target].to_numpy())
    except (SubmissionError, ValueError, KeyError, TypeError):
        return None
    return float(value) if np.isfinite(value) else None


def staging(code: bool = False) -> Path:
    """The private folder runs are made in before they move into runs/ (0700).

    A code run without a sandbox sees its folder's real path, so it is made outside the
    harness home (in a 0700 folder of the system's temporary folder) to keep that
    path out of what the worker is given.
    """
    if code and sandbox.choose()[0] is None:
        return Path(tempfile.mkdtemp(prefix="harness-staging-"))
    folder = runs_dir() / ".staging"
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    return folder


def _raw_preds(path: Path, rows: int):
    """The worker's raw outputs (a numeric array, one row per test row), or None.

    Raises:
        ValueError: a link, a pickle, not numeric, or the wrong number of rows.
    """
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_symlink() or not path.is_file():
        raise ValueError("raw_preds.npy is not a regular file")
    try:
        raw = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ValueError(f"raw_preds.npy cannot be read ({e})") from None
    if raw.dtype.kind not in "biuf" or raw.ndim == 0 or len(raw) != rows:
        raise ValueError(f"raw_preds.npy holds {raw.dtype} {raw.shape}, not {rows} rows of numbers")
    return raw


def _run_worker(
    comp: Competition,
    inputs: dict[str, Path],
    sub: SubmissionFile,
    limits: Limits,
    executor: Executor | None,
    on_output: Callable[[str], None] | None,
    files: Path | None = None,
    on_taken: Callable | None = None,
):
    """Runs a code submission on copies of the input parquet files; (result, run folder, MiB).

    The run is made in a private staging folder and moves into runs/ once it has ended;
    an interrupted run leaves nothing. The sandboxed worker sees it only as /job; a run in
    Kaggle's way also sees `files` (the competition's user-facing files) at
    /kaggle/input/<slug>/. `on_taken(result so far, folder, run folder, MiB)`: the local
    executor's early predictions (`LocalExecutor.run`), where it has them.
    """
    kaggle = sub.entry in kaggle_way.ENTRIES
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=staging(code=True)))
    try:
        (run_dir / "inputs").mkdir()
        for split in data.INPUTS:
            shutil.copyfile(inputs[split], run_dir / "inputs" / f"{split}.parquet")
        if kaggle:
            kaggle_way.link_files(files, run_dir / "inputs" / kaggle_way.FILES)
        code_path = run_dir / sub.path.name
        code_path.write_text(sub.content)
        memory_mb = limits.memory_mb or default_memory_mb()
        job = Job(
            run_dir=run_dir,
            submission=code_path,
            competition=comp.name,
            entry=sub.entry,
            seed=limits.seed,
            device=limits.device,
            timeout=limits.timeout,
            memory_mb=memory_mb,
            slug=kaggle_way.slug(comp) if kaggle else None,
            output=limits.output if kaggle else None,
            portable=limits.portable,
        )
        final = runs_dir() / uuid.uuid4().hex  # named now: a score recorded meanwhile names it
        early = {}
        if on_taken is not None and isinstance(executor, LocalExecutor):
            early["on_taken"] = lambda res, taken: on_taken(res, taken, final, memory_mb)
        res = (executor or LocalExecutor()).run(job, on_output, **early)
        run_dir.chmod(0o755)
        shutil.move(run_dir, final)
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)  # interrupted: nothing is recorded
        raise
    finally:
        if run_dir.parent.name.startswith("harness-staging-"):
            shutil.rmtree(run_dir.parent, ignore_errors=True)
    return res, final, memory_mb


def meanwhile(fn: Callable[[], T]) -> Callable[[], T | None]:
    """fn() started in a thread now (a subprocess it waits on leaves the cores to the
    rest); the function returned waits for its value (None where it raised)."""
    box: dict = {}

    def run() -> None:
        with contextlib.suppress(Exception):
            box["value"] = fn()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def value() -> T | None:
        thread.join()
        return box.get("value")

    return value


def one_line(e: BaseException) -> str:
    """An unexpected error as one line for a row: its type and message."""
    return " ".join(f"{type(e).__name__}: {e}".split())[:500]


def run_code(
    comp: Competition,
    prepared: data.Prepared,
    sub: SubmissionFile,
    limits: Limits,
    executor: Executor | None = None,
    on_output: Callable[[str], None] | None = None,
    on_scored: Callable[[dict], None] | None = None,
) -> dict:
    """Runs a code submission in a worker and scores it; returns the row's run fields.

    Nothing is drawn here: the host's diagnostics follow the record (`diagnose`).

    Args:
        on_scored: called with the row's run fields, scored, while the run goes on, the
            moment its predictions are written (a local run that draws what its model
            learned after them). The fields returned are then its end's: the host's
            figures, the whole log, and a status and error only where it ended badly.
    """
    inputs = {split: prepared.inputs / f"{split}.parquet" for split in data.INPUTS}
    executor = executor or LocalExecutor()
    early = []

    def taken(res, out: Path, final: Path, memory_mb: float) -> None:
        fields = _fields(comp, prepared, sub, limits, executor, res, final, memory_mb, out)
        if fields["status"] == "scored":  # else the run's end decides
            on_scored(fields)
            early.append(fields)

    res, final, memory_mb = _run_worker(
        comp, inputs, sub, limits, executor, on_output, prepared.files, on_scored and taken
    )
    return _fields(
        comp, prepared, sub, limits, executor, res, final, memory_mb, final / "out", not early
    )


def _fields(comp, prepared, sub, limits, executor, res, final, memory_mb, out, score=True):
    """The row's fields of a run (ended, or its predictions taken while it goes on, from
    `out`): what the host gave and measured, the run's word, and its scores."""
    # what the host gave and measured; the run's own word apart, as `reported`
    seconds = dict(res.seconds)
    fields = {
        "executor": getattr(executor, "name", type(executor).__name__),
        "node": res.node or socket.gethostname(),
        "gpu": res.gpu,
        "seed": limits.seed,
        "device": res.device or limits.device,
        "versions": res.versions,
        "timeout_seconds": limits.timeout,
        "memory_limit_mb": memory_mb,
        "wall_seconds": res.wall_seconds,
        "peak_memory_mb": res.peak_memory_mb,
        "seconds": seconds,
        "log": res.log,
        "run_dir": str(final),
        "epochs": res.epochs,
        "sandboxed": res.sandboxed,
        "reported": {k: res.result[k] for k in REPORTED if res.result.get(k) is not None} or None,
    }
    if sub.entry in kaggle_way.ENTRIES:  # the CSV handed in, as the worker chose it
        fields["output"] = res.result.get("output") or limits.output
    for key in ("config", "model", "decisions"):
        if res.result.get(key) is not None:
            fields[key] = res.result[key]
    # the file's own (read here, before it ran), then the run's
    fields["warnings"] = [*sub.warnings, *(res.result.get("warnings") or [])] or None
    if not res.ok:
        return {**fields, "status": "failed", "error": res.error}
    if not score:  # scored while it ran: its end, not scored again
        return fields
    t0 = time.monotonic()
    try:
        _raw_preds(out / "raw_preds.npy", len(prepared.load("test")))
        name = fields.get("output") or f"{sub.path.stem} predictions"
        scored = _scored(comp, prepared, out / "predictions.csv", name)
        scored["valid_score"] = valid_score(comp, prepared, out / "valid_predictions.csv")
        return {**fields, **scored}
    except SubmissionError as e:
        return {**fields, "status": "failed", "error": f"invalid predictions: {e}"}
    except Exception as e:  # the worker's output broke the scorer: a failed run, recorded
        return {**fields, "status": "failed", "error": f"the run's output: {one_line(e)}"}
    finally:
        seconds["score"] = time.monotonic() - t0


def submit(
    name: str,
    path: Path,
    user: str,
    message: str | None = None,
    limits: Limits | None = None,
    is_baseline: bool = False,
    on_output: Callable[[str], None] | None = None,
    log=print,
    queued: int | None = None,
    executor: Executor | None = None,
    submitted_at: datetime | None = None,
    on_scored: Callable[[dict], None] | None = None,
) -> dict:
    """Checks, runs and scores a submission, and records it; then draws its diagnostics.

    A local submission is first admitted under the competition's daily limit
    (`quotas.reserve`); over it, nothing runs and it is recorded `rejected`. A code run is
    recorded with its score (its diagnostics pending) before the host draws its report
    and records its artifacts (`diagnose`); a run that draws what its model learned after
    its predictions is scored and recorded while it draws.

    Args:
        on_scored: called with the row the moment it is recorded (its id, status and
            scores), before the diagnostics are drawn.
        queued: the server's queued work this is (admitted when it was uploaded); the
            row takes its id and ends it.
        executor: where code runs (the local worker, sandboxed as HARNESS_SANDBOX says,
            by default).
        submitted_at: when the server accepted the upload (default: now).

    Returns:
        The stored row (with its id), as `submissions.submission` returns it.

    Raises:
        UsageError: a wrong call (unknown competition, missing file, bad user name);
            nothing is recorded.
    """
    limits = limits or Limits()
    comp = registry.get(name)
    user = check_user(user)
    sub = read(Path(path))
    git = meanwhile(git_hash)  # git's answer, asked while the run starts
    prepared = data.ensure(comp, log=log)
    row = _base_row(comp, prepared, sub, user, message, is_baseline)
    reserved = queued is None
    if reserved:
        try:
            queued, submitted_at = quotas.reserve(comp.name, user)
        except quotas.OverLimit as e:
            row.update(status="rejected", error=str(e), harness_git=git())
            return submissions.submission(submissions.insert_submission(row, []))
    row["submitted_at"] = submitted_at
    recorded: dict = {}  # the row, once recorded
    try:
        after = _run_and_record(
            comp, prepared, sub, row, limits, executor, on_output, queued, recorded, on_scored, git
        )
        if after is not None:
            diagnose(comp, prepared, recorded["id"], Path(recorded["run_dir"]), after)
    except BaseException:
        if reserved and not recorded:  # interrupted, or the store failed: the place is given back
            quotas.release(queued)
        if recorded.get("diagnostics") == submissions.PENDING:  # its score stands
            with contextlib.suppress(Exception):
                submissions.update_submission(recorded["id"], {"diagnostics": submissions.FAILED})
        raise
    return submissions.submission(recorded["id"])


def _run_and_record(
    comp, prepared, sub, row, limits, executor, on_output, queued, recorded, on_scored, git
) -> dict | None:
    """Runs and scores a submission and records it (into `recorded`, with its id); returns
    the fields its diagnostics update (the run's end, where it was scored while it ran),
    or None when it has none (a CSV, a rejected file, refused artifacts)."""

    def record(fields: dict) -> None:  # its artifacts follow with its diagnostics
        fields["harness_git"] = git()
        epochs = fields.pop("epochs", [])
        fields["id"] = submissions.insert_submission(fields, epochs, queued=queued)
        recorded.update(fields)
        if on_scored is not None:
            on_scored(dict(recorded))

    def record_early(fields: dict) -> None:  # scored while the run draws its diagnostics
        record({**row, **fields, "diagnostics": submissions.PENDING})

    try:
        if sub.problem:
            raise Rejected(sub.problem)
        if sub.kind == "csv":
            row.update(_score_csv(comp, prepared, sub))
        else:
            ended = run_code(comp, prepared, sub, limits, executor, on_output, record_early)
            if recorded:
                return _ended(recorded, ended)
            row.update(ended)
    except Rejected as e:
        row.update(status="rejected", error=str(e))
    if sub.kind == "code" and row.get("run_dir"):
        try:  # the run's own index; the host's report joins it (`diagnose`)
            artifacts.read_index(Path(row["run_dir"]) / "artifacts")
            row["diagnostics"] = submissions.PENDING
        except artifacts.ArtifactError as e:
            if row["status"] == "scored":  # else its first error stands
                _fail(row, f"its artifacts were refused: {e}")
            for refused in ("artifacts", artifacts.THUMBS):  # nothing refused is kept
                shutil.rmtree(Path(row["run_dir"]) / refused, ignore_errors=True)
    try:
        record(row)
    except BaseException:
        if row.get("run_dir") and not recorded:  # no row, no folder
            shutil.rmtree(row["run_dir"], ignore_errors=True)
        raise
    if row.get("diagnostics") == submissions.PENDING:
        return {"log": row["log"], "seconds": row["seconds"]}
    return None


# what a run's end changes of a row recorded while it ran
ENDED = ("log", "wall_seconds", "peak_memory_mb", "seconds", "reported")


def _ended(recorded: dict, ended: dict) -> dict:
    """The fields of a run's end, for a row scored while it ran: the host's figures and the
    whole log (with why it ended badly: its score stands, its diagnostics failed)."""
    after = {k: ended[k] for k in ENDED}
    after["seconds"] = {**recorded["seconds"], **ended["seconds"]}  # its score's seconds
    if ended.get("status") == "failed":
        after["log"] += (
            f"[harness] after its score, while drawing its diagnostics: {ended['error']}\n"
        )
        after["diagnostics"] = submissions.FAILED
    return after


def diagnose(comp: Competition, prepared: data.Prepared, sub_id: int, run_dir: Path, after: dict):
    """Draws a recorded run's diagnostics and records them: the competition's report into
    its artifacts (`diagnostics.draw`), the artifacts on its row, its diagnostics drawn or
    failed (why, in its log), with the fields of its end (`after`). A failure here costs
    the run its pictures, never its score."""
    t0 = time.monotonic()
    after = {**after, "seconds": dict(after["seconds"])}
    failed = after.pop("diagnostics", None) == submissions.FAILED
    try:
        why = diagnostics.draw(comp, prepared, run_dir)
    except Exception as e:  # the valid set or the run's files: the report is not drawn
        why = one_line(e)
    if why:
        after["log"] += f"[harness] the valid set's report was not drawn: {why}\n"
    found = []
    try:
        found = artifacts.read_index(run_dir / "artifacts")
    except artifacts.ArtifactError as e:
        after["log"] += f"[harness] its artifacts were refused: {e}\n"
        failed = True
        for refused in ("artifacts", artifacts.THUMBS):  # nothing refused is kept
            shutil.rmtree(run_dir / refused, ignore_errors=True)
    after["seconds"]["report"] = time.monotonic() - t0
    after["diagnostics"] = submissions.FAILED if failed or why else submissions.DRAWN
    submissions.update_submission(sub_id, after, found)


def _fail(row: dict, error: str) -> None:
    """Marks a row failed (a score obtained with refused output does not count)."""
    row.update(status="failed", error=error, public_score=None, private_score=None)
    row.update(extra_scores=None, predictions_sha256=None)


def _score_csv(comp: Competition, prepared: data.Prepared, sub: SubmissionFile) -> dict:
    """Scores a CSV submission in its own run folder (kept with its row)."""
    run_dir = Path(tempfile.mkdtemp(prefix="csv-", dir=staging()))
    try:
        fields = _scored(comp, prepared, sub.path, sub.path.name)
        shutil.copyfile(sub.path, run_dir / sub.path.name)
        final = runs_dir() / uuid.uuid4().hex
        run_dir.chmod(0o755)
        shutil.move(run_dir, final)
    except SubmissionError as e:
        shutil.rmtree(run_dir, ignore_errors=True)  # a rejected file leaves nothing but its row
        raise Rejected(str(e)) from e
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return {**fields, "run_dir": str(final)}


@contextmanager
def _stored(row: dict):
    """A stored code submission as it ran: (its file read back, its limits, a scratch folder)."""
    tmp = runs_dir() / f"src-{uuid.uuid4().hex}"
    tmp.mkdir(parents=True)
    try:
        src = tmp / row["filename"]
        src.write_text(row["content"])
        limits = Limits(
            seed=row["seed"],
            device=row["device"],
            timeout=row["timeout_seconds"],
            memory_mb=row["memory_limit_mb"],
            output=row.get("output"),
            # a portable run is reproduced portably: the same kernels on any machine
            portable=((row.get("reported") or {}).get("versions") or {}).get("numerics")
            == "portable",
        )
        yield read(src), limits, tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def scored_code(sub_id: int, why: str) -> dict:
    """The stored row of a scored code submission.

    Raises:
        UsageError: no such submission, or another kind; `why` ends the message (with
            `{competition}` replaced by the submission's competition).
    """
    row = submissions.submission(sub_id)
    if row is None:
        raise UsageError(f"no submission with id {sub_id}")
    if row["kind"] != "code" or row["status"] != "scored":
        raise UsageError(
            f"submission {sub_id} is a {row['status']} {row['kind']} submission; "
            + why.format(competition=row["competition"])
        )
    return row


def reproduce(
    sub_id: int,
    executor: Executor | None = None,
    on_output: Callable[[str], None] | None = None,
    portable: bool | None = None,
) -> dict:
    """Re-runs a code submission with its recorded seed, device, data and numerics
    (`portable`: None as recorded, else portable or native numerics as asked).

    Returns:
        identical (bool), the original and new scores, the stored reproduction id, and
        why it differs (`differences.explain`: differences, predictions, score_moved,
        verdict).

    Raises:
        UsageError: no such submission, not a code submission, or its data is gone.
    """
    row = scored_code(sub_id, "only scored code submissions can be reproduced")
    comp = registry.get(row["competition"])
    prepared = data.by_fingerprint(comp, row["data_fingerprint"])
    if prepared is None:
        raise UsageError(
            f"the data submission {sub_id} was scored on "
            f"({row['data_fingerprint'][:12]}, source {row['data_source']}) is no "
            f"longer on disk; run `harness data fetch {comp.name} --source "
            f"{row['data_source']}`"
        )
    with _stored(row) as (sub, limits, _):
        if portable is not None:
            limits = dataclasses.replace(limits, portable=portable)
        new = run_code(comp, prepared, sub, limits, executor, on_output)
    identical = (
        new["status"] == "scored"
        and new["predictions_sha256"] == row["predictions_sha256"]
        and new["public_score"] == row["public_score"]
        and new["private_score"] == row["private_score"]
    )
    why = differences.explain(
        row, new, limits.seed, prepared.fingerprint, identical, comp.spec.id_col
    )
    rep_id = submissions.insert_reproduction(
        {
            "submission_id": sub_id,
            "identical": identical,
            "status": new["status"],
            "error": new.get("error"),
            "public_score": new.get("public_score"),
            "private_score": new.get("private_score"),
            "predictions_sha256": new.get("predictions_sha256"),
            "device": new["device"],
            "wall_seconds": new["wall_seconds"],
            "differences": why["differences"],
            "verdict": why["verdict"],
        }
    )
    return {
        "id": sub_id,
        "reproduction_id": rep_id,
        "identical": identical,
        "status": new["status"],
        "error": new.get("error"),
        "metric": row["metric"],
        "public_score": row["public_score"],
        "reproduced_public_score": new.get("public_score"),
        "seed": row["seed"],
        "device": new["device"],
        "wall_seconds": new["wall_seconds"],
        **why,
    }


def run_on_test(
    comp: Competition,
    prepared: data.Prepared,
    row: dict,
    test,
    executor: Executor | None = None,
    on_output: Callable[[str], None] | None = None,
) -> dict:
    """Runs a stored code submission again, as recorded, with other test features.

    Same code, seed, device, limits, train and valid as the scored run; only the test
    differs (Kaggle's own test.csv, for an upload). Nothing is scored or stored.

    Args:
        prepared: the data the submission was scored on.
        row: the stored submission, as `submissions.submission` returns it.
        test: the test features (a DataFrame in the competition's test format).

    Returns:
        status ("ok" or "failed"), error, run_dir, predictions (the worker's CSV),
        device and wall_seconds.
    """
    with _stored(row) as (sub, limits, tmp):
        test.to_parquet(tmp / "test.parquet", index=False)
        inputs = {
            "train": prepared.inputs / "train.parquet",
            "valid": prepared.inputs / "valid.parquet",
            "test": tmp / "test.parquet",
        }
        files = None
        if sub.entry in kaggle_way.ENTRIES:  # a notebook reads this test in its files
            files = tmp / "files"
            kaggle_way.link_files(prepared.files, files)
            (files / "test.csv").unlink()
            test.to_csv(files / "test.csv", index=False)
            sample = comp.to_submission(test, data.sample_predictions(comp.spec, len(test)))
            sample.to_csv(files / "sample_submission.csv", index=False)
        res, final, _ = _run_worker(comp, inputs, sub, limits, executor, on_output, files)
    return {
        "status": "ok" if res.ok else "failed",
        "error": res.error,
        "run_dir": final,
        "predictions": final / "out" / "predictions.csv",
        "device": res.device or row["device"],
        "wall_seconds": res.wall_seconds,
    }
