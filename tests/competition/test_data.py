"""harness/competition/data.py: the prepared data's files, as the harness reads them."""

import ast
from pathlib import Path

import pandas as pd

from harness.competition.data import read_parquet

HARNESS = Path(__file__).resolve().parents[2] / "harness"


def test_read_parquet_reads_the_columns_asked_for(tmp_path):
    frame = pd.DataFrame({"PassengerId": [892, 893], "Survived": [0, 1]})
    frame.to_parquet(tmp_path / "t.parquet", index=False)
    pd.testing.assert_frame_equal(read_parquet(tmp_path / "t.parquet"), frame)
    assert list(read_parquet(tmp_path / "t.parquet", columns=["Survived"])) == ["Survived"]


def test_the_harness_reads_parquet_only_on_the_calling_thread():
    # pyarrow's thread pool can abort a process as it exits (a CLI command's -6 in CI):
    # every read goes through read_parquet, which keeps off it
    calls = [
        f"{path.relative_to(HARNESS.parent)}:{node.lineno}"
        for path in HARNESS.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("read_parquet", "read_table")
        and not (isinstance(node.func.value, ast.Name) and node.func.value.id == "data")
        and "use_threads" not in {k.arg for k in node.keywords}
    ]
    assert calls == []
