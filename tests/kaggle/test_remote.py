"""Kaggle through the real kaggle client, with only its HTTP transport faked.

The fake (tests/kaggle/kaggle_fake.py) is a real HTTP server on 127.0.0.1:7777; the client reaches
it because the tests set KAGGLE_API_ENVIRONMENT=TEST and a fake KAGGLE_API_TOKEN. Nothing
leaves the machine: the proxy variables point at the fake too, which refuses to tunnel.
"""

import csv
import hashlib
import io
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from harness.metrics import get_metric
from harness.store import kaggle, submissions
from tests.conftest import KAGGLE_TITANIC, cli, write
from tests.kaggle.kaggle_fake import (
    BASE,
    DAILY_LIMIT_400,
    PORT,
    RULES_403,
    TOKEN,
    FakeKaggle,
    kaggle_zip,
)

# floats on purpose: the file sent to Kaggle must still say 0 and 1
WOMEN = '''"""Women first."""
def fit_predict(train, valid, test):
    return (test["Sex"] == "female").astype(float)
'''
# a public board of 250 teams, best first; 154 of them score better than 0.77511
BOARD = [
    {
        "teamId": 9000 + i,
        "teamName": f"team {i}",
        "submissionDate": "2026-10-01T12:00:00.000Z",
        "score": f"{0.93 - i * 0.001:.5f}",
    }
    for i in range(1, 251)
]


def point_client_at_fake(mp: pytest.MonkeyPatch) -> None:
    """The variables the kaggle client (in a `harness` subprocess) reads."""
    for k in list(os.environ):
        if k.startswith("KAGGLE_") or k.lower() in ("all_proxy", "no_proxy"):
            mp.delenv(k)
    mp.setenv("KAGGLE_API_ENVIRONMENT", "TEST")  # kagglesdk: http://localhost:7777
    mp.setenv("KAGGLE_API_TOKEN", TOKEN)
    for k in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        mp.setenv(k, BASE)  # anything not for the fake is refused there
    mp.setenv("NO_PROXY", "localhost,127.0.0.1")


@pytest.fixture(scope="module")
def zips() -> dict[str, bytes]:
    return {"titanic": kaggle_zip(KAGGLE_TITANIC)}


@pytest.fixture(scope="module")
def kaggle_data(tmp_path_factory, zips) -> Path:
    """Kaggle's Titanic fetched (from the fake) and prepared once for this module's tests."""
    root = tmp_path_factory.mktemp("kaggle-prepared")
    with pytest.MonkeyPatch.context() as mp, FakeKaggle(zips):
        point_client_at_fake(mp)
        proc = cli("data", "fetch", "titanic", "--source", "kaggle", home=root)
    assert proc.returncode == 0, proc.stderr
    return root / "data"


@pytest.fixture
def fake(monkeypatch, zips):
    point_client_at_fake(monkeypatch)
    with FakeKaggle(zips) as f:
        yield f
    assert set(f.outbound) <= {"api.kaggle.com:443"}  # kaggle's sign-in at import, refused


@pytest.fixture
def kaggle_home(home, kaggle_data) -> Path:
    (home / "data").symlink_to(kaggle_data, target_is_directory=True)
    return home


def kaggle_test() -> pd.DataFrame:
    return pd.read_csv(KAGGLE_TITANIC / "test.csv")


def gender_csv(path: Path, survived=None) -> Path:
    test = kaggle_test()
    survived = (test.Sex == "female").astype(int) if survived is None else survived
    pd.DataFrame({"PassengerId": test.PassengerId, "Survived": survived}).to_csv(path, index=False)
    return path


def one_error_line(proc, *parts: str) -> str:
    """The command failed with exit code 1 and a last stderr line holding every part."""
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("harness: error: "), proc.stderr
    for part in parts:
        assert part in line, line
    return line


def scored_code_submission(home: Path, **over) -> dict:
    """A code submission as `harness submit` stores it, scored on the given home's data."""
    prepared = json.loads((home / "data" / "titanic" / "current" / "manifest.json").read_text())
    row = dict(
        competition="titanic",
        competition_version=1,
        data_source=prepared["source"],
        data_fingerprint=prepared["fingerprint"],
        user_name="ann",
        kind="code",
        entry="fit_predict",
        filename="women.py",
        content=WOMEN,
        file_sha256="0" * 64,
        status="scored",
        metric="accuracy",
        higher_is_better=True,
        public_score=0.80282,
        private_score=0.79,
        seed=42,
        device="cpu",
        timeout_seconds=600.0,
        memory_limit_mb=4096.0,
    )
    return submissions.submission(submissions.insert_submission({**row, **over}, []))


# --- the fake answers in Kaggle's shapes ---------------------------------------------------


def test_the_fakes_answers_are_kagglesdks_shapes():
    from kagglesdk.competitions.types.competition_api_service import (
        ApiCreateSubmissionResponse,
        ApiGetLeaderboardResponse,
        ApiListSubmissionsResponse,
        ApiStartSubmissionUploadResponse,
    )
    from kagglesdk.security.types.oauth_service import IntrospectTokenResponse

    fake = FakeKaggle({"titanic": b""})
    fake.leaderboard["titanic"] = BOARD
    auth = f"Bearer {TOKEN}"
    answers = [(IntrospectTokenResponse, fake.api("IntrospectToken", {"token": TOKEN}, auth))]
    _, started = fake.api("StartSubmissionUpload", {"competitionName": "titanic"}, auth)
    answers.append((ApiStartSubmissionUploadResponse, (200, started)))
    fake.started[started["token"]]["fileName"] = "x.csv"
    fake.uploads[started["token"]] = b"PassengerId,Survived\n"
    create = {"competitionName": "titanic", "blobFileTokens": started["token"]}
    answers.append((ApiCreateSubmissionResponse, fake.api("CreateSubmission", create, auth)))
    listed = fake.api("ListSubmissions", {"competitionName": "titanic"}, auth)
    answers.append((ApiListSubmissionsResponse, listed))
    board = fake.api("GetLeaderboard", {"competitionName": "titanic", "pageSize": 100}, auth)
    answers.append((ApiGetLeaderboardResponse, board))
    for cls, (status, answer) in answers:
        assert status == 200 and cls.from_dict(answer).to_dict() == answer, cls.__name__
    assert listed[1]["submissions"][0]["status"] == "COMPLETE"
    assert board[1]["nextPageToken"] == "100" and len(board[1]["submissions"]) == 100


# --- download -------------------------------------------------------------------------------


def test_fetch_downloads_unzips_checks_and_prepares(home, fake):
    proc = cli("data", "fetch", "titanic", "--source", "kaggle", home=home)
    assert proc.returncode == 0, proc.stderr
    files = Path(proc.stdout.strip())
    prepared = files.parent
    assert prepared.name.startswith("v1-kaggle-")
    raw = home / "data" / "titanic" / "raw" / "kaggle"
    assert sorted(p.name for p in raw.iterdir()) == [
        "gender_submission.csv",
        "test.csv",
        "train.csv",
    ]  # the zip unpacked, and gone
    for f in ("train.csv", "test.csv"):
        assert (raw / f).read_bytes() == (KAGGLE_TITANIC / f).read_bytes()
    assert pd.read_csv(prepared / "kaggle" / "test.csv").equals(kaggle_test())
    assert fake.methods() == ["IntrospectToken", "DownloadDataFiles"]
    assert fake.calls[1][1] == {"competitionName": "titanic"}
    assert not [p for p in raw.parent.iterdir() if p.name.startswith(".kaggle-")]


def test_a_download_without_the_files_changes_nothing(home, fake):
    fake.zips["titanic"] = kaggle_zip(KAGGLE_TITANIC)[:100]  # a cut-off zip
    proc = cli("data", "fetch", "titanic", "--source", "kaggle", home=home)
    one_error_line(proc, "Kaggle's download of titanic is not a readable zip", "put train.csv")
    raw = home / "data" / "titanic" / "raw"
    assert [p.name for p in raw.iterdir()] == ["kaggle"] and not any((raw / "kaggle").iterdir())


# --- submit ---------------------------------------------------------------------------------


def test_a_code_submission_runs_on_kaggles_test_and_is_sent_synced_and_ranked(kaggle_home, fake):
    local = scored_code_submission(kaggle_home)
    fake.verdict = {"status": "PENDING"}  # Kaggle is still scoring when we stop waiting
    proc = cli("kaggle", "submit", "1", "--message", "women first", "--wait", "0")
    assert proc.returncode == 0, proc.stderr
    assert "sent submission 1 (women.py, ann) to Kaggle's titanic as titanic-1.csv" in proc.stdout
    assert "418 rows, ref 50000001" in proc.stdout
    assert "Kaggle is still scoring it; see its score with: harness kaggle sync titanic" in (
        proc.stdout
    )

    # exactly Kaggle's format: 418 rows in test.csv's order, integer 0/1
    sent = fake.uploaded(50000001).decode()
    rows = list(csv.reader(io.StringIO(sent)))
    assert rows[0] == ["PassengerId", "Survived"] and len(rows) == 419
    test = kaggle_test()
    assert [int(r[0]) for r in rows[1:]] == test.PassengerId.tolist()
    assert [r[1] for r in rows[1:]] == (test.Sex == "female").astype(int).astype(str).tolist()
    create = next(r for m, r in fake.calls if m == "CreateSubmission")
    assert create["submissionDescription"] == "women first"

    [row] = kaggle.kaggle_submissions("titanic")
    assert (row["submission_id"], row["kaggle_ref"], row["status"], row["rows"]) == (
        1,
        50000001,
        "pending",
        418,
    )
    assert row["file_sha256"] == hashlib.sha256(sent.encode()).hexdigest()
    assert Path(row["file_path"]).read_text() == sent
    assert row["data_fingerprint"] == local["data_fingerprint"]

    fake.score(50000001, "0.77511")
    proc = cli("kaggle", "sync", "titanic")
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("50000001"))
    assert line.split() == [
        "50000001",
        "1",
        "ann",
        "titanic-1.csv",
        "complete",
        "0.77511",
        f"{local['public_score']:.5f}",
        *line.split()[-2:],
    ]
    [row] = kaggle.kaggle_submissions("titanic")
    assert (row["status"], row["public_score"]) == ("complete", 0.77511)
    assert row["synced_at"] is not None and row["kaggle_date"] is not None

    fake.leaderboard["titanic"] = BOARD
    proc = cli("kaggle", "leaderboard", "titanic", "--top", "3")
    assert proc.returncode == 0, proc.stderr
    assert "the best 200 teams" in proc.stdout and "team 3" in proc.stdout
    assert "team 4 " not in proc.stdout
    assert (
        "the group's best Kaggle score, 0.77511 (submission 1 by ann, ref 50000001), "
        "would rank 155 (154 teams score better)"
    ) in proc.stdout
    # pages are read until one ends below the group's score: 2 of the 3
    assert fake.methods().count("GetLeaderboard") == 2
    stored = kaggle.kaggle_leaderboard("titanic")
    assert len(stored) == 200 and stored[0]["team_name"] == "team 1" and stored[0]["rank"] == 1
    assert kaggle.kaggle_rank("titanic", 0.77511, get_metric("accuracy")) == 155


def test_a_csv_is_checked_against_kaggles_test_and_sent_as_is(kaggle_home, fake, tmp_path):
    good = gender_csv(tmp_path / "gender.csv")
    proc = cli("kaggle", "submit", "titanic", str(good))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "sent gender.csv to Kaggle's titanic as gender.csv: 418 rows, ref 50000001",
        "  Kaggle public accuracy: 0.77511",
    ]
    assert fake.uploaded(50000001) == good.read_bytes()
    [row] = kaggle.kaggle_submissions("titanic")
    assert row["submission_id"] is None and row["status"] == "complete"
    assert row["message"] == "harness: gender.csv"

    floats = gender_csv(tmp_path / "floats.csv", (kaggle_test().Sex == "female").astype(float))
    one_error_line(
        cli("kaggle", "submit", "titanic", str(floats)),
        "not sent to Kaggle: floats.csv, row 1 (line 2), column Survived: '0.0' is not written "
        "as an integer; Kaggle scores such a file 0",
    )
    short = write(tmp_path / "short.csv", good.read_text().rsplit("\n", 2)[0] + "\n")
    one_error_line(
        cli("kaggle", "submit", "titanic", str(short)),
        "short.csv: expected 418 rows, got 417; missing PassengerId 1309",
    )
    assert len(fake.uploads) == 1


def test_a_file_kaggle_rejects_is_one_line_and_recorded(kaggle_home, fake, tmp_path):
    fake.verdict = {"status": "ERROR", "errorDescription": "Evaluation Exception: bad values"}
    proc = cli("kaggle", "submit", "titanic", str(gender_csv(tmp_path / "g.csv")))
    one_error_line(proc, "Kaggle could not score g.csv: Evaluation Exception: bad values")
    [row] = kaggle.kaggle_submissions("titanic")
    assert (row["status"], row["error"]) == ("error", "Evaluation Exception: bad values")


def test_a_submission_scored_on_offline_data_is_refused(kaggle_home, fake):
    scored_code_submission(kaggle_home, data_source="offline")
    one_error_line(
        cli("kaggle", "submit", "1"),
        "submission 1 was scored on offline data",
        "run `harness data fetch titanic --source kaggle`, submit it again "
        "(`harness submit titanic women.py --user ann`) and send the new id",
    )
    assert fake.calls == []  # refused before asking Kaggle anything


# --- the errors a group meets ---------------------------------------------------------------


def test_no_credentials(home, fake, monkeypatch, tmp_path):
    monkeypatch.delenv("KAGGLE_API_TOKEN")
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kaggle/access_token, no kaggle.json
    line = one_error_line(
        cli("kaggle", "leaderboard", "titanic"),
        "no Kaggle credentials: set KAGGLE_API_TOKEN, or save your token in "
        "~/.kaggle/access_token (or the legacy ~/.kaggle/kaggle.json)",
    )
    assert "https://www.kaggle.com/settings" in line and fake.calls == []


def test_rules_not_accepted(home, fake):
    fake.fail["DownloadDataFiles"] = (403, RULES_403)
    one_error_line(
        cli("data", "fetch", "titanic", "--source", "kaggle"),
        f"Kaggle refused to download titanic's files (403: {RULES_403}); accept the "
        "competition's rules at https://www.kaggle.com/competitions/titanic/rules",
    )


def test_no_network(kaggle_home, monkeypatch, tmp_path):
    point_client_at_fake(monkeypatch)  # and no fake listening: connection refused
    one_error_line(
        cli("kaggle", "submit", "titanic", str(gender_csv(tmp_path / "g.csv"))),
        f"cannot reach Kaggle at localhost:{PORT} to sign in (Connection refused); "
        "check the network connection",
    )
    assert kaggle.kaggle_submissions("titanic") == []


def test_daily_submission_limit(kaggle_home, fake, tmp_path):
    fake.fail["CreateSubmission"] = (400, DAILY_LIMIT_400)
    one_error_line(
        cli("kaggle", "submit", "titanic", str(gender_csv(tmp_path / "g.csv"))),
        f"Kaggle's daily submission limit for titanic is reached ({DAILY_LIMIT_400}); "
        "it resets at 00:00 UTC",
    )
    assert kaggle.kaggle_submissions("titanic") == []
