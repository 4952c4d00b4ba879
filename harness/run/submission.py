"""Reads a submission file without running it: its kind, entry point, docstring, CONFIG.

A code submission is one Python file defining `train(dls) -> Learner` (the fastai way)
or `fit_predict(train, valid, test) -> predictions` (anything else); a Python file that
defines neither, or a notebook, runs as on Kaggle (entry "script" or "notebook": the
competition's files under /kaggle/input/<slug>/, the answer a CSV written in
/kaggle/working). A prediction submission is a CSV in the competition's Kaggle format.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UsageError
from harness.run.repro import file_sha256
from harness.validate import SubmissionError, check_size

ENTRIES = {"train": 1, "fit_predict": 3}  # entry point -> positional parameters
CODE_LIMIT = 10**6  # bytes: a code submission is a script; its data comes from the harness
# bytes of a notebook as uploaded: its old outputs (plots) are dropped before it is stored,
# and what is stored (the code and text) keeps CODE_LIMIT
NOTEBOOK_LIMIT = 20 * 2**20
SUFFIXES = (".py", ".ipynb", ".csv")
# what the harness reads of a file by name; a function defined under another name that
# looks meant for one of them (the course's, Kaggle's) and that nothing calls is warned of
READ = {
    "features": "features(df)",
    "train": "train(dls)",
    "fit_predict": "fit_predict(train, valid, test)",
}
MEANT = {
    **dict.fromkeys(
        (
            "add_features",
            "feature_engineering",
            "make_features",
            "get_features",
            "build_features",
            "create_features",
            "engineer_features",
            "feature",
            "feats",
            "preprocess",
            "preprocessing",
            "pre_process",
            "proc_data",
            "process_data",
            "prep_data",
            "prepare_data",
            "clean_data",
            "transform",
        ),
        "features",
    ),
    **dict.fromkeys(
        (
            "fit",
            "train_model",
            "fit_model",
            "train_learner",
            "get_learner",
            "make_learner",
            "build_learner",
            "create_learner",
            "learner",
            "get_model",
            "make_model",
            "build_model",
        ),
        "train",
    ),
    **dict.fromkeys(
        (
            "predict",
            "fit_and_predict",
            "train_predict",
            "train_and_predict",
            "make_predictions",
            "get_predictions",
            "get_preds",
            "predict_test",
            "inference",
            "make_submission",
            "main",
        ),
        "fit_predict",
    ),
}
MAX_UNREAD = 5  # warnings about such functions, per file


class Rejected(Exception):
    """The file breaks the submission rules; recorded as rejected with this message."""


@dataclass(frozen=True)
class SubmissionFile:
    """What a submission file declares, read without executing it."""

    path: Path
    kind: str  # "code" or "csv"
    sha256: str
    content: str | None = None  # code only; kept in the store so reproduce needs no file
    entry: str | None = None
    docstring: str | None = None
    config: dict | None = None
    problem: str | None = None  # why it will be rejected, if it will
    warnings: tuple[str, ...] = ()  # what reading it found that its author should know


def read(path: Path) -> SubmissionFile:
    """Inspects a submission file.

    Raises:
        UsageError: the file does not exist or is neither .py nor .csv.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if path.suffix not in SUFFIXES:
        raise UsageError(
            f"{path}: a submission is a notebook (.ipynb), a .py file (code) or a .csv file "
            "(predictions)"
        )
    kind = "csv" if path.suffix == ".csv" else "code"
    try:  # a file over its limit is refused, and never read whole
        if kind == "csv":
            check_size(path, path.name)
        elif path.suffix == ".ipynb":
            check_size(path, path.name, NOTEBOOK_LIMIT, "a notebook")
        else:
            check_size(path, path.name, CODE_LIMIT, "a code submission")
    except SubmissionError as e:
        return SubmissionFile(path, kind, file_sha256(path), problem=str(e))
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if kind == "csv":
        return SubmissionFile(path, "csv", digest)
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return SubmissionFile(path, "code", digest, problem=f"{path.name}: not UTF-8 text ({e})")
    if path.suffix == ".ipynb":
        return _notebook(path, content)
    sub = SubmissionFile(path, "code", digest, content=content)
    try:
        tree = ast.parse(content, filename=path.name)
    except SyntaxError as e:
        return _with(sub, problem=f"{path.name}, line {e.lineno}: syntax error: {e.msg}")
    funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    entries = [name for name in ENTRIES if name in funcs]
    sub = _with(sub, docstring=ast.get_docstring(tree), config=_literal_config(tree))
    only = entries[0] if len(entries) == 1 else "script" if not entries else None
    sub = _with(sub, warnings=unread(tree, only))
    if not entries:  # Kaggle's way: the script runs top to bottom and writes its CSV
        return _with(sub, entry="script")
    if len(entries) > 1:
        return _with(sub, problem=f"{path.name} defines both train and fit_predict; keep one")
    entry = entries[0]
    args = funcs[entry].args
    n = len(args.posonlyargs) + len(args.args)
    if n < ENTRIES[entry] and args.vararg is None:
        want = "train(dls)" if entry == "train" else "fit_predict(train, valid, test)"
        return _with(
            sub,
            entry=entry,
            problem=f"{path.name}, line {funcs[entry].lineno}: {entry} must take "
            f"{ENTRIES[entry]} argument(s), as in {want}",
        )
    return _with(sub, entry=entry)


def _notebook(path: Path, content: str) -> SubmissionFile:
    """A notebook: checked by nbformat, stored without its old outputs (a run makes its
    own), so the same code hashes the same however often it was run in Jupyter."""
    import nbformat

    digest = hashlib.sha256(content.encode()).hexdigest()
    sub = SubmissionFile(path, "code", digest, entry="notebook")
    try:
        nb = nbformat.reads(content, as_version=4)
        nbformat.validate(nb)
    except Exception as e:  # nbformat raises JSON, validation and version errors alike
        why = " ".join(str(e).split())[:300]
        return _with(sub, problem=f"{path.name}: not a Jupyter notebook ({why})")
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code:
        return _with(sub, problem=f"{path.name} has no code cell")
    for cell in code:
        cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    stripped = nbformat.writes(nb)
    if len(stripped.encode()) > CODE_LIMIT:
        return _with(
            sub,
            problem=f"{path.name}: its cells hold {len(stripped.encode()):,} bytes without "
            f"outputs, over the limit of {CODE_LIMIT:,} for code",
        )
    digest = hashlib.sha256(stripped.encode()).hexdigest()
    config = None
    for cell in code:  # a literal CONFIG in any cell is stored, as in a .py
        try:
            config = config or _literal_config(ast.parse(_python_only(cell.source)))
        except SyntaxError:
            pass
    return _with(sub, sha256=digest, content=stripped, docstring=_notebook_title(nb), config=config)


def _python_only(source: str) -> str:
    """A cell's source without IPython's own syntax (`!cmd`, `%magic`), for ast."""
    lines = source.splitlines()
    return "\n".join("" if ln.lstrip()[:1] in ("!", "%") else ln for ln in lines)


def _notebook_title(nb) -> str | None:
    """What the board shows for a notebook: its first markdown cell, as a docstring."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.strip():
            return cell.source.strip()[:2000]
    return None


def unread(tree: ast.Module, entry: str | None) -> tuple[str, ...]:
    """Warnings about the module's functions that look meant for what the harness reads
    (`add_features` for `features`, `fit` or `predict` for the entry point) and that
    nothing reads: neither the harness nor the file itself (a call, or the name passed on,
    as in `df.pipe(add_features)`). Decorated and private (`_name`) functions are left be.

    Args:
        entry: the file's entry point ("train", "fit_predict", "script"), None if unclear.
    """
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    out = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        name = node.name
        if node.decorator_list or name in used or name.startswith("_"):
            continue
        if name == "features" and entry == "fit_predict":
            out.append(
                "features is defined but never called: the harness applies features(df) "
                "only before train(dls); fit_predict must call it itself"
            )
            continue
        if name in READ:
            continue
        close = difflib.get_close_matches(name.lower(), list(READ), n=1, cutoff=0.8)
        meant = MEANT.get(name.lower()) or (close[0] if close else None)
        if meant:
            out.append(f"{name} is defined but never called: {_instead(name, meant, entry)}")
    return tuple(out[:MAX_UNREAD])


def _instead(name: str, meant: str, entry: str | None) -> str:
    """What the harness reads instead of `name`, which looks meant for `meant`."""
    if entry == "script":
        return (
            "the file defines neither train(dls) nor fit_predict(train, valid, test), so it "
            f"runs as a script, top to bottom; the harness would call {READ[meant]}"
        )
    if meant == "features" and entry == "fit_predict":
        return (
            "fit_predict must call it itself (the harness applies features(df) only "
            "before train(dls))"
        )
    if meant == "features":
        return (
            f"the harness applies features(df) (feature engineering), not {name}; "
            "rename it features"
        )
    if entry == "train":
        return "the harness calls train(dls) only, and predicts the test set itself"
    if entry == "fit_predict":
        return "the harness calls fit_predict(train, valid, test) only"
    return f"the harness reads {READ[meant]}"


def _with(sub: SubmissionFile, **changes) -> SubmissionFile:
    return SubmissionFile(**{**sub.__dict__, **changes})


def _literal_config(tree: ast.Module) -> dict | None:
    """CONFIG when it is a literal dict; otherwise the worker reports it after import."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "CONFIG" for t in node.targets
        ):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None
