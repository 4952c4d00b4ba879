"""The submission validator: one exact, one-line message per problem, and the clean frame."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.validate import Format, SubmissionError, validate_csv, validate_frame

TITANIC = Format(id_col="PassengerId", target="Survived", kind="int", allowed=(0, 1))
TITANIC_IDS = list(range(892, 1310))  # 418 test passengers
SALES = Format(id_col="Id", target="Sales", kind="float", min_value=0.0)
DIGITS = Format(id_col="ImageId", target="Label", kind="int", allowed=tuple(range(10)))
PETS = Format(id_col="id", target="label", kind="label", allowed=("cat", "dog"), id_kind="str")


def write(tmp_path: Path, text: str | bytes, name: str = "submission.csv") -> Path:
    """A file holding exactly these bytes (no newline translation)."""
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def titanic_csv(rows: list[tuple[object, object]] | None = None) -> str:
    """A Titanic submission; by default every test id with a valid prediction."""
    rows = rows if rows is not None else [(i, i % 2) for i in TITANIC_IDS]
    return "PassengerId,Survived\n" + "".join(f"{i},{s}\n" for i, s in rows)


def titanic_with(row: int, id_: object, survived: object) -> str:
    """A full Titanic submission whose data row `row` (from 1) is replaced."""
    rows: list[tuple[object, object]] = [(i, i % 2) for i in TITANIC_IDS]
    rows[row - 1] = (id_, survived)
    return titanic_csv(rows)


def error(tmp_path: Path, text: str | bytes, fmt: Format = TITANIC, ids=None) -> str:
    """The message validate_csv gives for this file."""
    path = write(tmp_path, text)
    with pytest.raises(SubmissionError) as info:
        validate_csv(path, fmt, TITANIC_IDS if ids is None else ids)
    return str(info.value)


# --- the happy path ---------------------------------------------------------------------------


def test_a_shuffled_valid_file_comes_back_typed_in_expected_order(tmp_path):
    rows = [(i, i % 2) for i in TITANIC_IDS]
    random.Random(0).shuffle(rows)
    out = validate_csv(write(tmp_path, titanic_csv(rows)), TITANIC, pd.Series(TITANIC_IDS))
    assert list(out.columns) == ["PassengerId", "Survived"]
    assert out["PassengerId"].dtype == np.int64 and out["Survived"].dtype == np.int64
    assert out["PassengerId"].tolist() == TITANIC_IDS
    assert out["Survived"].tolist() == [i % 2 for i in TITANIC_IDS]
    assert list(out.index) == list(range(len(TITANIC_IDS)))


def test_integral_floats_bom_crlf_spaces_and_blank_lines_are_accepted(tmp_path):
    text = "\ufeff PassengerId , Survived \r\n892,1.0\r\n\r\n 893 , 0 \r\n894,+1\r\n\r\n"
    out = validate_csv(write(tmp_path, text), TITANIC, [894, 893, 892])
    assert out.to_dict("list") == {"PassengerId": [894, 893, 892], "Survived": [1, 0, 1]}


def test_float_and_label_targets_get_their_dtypes(tmp_path):
    sales = validate_csv(write(tmp_path, "Id,Sales\n2,1e3\n1,12.5\n3,0\n"), SALES, [1, 2, 3])
    assert sales["Id"].dtype == np.int64 and sales["Sales"].dtype == np.float64
    assert sales["Sales"].tolist() == [12.5, 1000.0, 0.0]
    pets = validate_csv(write(tmp_path, "id,label\nb,dog\na,cat\n"), PETS, ["a", "b"])
    assert pd.api.types.is_string_dtype(pets["id"]) and pd.api.types.is_string_dtype(pets["label"])
    assert pets.to_dict("list") == {"id": ["a", "b"], "label": ["cat", "dog"]}


def test_name_defaults_to_the_basename_and_can_be_given(tmp_path):
    path = write(tmp_path, "PassengerId,Survived\n", name="mine.csv")
    with pytest.raises(SubmissionError, match=r"^mine\.csv: expected 418 rows"):
        validate_csv(str(path), TITANIC, TITANIC_IDS)
    with pytest.raises(SubmissionError, match=r"^upload #3: expected 418 rows"):
        validate_csv(path, TITANIC, TITANIC_IDS, name="upload #3")


# --- the file ---------------------------------------------------------------------------------


def test_file_problems(tmp_path):
    with pytest.raises(SubmissionError) as info:
        validate_csv(tmp_path / "nope.csv", TITANIC, TITANIC_IDS)
    assert str(info.value) == "nope.csv: no such file"
    assert error(tmp_path, b"") == "submission.csv: the file is empty (0 bytes)"
    assert error(tmp_path, "\n \n") == (
        "submission.csv: has no header line; expected 'PassengerId,Survived'"
    )
    assert error(tmp_path, b"PassengerId,Survived\n892,0\n893,\xff\n") == (
        "submission.csv, line 3: not valid UTF-8 text (byte 0xff); save the file as UTF-8 CSV"
    )
    assert error(tmp_path, titanic_csv().encode("utf-16")) == (
        "submission.csv: is UTF-16 text; save it as UTF-8 CSV"
    )
    assert error(tmp_path, 'PassengerId,Survived\n892,0\n"893,1\n') == (
        "submission.csv, line 3: not parseable as CSV (unexpected end of data)"
    )
    assert error(tmp_path, "PassengerId,Survived\n892,\x000\n") == (
        "submission.csv, line 2: contains a NUL byte; not CSV text"
    )


def test_a_submission_error_is_a_value_error(tmp_path):
    with pytest.raises(ValueError):
        validate_csv(tmp_path / "nope.csv", TITANIC, TITANIC_IDS)


# --- the header -------------------------------------------------------------------------------

MUST = "submission.csv: header must be 'PassengerId,Survived'; got"


@pytest.mark.parametrize(
    ("header", "rest"),
    [
        ("PassengerId,survived", "'PassengerId,survived'; column names are case-sensitive"),
        ("Survived,PassengerId", "'Survived,PassengerId'; the columns are in the wrong order"),
        ("PassengerId", "'PassengerId'; missing column Survived"),
        ("PassengerId,Survived,Name", "'PassengerId,Survived,Name'; extra column Name"),
        ("Id,Survived,Age", "'Id,Survived,Age'; missing column PassengerId; extra columns Id, Age"),
        (
            "passengerid,Survived,Age",
            "'passengerid,Survived,Age'; column PassengerId is spelled 'passengerid' "
            "(names are case-sensitive); extra column Age",
        ),
        (
            ",PassengerId,Survived",
            "',PassengerId,Survived'; the first column is a saved index "
            "(write it with to_csv(index=False))",
        ),
        (
            "PassengerId;Survived",
            "'PassengerId;Survived'; fields must be separated by commas, not ';'",
        ),
        ("892,0", "'892,0'; the first line must be the header"),
    ],
)
def test_header_problems(tmp_path, header, rest):
    assert error(tmp_path, f"{header}\n892,0\n") == f"{MUST} {rest}"


def test_the_header_is_checked_before_the_rows(tmp_path):
    assert error(tmp_path, "PassengerId,survived\nabc,0.5,7\n").startswith(MUST)


# --- each row ---------------------------------------------------------------------------------


def test_the_spec_example(tmp_path):
    assert error(tmp_path, titanic_with(12, 903, "0.5")) == (
        "submission.csv, row 12 (line 13), column Survived: '0.5' is not one of 0, 1"
    )


@pytest.mark.parametrize(
    ("id_", "survived", "rest"),
    [
        (896, "", "column Survived: empty value"),
        ("", 1, "column PassengerId: empty value"),
        (896, "nan", "column Survived: 'nan' is not a number"),
        (896, "NA", "column Survived: 'NA' is not a number"),
        (896, "null", "column Survived: 'null' is not a number"),
        ("abc", 1, "column PassengerId: 'abc' is not an integer"),
        ("896.5", 1, "column PassengerId: '896.5' is not an integer"),
        ("nan", 1, "column PassengerId: 'nan' is not an integer"),
        (896, 2, "column Survived: '2' is not one of 0, 1"),
        (896, "yes", "column Survived: 'yes' is not one of 0, 1"),
        (896, "inf", "column Survived: 'inf' is not a finite number"),
    ],
)
def test_row_value_problems(tmp_path, id_, survived, rest):
    assert (
        error(tmp_path, titanic_with(5, id_, survived)) == f"submission.csv, row 5 (line 6), {rest}"
    )


def test_wrong_field_counts(tmp_path):
    rows = titanic_csv().splitlines(keepends=True)
    rows[5] = "896,1,1\n"
    assert error(tmp_path, "".join(rows)) == (
        "submission.csv, row 5 (line 6): expected 2 fields, got 3"
    )
    rows[5] = "896\n"
    assert error(tmp_path, "".join(rows)) == (
        "submission.csv, row 5 (line 6): expected 2 fields, got 1"
    )
    rows[5] = "896,1,\n"
    assert error(tmp_path, "".join(rows)) == (
        "submission.csv, row 5 (line 6): expected 2 fields, got 3 (a trailing comma?)"
    )


def test_rows_and_lines_drift_apart_after_a_blank_line(tmp_path):
    text = "PassengerId,Survived\n892,0\n\n893,0.5\n"
    assert error(tmp_path, text) == (
        "submission.csv, row 2 (line 4), column Survived: '0.5' is not one of 0, 1"
    )


def test_the_first_bad_row_wins(tmp_path):
    rows = [(i, i % 2) for i in TITANIC_IDS]
    rows[9] = (901, "0.7")
    rows[2] = (894, "")
    rows[30] = (922, "x")
    assert error(tmp_path, titanic_csv(rows)) == (
        "submission.csv, row 3 (line 4), column Survived: empty value"
    )


def test_float_values(tmp_path):
    def sales_error(value: str) -> str:
        return error(tmp_path, f"Id,Sales\n1,5\n2,{value}\n", SALES, [1, 2])

    where = "submission.csv, row 2 (line 3), column Sales:"
    assert sales_error("abc") == f"{where} 'abc' is not a number"
    assert sales_error("nan") == f"{where} 'nan' is not a number"
    assert sales_error("-inf") == f"{where} '-inf' is not a finite number"
    assert sales_error("1e999") == f"{where} '1e999' is not a finite number"
    assert sales_error("-0.5") == f"{where} '-0.5' is below the minimum 0"
    assert sales_error('"1,5"') == (
        f"{where} '1,5' is not a number (use a dot as the decimal separator)"
    )
    capped = Format(id_col="Id", target="Sales", kind="float", min_value=0, max_value=1.5)
    assert error(tmp_path, "Id,Sales\n1,2\n", capped, [1]) == (
        "submission.csv, row 1 (line 2), column Sales: '2' is above the maximum 1.5"
    )


def test_label_and_digit_values(tmp_path):
    assert error(tmp_path, "id,label\na,cat\nb,Dog\n", PETS, ["a", "b"]) == (
        "submission.csv, row 2 (line 3), column label: 'Dog' is not one of cat, dog "
        "(labels are case-sensitive)"
    )
    assert error(tmp_path, "ImageId,Label\n1,10\n", DIGITS, [1]) == (
        "submission.csv, row 1 (line 2), column Label: '10' is not one of "
        "0, 1, 2, 3, 4, 5, 6, 7, 8, 9"
    )


# --- ids across rows --------------------------------------------------------------------------


def test_a_repeated_id(tmp_path):
    assert error(tmp_path, titanic_with(7, 894, 0)) == (
        "submission.csv, row 7 (line 8), column PassengerId: 894 appears again (first at row 3)"
    )
    # the same id written another way is still the same id
    assert error(tmp_path, titanic_with(7, "894.0", 0)).endswith(
        "894 appears again (first at row 3)"
    )


def test_an_id_not_in_the_test_set(tmp_path):
    assert error(tmp_path, titanic_with(4, 5, 0)) == (
        "submission.csv, row 4 (line 5), column PassengerId: 5 is not a test id"
    )
    assert error(tmp_path, "id,label\na,cat\nzz,dog\n", PETS, ["a", "b"]) == (
        "submission.csv, row 2 (line 3), column id: 'zz' is not a test id"
    )


def test_missing_ids(tmp_path):
    rows = [(i, 0) for i in TITANIC_IDS if i != 910]
    assert error(tmp_path, titanic_csv(rows)) == (
        "submission.csv: expected 418 rows, got 417; missing PassengerId 910"
    )
    rows = [(i, 0) for i in TITANIC_IDS if not 1000 <= i < 1005]
    assert error(tmp_path, titanic_csv(rows)) == (
        "submission.csv: expected 418 rows, got 413; "
        "missing PassengerId 1000, 1001, 1002 and 2 more"
    )
    assert error(tmp_path, "PassengerId,Survived\n") == (
        "submission.csv: expected 418 rows, got 0; missing PassengerId 892, 893, 894 and 415 more"
    )


# --- DataFrames -------------------------------------------------------------------------------


def test_a_frame_with_float_and_bool_targets_is_cleaned_and_ordered():
    df = pd.DataFrame({"PassengerId": np.array([894, 892, 893]), "Survived": [1.0, 0.0, 1.0]})
    out = validate_frame(df, TITANIC, [892, 893, 894])
    assert out.to_dict("list") == {"PassengerId": [892, 893, 894], "Survived": [0, 1, 1]}
    assert out["Survived"].dtype == np.int64
    df = pd.DataFrame({"PassengerId": [893.0, 892.0], "Survived": np.array([True, False])})
    out = validate_frame(df, TITANIC, np.array([892, 893]))
    assert out.to_dict("list") == {"PassengerId": [892, 893], "Survived": [0, 1]}
    assert out["PassengerId"].dtype == np.int64 and out["Survived"].dtype == np.int64


def test_frame_problems_name_rows_without_lines():
    def frame_error(df: object, ids=(892, 893)) -> str:
        with pytest.raises(SubmissionError) as info:
            validate_frame(df, TITANIC, list(ids))
        return str(info.value)

    def frame(ids: list, survived: list) -> pd.DataFrame:
        return pd.DataFrame({"PassengerId": ids, "Survived": survived})

    assert frame_error(frame([892, 893], [0, 0.5])) == (
        "predictions, row 2, column Survived: 0.5 is not one of 0, 1"
    )
    assert frame_error(frame([892, 893], [np.nan, 1])) == (
        "predictions, row 1, column Survived: nan is not a number"
    )
    assert frame_error(frame([892, None], [0, 1])) == (
        "predictions, row 2, column PassengerId: nan is not an integer"
    )
    assert frame_error(frame([892, 892], [0, 1])) == (
        "predictions, row 2, column PassengerId: 892 appears again (first at row 1)"
    )
    assert frame_error(frame([892], [0])) == (
        "predictions: expected 2 rows, got 1; missing PassengerId 893"
    )
    indexed = frame([892, 893], [0, 1]).set_index("PassengerId")
    assert frame_error(indexed) == (
        "predictions: columns must be 'PassengerId,Survived'; got 'Survived'; "
        "missing column PassengerId; PassengerId is the index (call reset_index())"
    )
    assert frame_error([0, 1]) == (
        "predictions: must be a DataFrame with columns PassengerId, Survived; got list"
    )


# --- the format itself ------------------------------------------------------------------------


def test_a_malformed_format_or_expected_ids_is_a_plain_value_error(tmp_path):
    with pytest.raises(ValueError, match="Format.kind"):
        Format(id_col="Id", target="y", kind="bool")
    with pytest.raises(ValueError, match="Format.allowed"):
        Format(id_col="Id", target="y", kind="int", allowed=(0, 0.5))
    path = write(tmp_path, "PassengerId,Survived\n892,0\n")
    with pytest.raises(ValueError, match="more than once") as info:
        validate_csv(path, TITANIC, [892, 892])
    assert not isinstance(info.value, SubmissionError)
