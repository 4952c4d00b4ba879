"""Checks predictions against a competition's submission format, one clear line per problem.

A member uploads a CSV in the competition's Kaggle format (Titanic: `PassengerId,Survived`);
the harness writes a code submission's predictions to such a CSV and checks it the same way.
Every problem raises a SubmissionError naming the file, the row and the column, e.g.

    submission.csv, row 12 (line 13), column Survived: '0.5' is not one of 0, 1

"row N" counts data rows from 1, the header excluded; "line N" is the file line, the header
being line 1 (blank lines are skipped, so the two can drift apart). The header is checked
first, then each row in file order (the first problem wins), then the row count, so the first
message is the one most worth fixing.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from harness.errors import HarnessError

KINDS = ("int", "float", "label")
ID_KINDS = ("int", "str")

# How pandas, R and spreadsheets write a missing value; float() would take 'nan' silently.
_MISSING = frozenset({"nan", "-nan", "+nan", "na", "n/a", "#n/a", "null", "none", "<na>", "nat"})
_INFINITE = frozenset({"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})
_INT_RE = re.compile(r"[+-]?[0-9]+")
# Stricter than float(), which also takes '1_000' and non-ASCII digits.
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DECIMAL_COMMA_RE = re.compile(r"[+-]?[0-9]*,[0-9]+")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_MAX_SHOWN = 40  # characters of a raw value quoted in a message
CSV_LIMIT = 100 * 10**6  # bytes: a CSV submission over this is refused before it is read
_MISSING_SHOWN = 3  # missing ids named before "and N more"
_INDEX_NAMES = ("", "Unnamed: 0", "index")  # what a DataFrame index saved with to_csv is called


class SubmissionError(HarnessError, ValueError):
    """A prediction file that breaks the submission format; str() is the one-line message."""


@dataclass(frozen=True)
class Format:
    """A competition's submission format: two columns, an id and a prediction.

    Attributes:
        id_col: the id column, first in the header, e.g. "PassengerId".
        target: the prediction column, second in the header, e.g. "Survived".
        kind: "int", "float" or "label" (string class names).
        allowed: the allowed target values, e.g. (0, 1) or tuple(range(10)); None allows any.
        min_value, max_value: inclusive bounds of a numeric target, e.g. 0.0 for sales.
        id_kind: "int" for integer ids, "str" for text ids.
    """

    id_col: str
    target: str
    kind: str
    allowed: tuple | None = None
    min_value: float | None = None
    max_value: float | None = None
    id_kind: str = "int"

    def __post_init__(self) -> None:
        # A wrong Format is the competition author's bug, so it is a plain ValueError.
        if self.kind not in KINDS:
            raise ValueError(f"Format.kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.id_kind not in ID_KINDS:
            raise ValueError(f"Format.id_kind must be int or str, got {self.id_kind!r}")
        if not self.id_col or not self.target or self.id_col == self.target:
            raise ValueError("Format.id_col and Format.target must be two different names")
        if self.kind == "int" and self.allowed is not None:
            for value in self.allowed:
                if _as_int(value) is None:
                    raise ValueError(f"Format.allowed: {value!r} is not an integer")


def validate_csv(
    path: str | PathLike[str],
    fmt: Format,
    expected_ids: Iterable[object],
    *,
    name: str | None = None,
) -> pd.DataFrame:
    """Reads and checks a predictions CSV.

    Args:
        path: the CSV file.
        fmt: the competition's submission format.
        expected_ids: the test ids, each exactly once; they set the order of the result.
        name: what messages call the file; defaults to its basename.

    Returns:
        A frame with exactly the columns [fmt.id_col, fmt.target], one row per expected id in
        the order of `expected_ids`: int64 ids (str for id_kind "str"); int64, float64 or str
        targets for kind "int", "float" or "label".

    Raises:
        SubmissionError: the first problem, as one line naming the file, row and column.
        ValueError: `expected_ids` repeats an id or holds one that is not of fmt.id_kind.
    """
    path = Path(path)
    name = name or path.name
    records = _records(_read_text(path, name), name)
    if not records:
        raise SubmissionError(f"{name}: has no header line; expected '{_want(fmt)}'")
    _, header = records[0]
    problem = _header_problem(header, fmt, "header")
    if problem:
        raise SubmissionError(f"{name}: {problem}")
    checker = _Checker(fmt, expected_ids)
    width = 2
    for row, (line, fields) in enumerate(records[1:], start=1):
        where = f"{name}, row {row} (line {line})"
        if len(fields) != width:
            hint = (
                " (a trailing comma?)"
                if len(fields) == width + 1 and not fields[-1].strip()
                else ""
            )
            raise SubmissionError(f"{where}: expected {width} fields, got {len(fields)}{hint}")
        checker.add(where, row, fields[0].strip(), fields[1].strip())
    return checker.result(name)


def validate_frame(
    df: pd.DataFrame,
    fmt: Format,
    expected_ids: Iterable[object],
    *,
    name: str = "predictions",
) -> pd.DataFrame:
    """Checks predictions held in a DataFrame, e.g. a code submission's, like validate_csv.

    Row numbers count from 1 by position (the index is ignored). Integral numbers of any type
    are fine for an int target: float 1.0 and numpy True both become 1.

    Args:
        df: the predictions, with columns [fmt.id_col, fmt.target].
        fmt: the competition's submission format.
        expected_ids: the test ids, each exactly once; they set the order of the result.
        name: what messages call the predictions.

    Returns:
        The same clean frame as validate_csv.

    Raises:
        SubmissionError: the first problem, as one line naming the row and column.
        ValueError: `expected_ids` repeats an id or holds one that is not of fmt.id_kind.
    """
    if not isinstance(df, pd.DataFrame):
        raise SubmissionError(
            f"{name}: must be a DataFrame with columns {fmt.id_col}, {fmt.target}; "
            f"got {type(df).__name__}"
        )
    problem = _header_problem([str(c) for c in df.columns], fmt, "columns")
    if problem:
        if df.index.name == fmt.id_col:
            problem += f"; {fmt.id_col} is the index (call reset_index())"
        raise SubmissionError(f"{name}: {problem}")
    checker = _Checker(fmt, expected_ids)
    # tolist() turns numpy scalars into Python ones, so one code path serves every dtype.
    ids, targets = df.iloc[:, 0].tolist(), df.iloc[:, 1].tolist()
    for row, (id_value, target_value) in enumerate(zip(ids, targets, strict=True), start=1):
        checker.add(f"{name}, row {row}", row, _scalar(id_value), _scalar(target_value))
    return checker.result(name)


class _Bad(Exception):
    """What is wrong with a value, worded to follow it: 'is not an integer'."""

    quotes_value = True

    def about(self, value: object) -> str:
        """The problem as a message names it: the value quoted, then what is wrong."""
        return f"{_show(value)} {self}" if self.quotes_value else str(self)


class _Empty(_Bad):
    """A missing value, which messages name without quoting it."""

    quotes_value = False

    def __init__(self) -> None:
        super().__init__("empty value")


class _Checker:
    """Checks rows one by one and collects them; catches repeated and unknown ids as they come."""

    def __init__(self, fmt: Format, expected_ids: Iterable[object]) -> None:
        self.fmt = fmt
        self.expected = _expected_list(expected_ids, fmt.id_kind)
        self.position = {id_: i for i, id_ in enumerate(self.expected)}
        if len(self.position) != len(self.expected):
            raise ValueError("expected_ids holds an id more than once")
        self.first_row: dict[object, int] = {}
        self.targets: list[object] = [None] * len(self.expected)
        self.allowed: list | None = None
        if fmt.allowed is not None:
            convert = {"int": _as_int, "float": float, "label": str}[fmt.kind]
            self.allowed = [convert(a) for a in fmt.allowed]
        self.allowed_set = frozenset(self.allowed) if self.allowed is not None else None
        self.allowed_lower = {str(a).lower() for a in self.allowed or ()}
        self.allowed_text = _describe(self.allowed) if self.allowed is not None else ""

    def add(self, where: str, row: int, id_value: object, target_value: object) -> None:
        """Checks one row and keeps it; raises SubmissionError at its first problem."""
        fmt = self.fmt
        try:
            id_ = self._id(id_value)
        except _Bad as e:
            raise SubmissionError(f"{where}, column {fmt.id_col}: {e.about(id_value)}") from None
        try:
            target = self._target(target_value)
        except _Bad as e:
            raise SubmissionError(
                f"{where}, column {fmt.target}: {e.about(target_value)}"
            ) from None
        if id_ in self.first_row:
            problem = f"{_show_id(id_)} appears again (first at row {self.first_row[id_]})"
            raise SubmissionError(f"{where}, column {fmt.id_col}: {problem}")
        position = self.position.get(id_)
        if position is None:
            problem = f"{_show_id(id_)} is not a test id"
            raise SubmissionError(f"{where}, column {fmt.id_col}: {problem}")
        self.first_row[id_] = row
        self.targets[position] = target

    def result(self, name: str) -> pd.DataFrame:
        """The clean frame in expected order; raises SubmissionError when ids are missing."""
        fmt = self.fmt
        if len(self.first_row) != len(self.expected):
            missing = [id_ for id_ in self.expected if id_ not in self.first_row]
            shown = ", ".join(_show_id(id_) for id_ in missing[:_MISSING_SHOWN])
            if len(missing) > _MISSING_SHOWN:
                shown += f" and {len(missing) - _MISSING_SHOWN} more"
            raise SubmissionError(
                f"{name}: expected {len(self.expected)} rows, got {len(self.first_row)}; "
                f"missing {fmt.id_col} {shown}"
            )
        id_dtype = "int64" if fmt.id_kind == "int" else str
        target_dtype = {"int": "int64", "float": "float64", "label": str}[fmt.kind]
        return pd.DataFrame(
            {
                fmt.id_col: pd.Series(self.expected, dtype=id_dtype),
                fmt.target: pd.Series(self.targets, dtype=target_dtype),
            }
        )

    def _id(self, value: object) -> int | str:
        """The id a field or cell holds; raises _Bad."""
        if _is_empty(value, text_nan=self.fmt.id_kind == "str"):
            raise _Empty()
        if self.fmt.id_kind == "str":
            if isinstance(value, str):
                return value
            if isinstance(value, int) and not isinstance(value, bool):
                return str(value)
            raise _Bad("is not a text id")
        number = _number(value)
        if isinstance(number, float) and number.is_integer():
            number = int(number)
        if not isinstance(number, int):
            raise _Bad("is not an integer")
        if not _INT64_MIN <= number <= _INT64_MAX:
            raise _Bad("is out of range")
        return number

    def _target(self, value: object) -> int | float | str:
        """The prediction a field or cell holds; raises _Bad."""
        kind = self.fmt.kind
        if _is_empty(value, text_nan=kind == "label"):
            raise _Empty()
        if kind == "label":
            return self._label(value)
        number = _number(value)
        not_allowed = f"is not {self.allowed_text}"
        # with allowed values, "not one of 0, 1" says more than "not an integer"
        not_int = not_allowed if self.allowed is not None else "is not an integer"
        if number is None:
            if kind == "int":
                raise _Bad(not_int)
            comma = isinstance(value, str) and _DECIMAL_COMMA_RE.fullmatch(value)
            raise _Bad(
                "is not a number (use a dot as the decimal separator)"
                if comma
                else "is not a number"
            )
        if isinstance(number, float) and math.isnan(number):
            raise _Bad("is not a number")
        if isinstance(number, float) and math.isinf(number):
            raise _Bad("is not a finite number")
        if kind == "int":
            if isinstance(number, float):
                if not number.is_integer():
                    raise _Bad(not_int)
                number = int(number)
        else:
            try:
                number = float(number)
            except OverflowError:  # an integer with hundreds of digits
                raise _Bad("is not a finite number") from None
        if self.allowed_set is not None and number not in self.allowed_set:
            raise _Bad(not_allowed)
        if self.fmt.min_value is not None and number < self.fmt.min_value:
            raise _Bad(f"is below the minimum {_show_bound(self.fmt.min_value)}")
        if self.fmt.max_value is not None and number > self.fmt.max_value:
            raise _Bad(f"is above the maximum {_show_bound(self.fmt.max_value)}")
        if kind == "int" and not _INT64_MIN <= number <= _INT64_MAX:
            raise _Bad("is out of range")
        return number

    def _label(self, value: object) -> str:
        """A label target; raises _Bad."""
        if not isinstance(value, str):
            raise _Bad("is not a text label")
        if self.allowed_set is not None:
            if value in self.allowed_set:
                return value
            hint = " (labels are case-sensitive)" if value.lower() in self.allowed_lower else ""
            raise _Bad(f"is not {self.allowed_text}{hint}")
        if value.lower() in _MISSING:
            raise _Bad("marks a missing value, not a label")
        return value


def size_text(n: int) -> str:
    """A byte count as people say it: 3.2 GB, 100 MB, 512 bytes."""
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            return f"{n / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


def check_size(
    path: Path, name: str, limit: int | None = None, what: str = "a CSV submission"
) -> None:
    """Raises SubmissionError when the file is over its limit (the CSV limit unless
    given); reads nothing."""
    limit = CSV_LIMIT if limit is None else limit
    try:
        size = path.stat().st_size
    except OSError:
        return  # _read_text names the problem
    if size > limit:
        raise SubmissionError(
            f"{name} is {size_text(size)}, over the {size_text(limit)} limit for {what}"
        )


def _read_text(path: Path, name: str) -> str:
    """The file's text, BOM stripped; raises SubmissionError when it is not UTF-8 text.

    The size is checked first, and at most the limit is read: the text and its parsed
    records then hold a bounded multiple of the file in memory.
    """
    check_size(path, name)
    try:
        with open(path, "rb") as f:
            data = f.read(CSV_LIMIT + 1)
        if len(data) > CSV_LIMIT:  # grew since it was measured
            raise SubmissionError(
                f"{name} is over the {size_text(CSV_LIMIT)} limit for a CSV submission"
            )
    except FileNotFoundError:
        raise SubmissionError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise SubmissionError(f"{name}: is a folder, not a file") from None
    except OSError as e:
        raise SubmissionError(f"{name}: cannot be read ({e.strerror or e})") from None
    if not data:
        raise SubmissionError(f"{name}: the file is empty (0 bytes)")
    # Name the usual wrong saves, since their UTF-8 error would only say "byte 0xff".
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise SubmissionError(f"{name}: is UTF-16 text; save it as UTF-8 CSV")
    if data.startswith(b"PK\x03\x04"):
        raise SubmissionError(f"{name}: is a zip file (an Excel workbook?), not CSV text")
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise SubmissionError(
            f"{name}, line {line}: not valid UTF-8 text (byte 0x{data[e.start]:02x}); "
            "save the file as UTF-8 CSV"
        ) from None
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise SubmissionError(f"{name}, line {line}: contains a NUL byte; not CSV text")
    return text


def _records(text: str, name: str) -> list[tuple[int, list[str]]]:
    """(first line, fields) of each non-blank CSV record; raises SubmissionError if unparseable."""
    # strict: a stray quote is an error rather than a silently merged field
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records = []
    line = 1
    try:
        for fields in reader:
            # blank lines carry nothing; pandas and Kaggle skip them too
            if len(fields) > 1 or (fields and fields[0].strip()):
                records.append((line, fields))
            line = reader.line_num + 1
    except csv.Error as e:
        where = f"{name}, line {reader.line_num}"
        raise SubmissionError(f"{where}: not parseable as CSV ({e})") from None
    return records


def _want(fmt: Format) -> str:
    """The header a format asks for."""
    return f"{fmt.id_col},{fmt.target}"


def _header_problem(names: list[str], fmt: Format, word: str) -> str | None:
    """What is wrong with the column names, or None."""
    want = [fmt.id_col, fmt.target]
    got = [n.strip() for n in names]
    if got:
        got[0] = got[0].lstrip("\ufeff").strip()
    if got == want:
        return None
    joined = ",".join(got)
    if len(joined) > 2 * _MAX_SHOWN:
        joined = joined[: 2 * _MAX_SHOWN - 3] + "..."
    message = f"{word} must be '{_want(fmt)}'; got '{joined}'"
    lower = [g.lower() for g in got]
    if len(got) == 1:
        for sep in (";", "\t", "|"):
            if sep in got[0]:
                return f"{message}; fields must be separated by commas, not {sep!r}"
    if len(got) == len(want) and all(_FLOAT_RE.fullmatch(g) for g in got):
        return f"{message}; the first line must be the header"
    if lower == [w.lower() for w in want]:
        return f"{message}; column names are case-sensitive"
    if sorted(got) == sorted(want):
        return f"{message}; the columns are in the wrong order"
    if len(got) == len(want) + 1 and got[0] in _INDEX_NAMES and got[1:] == want:
        return f"{message}; the first column is a saved index (write it with to_csv(index=False))"
    extra = list((Counter(got) - Counter(want)).elements())
    notes = []
    for w in want:
        if w in got:
            continue
        near = [g for g in extra if g.lower() == w.lower()]
        if near:
            notes.append(f"column {w} is spelled '{near[0]}' (names are case-sensitive)")
            extra.remove(near[0])
        else:
            notes.append(f"missing column {w}")
    if extra:
        shown = ", ".join(e if e else "(unnamed)" for e in extra[:3])
        more = f" and {len(extra) - 3} more" if len(extra) > 3 else ""
        notes.append(f"extra column{'s' if len(extra) > 1 else ''} {shown}{more}")
    return f"{message}; {'; '.join(notes)}"


def _expected_list(expected_ids: Iterable[object], id_kind: str) -> list:
    """The expected ids as Python ints or strs; raises ValueError on a bad one."""
    values = expected_ids.tolist() if hasattr(expected_ids, "tolist") else list(expected_ids)
    if id_kind == "str":
        return [str(v).strip() for v in values]
    out = []
    for v in values:
        as_int = _as_int(v.strip() if isinstance(v, str) else v)
        if as_int is None:
            raise ValueError(f"expected_ids: {v!r} is not an integer id")
        out.append(as_int)
    return out


def _as_int(value: object) -> int | None:
    """The int an integral number or integer string is, else None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.fullmatch(value):
        return int(value)
    return None


def _scalar(value: object) -> object:
    """A DataFrame cell as a plain Python value, strs stripped as CSV fields are."""
    if isinstance(value, np.generic):
        value = value.item()
    return value.strip() if isinstance(value, str) else value


def _is_empty(value: object, *, text_nan: bool) -> bool:
    """Whether a value is absent: an empty field, None, NA, or NaN where text is due."""
    if isinstance(value, str):
        return not value.strip()
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    # a NaN in a text column is pandas' way of saying missing; in a number column it is a value
    return text_nan and isinstance(value, float) and math.isnan(value)


def _number(value: object) -> int | float | None:
    """The number a field or cell holds (NaN for missing markers), or None if it holds none."""
    if isinstance(value, str):
        s = value.strip()
        low = s.lower()
        if low in _MISSING:
            return math.nan
        if low in _INFINITE:
            return -math.inf if low.startswith("-") else math.inf
        if _INT_RE.fullmatch(s):
            try:
                return int(s)
            except ValueError:  # past Python's 4300-digit limit
                return None
        if _FLOAT_RE.fullmatch(s):
            return float(s)  # '1e999' becomes inf and is reported as not finite
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    return None


def _show(value: object) -> str:
    """A value as messages quote it: strs quoted, long ones cut."""
    shown = repr(value)
    if len(shown) > _MAX_SHOWN:
        shown = shown[: _MAX_SHOWN - 4] + "...'" if isinstance(value, str) else shown[:37] + "..."
    return shown


def _show_id(id_: object) -> str:
    """An id as messages show it: ints bare, strs quoted."""
    return str(id_) if isinstance(id_, int) else _show(id_)


def _show_bound(bound: float) -> str:
    """A bound without a needless '.0'."""
    return str(int(bound)) if float(bound).is_integer() else repr(float(bound))


def _describe(allowed: list) -> str:
    """The allowed values in words, e.g. 'one of 0, 1'."""
    if len(allowed) <= 10:
        return "one of " + ", ".join(str(a) for a in allowed)
    if all(isinstance(a, int) for a in allowed):
        lo, hi = min(allowed), max(allowed)
        if len(set(allowed)) == hi - lo + 1:
            return f"an integer from {lo} to {hi}"
    return "one of " + ", ".join(str(a) for a in allowed[:8]) + f", ... ({len(allowed)} values)"
