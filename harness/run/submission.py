"""Reads a submission file without running it: its kind, entry point, docstring, CONFIG.

A code submission is one Python file defining `train(dls) -> Learner` (the fastai way)
or `fit_predict(train, valid, test) -> predictions` (anything else). A prediction
submission is a CSV in the competition's Kaggle format.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UsageError
from harness.run.repro import file_sha256
from harness.validate import SubmissionError, check_size

ENTRIES = {"train": 1, "fit_predict": 3}  # entry point -> positional parameters
CODE_LIMIT = 10**6  # bytes: a code submission is a script; its data comes from the harness


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


def read(path: Path) -> SubmissionFile:
    """Inspects a submission file.

    Raises:
        UsageError: the file does not exist or is neither .py nor .csv.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    if path.suffix not in (".py", ".csv"):
        raise UsageError(f"{path}: a submission is a .py file (code) or a .csv file (predictions)")
    kind = "csv" if path.suffix == ".csv" else "code"
    try:  # a file over its limit is refused, and never read whole
        if kind == "csv":
            check_size(path, path.name)
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
    sub = SubmissionFile(path, "code", digest, content=content)
    try:
        tree = ast.parse(content, filename=path.name)
    except SyntaxError as e:
        return _with(sub, problem=f"{path.name}, line {e.lineno}: syntax error: {e.msg}")
    funcs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    entries = [name for name in ENTRIES if name in funcs]
    sub = _with(sub, docstring=ast.get_docstring(tree), config=_literal_config(tree))
    if not entries:
        return _with(
            sub,
            problem=(
                f"{path.name} defines neither train(dls) (the fastai way) "
                "nor fit_predict(train, valid, test)"
            ),
        )
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
