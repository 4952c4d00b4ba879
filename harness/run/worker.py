"""The worker process: runs one code submission on train, valid and test features.

Started by the runner as `python -m harness.run.worker JOB.json`. It sees only the files the
job names (never the hidden labels), writes predictions in the Kaggle format to
`out/predictions.csv`, and leaves `result.json`, `epochs.jsonl` and, on failure,
`error.json` beside it. Its stdout and stderr are the run's log.

It runs in the member's process, so everything it writes is the run's report, never the
host's word: the host measures time, memory and the device itself (harness.run.runner),
keeps what result.json claims apart (`reported`), draws the competition's report from
the valid predictions (harness.run.diagnostics), and its lines here start `[run]`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import resource
import sys
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd

from harness.competition.data import read_parquet
from harness.run import kaggle_way, notes, weights

INPUTS = ("train", "valid", "test")
VALID_RAW = "valid_raw.npy"  # in out/: the model's raw outputs on the valid set
SIGN = "scored"  # in out/: the predictions are written, the host may score them


ERROR_CHARS = 4000  # of the error's one line written back (the host keeps fewer)
# what a call that tried the network says inside the sandbox (no network namespace route)
OFFLINE_SIGNS = (
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "No address associated with hostname",
)


def offline_hint(job: dict) -> str:
    """Why a download failed, and where what it wanted is instead."""
    name = job.get("competition", "")
    where = f"/kaggle/input/{job['slug']}/" if job.get("slug") else f"harness data path {name}"
    return (
        f"a run has no network: {name}'s files are at {where}, pretrained weights come "
        "from the host's cache (harness weights list)"
    )


class SubmissionFailed(Exception):
    """The submission broke its side of the contract; the message is for its author."""


def load_module(path: Path):
    """Imports a submission file as the module `submission` (star imports welcome)."""
    spec = importlib.util.spec_from_file_location("submission", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["submission"] = module
    spec.loader.exec_module(module)
    return module


class Progress:
    """Records every epoch of every fit: one JSON line each, written as it ends."""

    def __init__(self, path: Path):
        self.path, self.fits = path, 0

    def callback(self):
        """A fastai Callback class that reports here; added to every Learner by default."""
        from fastai.callback.core import Callback
        from fastai.callback.schedule import LRFinder

        progress = self

        class EpochLog(Callback):
            order = 60  # after the Recorder (50) has computed the epoch's values
            fitting = False  # get_preds fires fit and epoch events too, never train ones

            def before_fit(self):
                self.fitting, self.counted = False, False

            def before_train(self):
                if any(isinstance(cb, LRFinder) for cb in self.learn.cbs):
                    return
                self.fitting = True
                if not self.counted:
                    progress.fits, self.counted = progress.fits + 1, True

            def after_fit(self):
                self.fitting = False

            def before_epoch(self):
                self.t0 = time.perf_counter()

            def after_epoch(self):
                if not self.fitting:
                    return
                rec = self.learn.recorder
                names = [n for n in rec.metric_names[1:] if n != "time"]
                values = [None if v is None else float(v) for v in self.learn.final_record]
                # a cancelled validation leaves fewer values than names
                row = dict(zip(names, values, strict=False))
                seconds = time.perf_counter() - self.t0
                progress.write(progress.fits, self.epoch, self.n_epoch, row, seconds)

        return EpochLog

    def write(self, fit: int, epoch: int, n_epoch: int, row: dict, seconds: float) -> None:
        entry = {"fit": fit, "epoch": epoch, "seconds": round(seconds, 4), **row}
        with open(self.path, "a") as f:
            f.write(json.dumps(entry) + "\n")
        shown = " ".join(f"{k} {v:.4f}" for k, v in row.items() if v is not None)
        print(f"[run] fit {fit} epoch {epoch + 1}/{n_epoch} {shown} ({seconds:.1f}s)", flush=True)
        notes.epoch(fit, epoch, n_epoch, row)  # a NaN loss is worth a warning


def decode(learn, decoded) -> list:
    """Decoded predictions as labels: class names through the vocab, values as they are.

    With a vocab, integer codes index it; per-class scores (a loss without `decodes`,
    such as a plain `F.cross_entropy`) are decoded by their argmax first.
    """
    arr = decoded.detach().cpu().numpy()
    vocab = getattr(learn.dls, "vocab", None)
    if vocab is not None and arr.ndim == 2 and arr.dtype.kind == "f" and arr.shape[1] == len(vocab):
        arr = arr.argmax(axis=1)
    if vocab is not None and arr.ndim == 1 and arr.dtype.kind in "iu":
        return list(np.asarray(list(vocab))[arr])
    return list(arr.reshape(len(arr), -1)[:, 0]) if arr.ndim > 1 else list(arr)


def with_features(features, df: pd.DataFrame) -> pd.DataFrame:
    """A submission's features(df); the course's version changes df and returns None."""
    out = features(df)
    out = df if out is None else out
    if not isinstance(out, pd.DataFrame) or len(out) != len(df):
        raise SubmissionFailed("features(df) must return the frame (or None) with every row kept")
    return out


def run_train(module, comp, train, valid, test, device: str, out: Path, artifacts: Path, result):
    """The fastai way: the harness builds dls, the submission returns a trained Learner."""
    from fastai.learner import Learner

    from harness.competition.tabular import test_with_gaps_filled
    from harness.run.instrument import describe

    if hasattr(module, "features"):
        # as in the course: train and valid together (one labelled frame), test apart
        both = with_features(module.features, pd.concat([train, valid], ignore_index=True))
        train, valid = both.iloc[: len(train)], both.iloc[len(train) :]
        test = with_features(module.features, test.copy())
    dls = comp.dls(train, valid)
    try:  # the columns' roles, said: a column of NaN must not train in silence
        notes.tabular(dls, train, comp.spec.train_target)
    except Exception:  # noting must never cost the member a scored run
        print("[run] the columns' roles could not be read; the run goes on:", flush=True)
        traceback.print_exc()
    dls.to(device)
    learn = module.train(dls)
    if not isinstance(learn, Learner):
        raise SubmissionFailed(
            f"train(dls) must return a fastai Learner, got {type(learn).__name__}"
        )
    result["model"] = describe(learn)
    m = result["model"]
    print(f"[run] model {m['architecture']}: {m['parameters']:,} parameters", flush=True)
    print("[run] predicting the test set", flush=True)
    test = test_with_gaps_filled(learn, train, test, log=lambda m: print(m, flush=True))
    dl = learn.dls.test_dl(test)
    raw, _, decoded = learn.get_preds(dl=dl, with_decoded=True)
    # the model's raw outputs (e.g. class probabilities) for the scorer's report
    np.save(out / "raw_preds.npy", raw.detach().float().cpu().numpy())
    # the dls target (Rossmann's log(Sales)) back in submission units
    sub = comp.to_submission(test, comp.from_dls_target(decode(learn, decoded)))
    # as the course does (ClassificationInterpretation.from_learner): the valid set, for
    # the local validation score and the competition's report; not where the DataLoaders
    # left valid rows out (Rossmann's closed days): no score could be matched to them
    try:
        kept = len(learn.dls.valid_ds)
    except Exception:  # DataLoaders of the member's own making: predict and see
        kept = len(valid)
    if kept != len(valid):
        print(f"[run] no valid score: the DataLoaders kept {kept} of {len(valid)} valid rows")
        return sub, learn
    print("[run] predicting the valid set", flush=True)
    vraw, _, vdecoded = learn.get_preds(dl=learn.dls.valid, with_decoded=True)
    vpreds = comp.from_dls_target(decode(learn, vdecoded))
    vraw = vraw.detach().float().cpu().numpy()
    on_valid(comp, valid, test, vpreds, vraw, out)
    return sub, learn


def diagnose_after(comp, learn, out: Path, artifacts: Path, result: dict) -> None:
    """The competition's look at what the model learned, after the predictions: the host
    is told they are written (SIGN, beside result.json as it is now) and scores them
    meanwhile (harness.run.output.take), so a member's score never waits for the plots."""
    (out / "result.json").write_text(
        json.dumps({**result, **process_facts(result["device"])}, default=repr)
    )
    (out / SIGN).touch()
    print("[run] diagnostics: what the model learned", flush=True)
    t0 = time.perf_counter()
    try:
        comp.hook("diagnose")(learn, artifacts)
    except Exception:  # a broken plot must not cost the member a scored run
        print("[run] diagnostics failed; the run goes on:", flush=True)
        traceback.print_exc()
    result["seconds"]["diagnose"] = time.perf_counter() - t0


def run_fit_predict(module, comp, train, valid, test, out: Path):
    """The general way: predictions aligned with test, or a frame in the submission format.

    For a competition with a report, the valid rows (without their target) follow the test
    rows in the `test` the submission is given, so that the report can be drawn on the
    valid set: nothing per row of the hidden test is ever shown.
    """
    spec = comp.spec
    features = valid_features(comp, valid, test) if comp.hook("report") else test.iloc[:0]
    both = pd.concat([test, features], ignore_index=True)
    preds = module.fit_predict(train.copy(), valid.copy(), both)
    # what `test` held, said in full: nobody expects the valid rows after the test's
    rows = f"the {len(test)} test rows"
    if len(features):
        rows = (
            f"the {len(both)} rows of test: {len(test)} test rows + {len(features)} valid "
            f"rows (the valid set without {spec.train_target}, after the test rows)"
        )
    if preds is None:
        raise SubmissionFailed(
            f"fit_predict returned None: did it forget `return`? It must return "
            f"predictions for {rows}"
        )
    if isinstance(preds, pd.DataFrame) and spec.id_col in preds and spec.target in preds:
        preds = preds.set_index(spec.id_col)[spec.target]
        missing = set(both[spec.id_col]) - set(preds.index)
        if missing or not preds.index.is_unique:
            raise SubmissionFailed(
                f"fit_predict's frame must hold one {spec.target} for each of {rows}; "
                f"{len(missing)} missing or ids repeated"
            )
        preds = preds.loc[both[spec.id_col]].to_numpy()
    try:
        n = len(preds)
    except TypeError:
        raise SubmissionFailed(
            f"fit_predict must return predictions for {rows}, got {type(preds).__name__}"
        ) from None
    if n != len(both):
        raise SubmissionFailed(f"fit_predict returned {n} predictions for {rows}")
    preds = np.asarray(preds)
    if len(features):
        on_valid(comp, valid, test, preds[len(test) :], None, out)
    return comp.to_submission(test, preds[: len(test)])


def valid_features(comp, valid: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """The valid rows as test rows: no target, and an id (numbered after the test's when
    the valid rows have none, as MNIST's and Pets' do)."""
    spec = comp.spec
    features = valid.drop(columns=[spec.train_target]).reset_index(drop=True)
    if spec.id_col not in features:
        start = int(test[spec.id_col].max()) if len(test) else 0
        features.insert(0, spec.id_col, np.arange(start + 1, start + 1 + len(features)))
    return features[[c for c in test.columns if c in features]]


def on_valid(comp, valid, test, preds, raw, out: Path) -> None:
    """The valid set's predictions (and the model's raw outputs on it), kept for the host:
    it scores them (the local validation score the shake-up sets beside the public and
    private ones) and draws the competition's report (confusion matrix, top losses) from
    them, outside the run (harness.run.diagnostics); a failure is logged, never fatal."""
    if len(preds) != len(valid):  # a dls that leaves valid rows out (Rossmann's closed days)
        print(f"[run] no valid score: {len(preds)} valid predictions for {len(valid)} rows")
        return
    try:
        frame = comp.to_submission(valid_features(comp, valid, test), preds)
        frame.to_csv(out / "valid_predictions.csv", index=False)
        if raw is not None:  # class probabilities: the report's top losses
            np.save(out / VALID_RAW, raw)
    except Exception:
        print("[run] the valid predictions could not be kept; the run goes on:", flush=True)
        traceback.print_exc()


def instrument_fastai(device: str, out: Path, artifacts: Path, config) -> None:
    """Every Learner of the run: on the chosen device, epochs logged, lr_finds recorded."""
    import fastprogress.fastprogress
    from fastai.learner import defaults
    from fastai.torch_core import defaults as torch_defaults

    from harness.run.instrument import LRFinds

    torch_defaults.use_cuda = device.startswith("cuda")
    # fastprogress takes a log file for a terminal and fills it with bars;
    # without them, fastai still prints its table of epochs
    fastprogress.fastprogress.NO_BAR = True
    # ...and each bar, shown or not, prints its fill character to test the encoding
    bar = fastprogress.fastprogress.ConsoleProgressBar
    bar.__init__ = _silently(bar.__init__)
    defaults.callbacks.append(Progress(out / "epochs.jsonl").callback())
    asked = isinstance(config, dict) and bool(config.get("lr_find"))
    LRFinds(artifacts, before_first_fit=asked).install()


def _silently(fn):
    """`fn` with its standard output dropped."""

    def quiet(*args, **kwargs):
        with contextlib.redirect_stdout(io.StringIO()):
            return fn(*args, **kwargs)

    return quiet


def run_kaggle_way(job: dict, comp, out: Path, artifacts: Path) -> str:
    """A notebook or a script, run as on Kaggle; returns the name of the CSV handed in."""
    from harness.run import notebook

    working = Path(job.get("working") or Path.cwd())
    submission = Path(job["submission"])
    if job["entry"] == "notebook":
        try:
            notebook.execute(submission, job, out, working)
        except notebook.CellFailed as e:
            raise SubmissionFailed(str(e)) from None
        what = "the notebook"
    else:
        instrument_when_imported(job, out, artifacts)
        kaggle_way.run_script(submission)
        what = "the script"
    ids = read_parquet(Path(job["inputs"]) / "test.parquet", columns=[comp.spec.id_col])
    try:
        return kaggle_way.hand_in(
            working, out, comp, ids[comp.spec.id_col], job.get("output"), what
        )
    except kaggle_way.NoAnswer as e:
        raise SubmissionFailed(str(e)) from None


def kernel_setup(job: dict) -> None:
    """What a notebook's kernel runs before the notebook's first cell (harness.run.notebook):
    the worker's own set-up (seeds, hooks), and fastai's instrumentation once the notebook
    imports fastai."""
    prepare_process(job)
    instrument_when_imported(job, Path(job["out"]), Path(job["artifacts"]))


def instrument_when_imported(job: dict, out: Path, artifacts: Path) -> None:
    """fastai's instrumentation (epochs, lr_find, device) the moment the code that runs
    as on Kaggle imports fastai; nothing when it never does."""
    from harness.run import repro

    def instrument(_fastai) -> None:
        device = repro.resolve_device(job["device"])
        instrument_fastai(device, out, artifacts, None)

    repro.after_import("fastai", instrument)


def prepare_process(job: dict) -> None:
    """What every process that runs a member's code does before that code: the worker
    itself, and a notebook's IPython kernel (harness.run.notebook). Nothing heavy is
    imported here: each hook waits for its library's import (repro.after_import).

    Args:
        job: the job file's fields, paths as the sandbox shows them (out, inputs,
            artifacts, competition, entry, seed, device).
    """
    from harness.run import course_data, repro

    # torch is imported when the run needs it (the seeds wait for it), not before
    repro.seed_everything(job["seed"])
    # fastbook's import calls set_seed(42), as on Colab: the run's own seed goes back after it
    repro.after_import("fastbook", lambda _: repro.seed_everything(job["seed"]))
    # no network: fastai's untar_data of the competition's datasets finds train and valid
    course_data.install(job)
    # pretrained weights only from the host's cache: a download fails in one line that
    # names them, and each file loaded is noted for the run's record
    weights.install()


def where(exc: BaseException, submission: Path) -> str:
    """The innermost line of the submission file in a traceback, as 'file, line N, in f'."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(submission)]
    if not frames:
        return ""
    f = frames[-1]
    return f"{submission.name}, line {f.lineno}, in {f.name}"


def main(job_path: str) -> int:
    job = json.loads(Path(job_path).read_text())
    out, submission = Path(job["out"]), Path(job["submission"])
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    # filled as the run goes, and written however it ends: a failed run keeps what it knew
    result: dict = {"device": job["device"], "seconds": {}}
    try:
        from harness.competition.registry import get
        from harness.run import repro

        prepare_process(job)
        if job["device"] not in ("auto", "cpu"):  # a GPU asked for: fail now if none
            result["device"] = repro.resolve_device(job["device"])
        comp = get(job["competition"])
        inputs = Path(job["inputs"])
        if job["entry"] in kaggle_way.ENTRIES:
            result["seconds"]["setup"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            result["output"] = run_kaggle_way(job, comp, out, Path(job["artifacts"]))
            result["seconds"]["train_predict"] = time.perf_counter() - t1
            return 0
        train, valid, test = (read_parquet(inputs / f"{k}.parquet") for k in INPUTS)
        if job["entry"] == "train":
            import fastai.learner  # noqa: F401 - the harness builds fastai DataLoaders
        result["seconds"]["setup"] = time.perf_counter() - t0
        module = load_module(submission)
        result["config"] = config = getattr(module, "CONFIG", None)
        artifacts = Path(job["artifacts"])
        device = "cpu"
        if "fastai.learner" in sys.modules:  # also a fit_predict that trains with fastai
            device = result["device"] = repro.resolve_device(job["device"])
            instrument_fastai(device, out, artifacts, config)
        t1 = time.perf_counter()
        learn = None
        if job["entry"] == "train":
            sub, learn = run_train(module, comp, train, valid, test, device, out, artifacts, result)
        else:
            sub = run_fit_predict(module, comp, train, valid, test, out)
        result["seconds"]["train_predict"] = time.perf_counter() - t1
        sub.to_csv(out / "predictions.csv", index=False)
        if learn is not None and comp.hook("diagnose"):
            diagnose_after(comp, learn, out, artifacts, result)
        return 0
    except BaseException as e:  # noqa: BLE001 - every way out must leave error.json
        traceback.print_exc()
        if isinstance(e, SystemExit):
            message = f"the submission called sys.exit({e.code!r}) before it produced predictions"
        elif isinstance(e, KeyboardInterrupt):
            message = "interrupted"
        elif isinstance(e, SubmissionFailed):  # written for the member: said as it is
            message = str(e)
        elif line := weights.missing_line(e):  # as it is, whatever fastai made of it
            message = line
        else:
            message = f"{type(e).__name__}: {e}".strip()
            if loc := where(e, submission):
                message += f" ({loc})"
        # one line: fastai wraps errors over two ("Exception occured in ...:\n\t<cause>")
        one_line = " ".join(part.strip() for part in message.splitlines() if part.strip())
        if any(sign in one_line for sign in OFFLINE_SIGNS):
            one_line += f" ({offline_hint(job)})"
        if len(one_line) > ERROR_CHARS:  # the host reads a capped file: the start is kept
            cut = len(one_line) - ERROR_CHARS
            one_line = f"{one_line[:ERROR_CHARS]} [... {cut:,} more characters]"
        (out / "error.json").write_text(json.dumps({"message": one_line}))
        return 1
    finally:
        result.update(process_facts(result["device"]))
        result["worker_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if job["entry"] == "notebook":  # the notebook's code ran in its kernel: its facts
            with contextlib.suppress(Exception):
                merge_facts(result, json.loads((out / KERNEL_FACTS).read_text()))
            (out / KERNEL_FACTS).unlink(missing_ok=True)
        (out / "result.json").write_text(json.dumps(result, default=repr, indent=1))


KERNEL_FACTS = "kernel.json"  # in out/: what a notebook's kernel knew at its end


def process_facts(device: str) -> dict:
    """What the process that ran a member's code knows at its end, for result.json:
    library versions and the device (what it imported decides what is known), peak GPU
    memory, its warnings and decisions (a failed run keeps them too), the weights it
    loaded."""
    from harness.run import repro

    facts: dict = {}
    with contextlib.suppress(Exception):
        facts["versions"] = repro.versions()
        if device == "auto":  # a GPU used only where torch was imported
            device = repro.resolve_device("auto") if "torch" in sys.modules else "cpu"
    facts["device"] = device
    if "torch" in sys.modules and device.startswith("cuda"):
        facts["gpu_peak_mb"] = sys.modules["torch"].cuda.max_memory_allocated() / 2**20
    facts.update(notes.collected())
    facts["weights"] = weights.loaded()
    return facts


def write_kernel_facts(job: dict) -> None:
    """Run in a notebook's kernel after its last cell: its facts, for the worker."""
    facts = process_facts(job["device"])
    (Path(job["out"]) / KERNEL_FACTS).write_text(json.dumps(facts, default=repr))


def merge_facts(result: dict, kernel: dict) -> None:
    """A notebook's kernel's facts into the worker's: the kernel ran the member's code."""
    for key in ("versions", "device", "gpu_peak_mb"):
        if kernel.get(key) is not None:
            result[key] = kernel[key]
    warnings = [*(result.get("warnings") or []), *(kernel.get("warnings") or [])]
    if warnings:
        result["warnings"] = warnings
    if kernel.get("decisions"):
        result["decisions"] = {**(result.get("decisions") or {}), **kernel["decisions"]}
    both = [*(result.get("weights") or []), *(kernel.get("weights") or [])]
    once = {json.dumps(w, sort_keys=True): w for w in both if isinstance(w, dict)}
    result["weights"] = list(once.values())[: weights.MAX_RECORDED]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
