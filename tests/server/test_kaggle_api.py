"""Kaggle's own client (the version pyproject pins) against a real `harness serve` on
127.0.0.1: `kaggle competitions files|download|submit|submissions|leaderboard` through
`harness kaggle-cli` on a member's machine (another harness home), the plain `kaggle`
command and the course's `kaggle.api.competition_download_cli` with what `harness
kaggle-env` prints. One server for the module; titanic only (a CSV scores in a second)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import requests

from harness.cli.kaggle_group import TESTED
from tests.conftest import cli, cli_json, harness_here
from tests.server.conftest import Server, login, member


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def clean_env(machine: Path) -> dict[str, str]:
    """The member's machine: its harness home, its own Kaggle config folder, no Kaggle
    credentials or host switch from the environment the tests run in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAGGLE_", "HARNESS_K"))}
    return {**env, "HARNESS_HOME": str(machine), "KAGGLE_CONFIG_DIR": str(machine / "kaggle")}


def kaggle_cli(machine: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`harness kaggle-cli ARGS` on a member's machine."""
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "kaggle-cli", *args],
        capture_output=True,
        text=True,
        env=clean_env(machine),
        cwd=cwd or machine,
        timeout=120,
    )


def kaggle_env(machine: Path) -> dict[str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "kaggle-env", "--json"],
        capture_output=True,
        text=True,
        env=clean_env(machine),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def plain_kaggle(machine: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    """The `kaggle` command itself, in a shell where `harness kaggle-env` was evaluated."""
    kaggle = Path(sys.executable).with_name("kaggle")
    return subprocess.run(
        [str(kaggle), *args],
        capture_output=True,
        text=True,
        env={**clean_env(machine), **env},
        cwd=machine,
        timeout=120,
    )


def rows(output: str) -> list[dict]:
    """The client's `-v` (CSV) output."""
    return list(csv.DictReader(io.StringIO(output)))


@pytest.fixture(scope="module")
def group(data_root, tmp_path_factory):
    """The host (titanic's daily limit 1) serving, and alice's and bob's machines logged in."""
    host = tmp_path_factory.mktemp("host")
    (host / "data").symlink_to(data_root, target_is_directory=True)
    tokens = {name: member(host, name) for name in ("alice", "bob")}
    assert harness_here("rules", "titanic", "--daily-limit", "1", home=host).returncode == 0
    server = Server(host, host / "serve.log").start()
    machines = {}
    for name, token in tokens.items():
        machines[name] = tmp_path_factory.mktemp(name)
        assert login(machines[name], server.url, token).returncode == 0
    try:
        yield server, tokens, machines
    finally:
        server.stop()


def test_the_client_downloads_the_files_harness_data_fetch_gets(group):
    server, _, machines = group
    laptop = machines["alice"]
    fetched = cli("data", "fetch", "titanic", home=laptop)
    assert fetched.returncode == 0, fetched.stderr
    folder = Path(fetched.stdout.strip())
    want = {p.name: sha(p.read_bytes()) for p in folder.iterdir() if p.suffix == ".csv"}
    assert set(want) == {"train.csv", "test.csv", "sample_submission.csv"}

    listed = kaggle_cli(laptop, "competitions", "files", "titanic", "-v")
    assert listed.returncode == 0, listed.stderr
    assert {r["name"] for r in rows(listed.stdout)} == set(want)

    got = kaggle_cli(laptop, "competitions", "download", "-c", "titanic", "-p", "dl", "-q")
    assert got.returncode == 0, got.stdout + got.stderr
    with zipfile.ZipFile(laptop / "dl" / "titanic.zip") as z:
        assert {n: sha(z.read(n)) for n in z.namelist()} == want

    one = kaggle_cli(
        laptop, "competitions", "download", "-c", "titanic", "-f", "test.csv", "-p", "one"
    )
    assert one.returncode == 0, one.stdout + one.stderr
    assert sha((laptop / "one" / "test.csv").read_bytes()) == want["test.csv"]

    # the course's call, in a Python started where `harness kaggle-env` was evaluated
    env = kaggle_env(laptop)
    assert env["KAGGLE_USERNAME"] == "alice" and env["HARNESS_KAGGLE_URL"] == server.url
    code = "import kaggle; kaggle.api.competition_download_cli('titanic', path='course')"
    course = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**clean_env(laptop), **env},
        cwd=laptop,
        timeout=120,
    )
    assert course.returncode == 0, course.stdout + course.stderr
    assert (laptop / "course" / "titanic.zip").read_bytes() == (
        laptop / "dl" / "titanic.zip"
    ).read_bytes()


def test_a_csv_submitted_with_the_client_is_scored_listed_and_ranked(group, tmp_path):
    server, tokens, machines = group
    laptop = machines["alice"]
    test = (server.home / "data" / "titanic" / "current" / "files" / "test.csv").read_text()
    women = ["PassengerId,Survived"] + [
        f"{r['PassengerId']},{int(r['Sex'] == 'female')}" for r in csv.DictReader(io.StringIO(test))
    ]
    (laptop / "women.csv").write_text("\n".join(women) + "\n")

    sent = kaggle_cli(
        laptop, "competitions", "submit", "titanic", "-f", "women.csv", "-m", "women live",
        "--wait", "60", "--poll-interval", "5",
    )  # fmt: skip
    assert sent.returncode == 0, sent.stdout + sent.stderr
    ref = int(sent.stdout.split("Submission ref: ")[1].split()[0])
    assert "0 submissions remaining today." in sent.stdout
    score = sent.stdout.split("Public score: ")[1].split()[0]
    code, shown = cli_json("show", str(ref), home=laptop)
    assert code == 0 and shown["status"] == "scored" and shown["message"] == "women live"
    assert float(score) == shown["public_score"]

    listed = kaggle_cli(laptop, "competitions", "submissions", "titanic", "-v")
    assert listed.returncode == 0, listed.stderr
    mine = rows(listed.stdout)
    assert [(int(r["ref"]), r["fileName"], r["description"], r["status"]) for r in mine] == [
        (ref, "women.csv", "women live", "SubmissionStatus.COMPLETE")  # as the client prints it
    ]
    assert float(mine[0]["publicScore"]) == shown["public_score"]

    board = kaggle_cli(laptop, "competitions", "leaderboard", "titanic", "--show", "-v")
    assert board.returncode == 0, board.stderr
    served = server.api("GET", "/api/competitions/titanic/leaderboard", tokens["alice"]).json()
    assert [(r["teamName"], float(r["score"])) for r in rows(board.stdout)] == [
        (r["user"], r["score"]) for r in served
    ]
    assert ("alice", shown["public_score"]) in [(r["user"], r["score"]) for r in served]

    # refused, each in one line: over the daily limit, another's submission, a wrong slug
    over = kaggle_cli(
        laptop, "competitions", "submit", "titanic", "-f", "women.csv", "-m", "again", "-q"
    )
    assert over.returncode == 1, over.stdout
    assert over.stderr.startswith("Submission not allowed: daily limit reached: titanic allows 1")
    assert over.stderr.strip().count("\n") == 0, over.stderr
    theirs = kaggle_cli(machines["bob"], "competitions", "submission", str(ref))
    assert theirs.returncode == 1 and "is alice's" in theirs.stderr, theirs.stdout + theirs.stderr
    assert theirs.stderr.strip().count("\n") == 0
    wrong = kaggle_cli(laptop, "competitions", "files", "titanc")
    assert wrong.returncode == 1 and wrong.stderr.strip() == (
        "Unknown competition 'titanc'. Did you mean: titanic?"
    ), wrong.stdout + wrong.stderr
    bobs = kaggle_cli(machines["bob"], "competitions", "submissions", "titanic", "-v")
    assert bobs.returncode == 0 and "No submissions found" in bobs.stdout, bobs.stdout


def test_a_wrong_key_is_refused_in_one_line_and_other_slugs_name_the_competition(group):
    server, tokens, machines = group
    laptop = machines["bob"]
    env = kaggle_env(laptop)
    assert kaggle_env(laptop)["KAGGLE_API_TOKEN"] == tokens["bob"]
    wrong = {**env, "KAGGLE_KEY": "x" * 43, "KAGGLE_API_TOKEN": "x" * 43}
    refused = plain_kaggle(laptop, wrong, "competitions", "files", "titanic")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert refused.stderr.strip() == "the token was refused: it is wrong or was replaced"
    basic = {**env, "KAGGLE_API_TOKEN": ""}  # only KAGGLE_USERNAME and KAGGLE_KEY: HTTP Basic
    basic["KAGGLE_USERNAME"] = "alice"  # bob's key under alice's name
    refused = plain_kaggle(laptop, basic, "competitions", "files", "titanic")
    assert refused.returncode == 1 and "the key was refused" in refused.stderr, refused.stderr
    basic["KAGGLE_USERNAME"] = "bob"
    ok = plain_kaggle(laptop, basic, "competitions", "files", "titanic", "-v")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "train.csv" in ok.stdout
    # as docs/kaggle.md says it: the shell evaluates what kaggle-env prints, then `kaggle`
    bin_dir = Path(sys.executable).parent
    shell = subprocess.run(
        ["bash", "-c", 'eval "$(harness kaggle-env)" && kaggle competitions files titanic -v'],
        capture_output=True,
        text=True,
        env={**clean_env(laptop), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        cwd=laptop,
        timeout=120,
    )
    assert shell.returncode == 0 and "test.csv" in shell.stdout, shell.stdout + shell.stderr
    # mnist is Kaggle's digit-recognizer: both names find it (its data is not served here)
    for slug in ("digit-recognizer", "mnist"):
        r = server.api(
            "POST",
            "/api/v1/competitions.CompetitionApiService/GetSubmissionLimits",
            tokens["bob"],
            json={"competitionName": slug},
        )
        assert r.status_code == 200 and r.json()["numAllowedNow"] > 0, r.text


def test_doctor_names_the_client_versions_the_server_is_tested_with(home):
    from importlib import metadata

    assert {k: metadata.version(k) for k in TESTED} == TESTED
    out = harness_here("doctor", home=home).stdout
    assert f"kaggle {TESTED['kaggle']}, kagglesdk {TESTED['kagglesdk']}" in out


def test_an_upload_url_takes_one_file_of_its_length_for_its_member_only(group):
    server, tokens, _ = group
    service = "/api/v1/competitions.CompetitionApiService/"

    def call(method: str, who: str, **body):
        return server.api("POST", service + method, tokens[who], json=body)

    started = call("StartSubmissionUpload", "alice", competitionName="titanic",
                   fileName="p.csv", contentLength=5)  # fmt: skip
    assert started.status_code == 200, started.text
    url, token = started.json()["createUrl"], started.json()["token"]
    assert url == f"{server.url}/api/v1/uploads/{token}"
    assert requests.put(url, data=b"1234", timeout=10).status_code == 400  # not the length said
    assert requests.put(url, data=b"12345", timeout=10).status_code == 200  # no credential
    again = requests.put(url, data=b"12345", timeout=10)
    assert again.status_code == 400 and "submit again" in again.json()["message"]
    stolen = call("CreateSubmission", "bob", competitionName="titanic", blobFileTokens=token)
    assert stolen.status_code == 400 and "submit again" in stolen.json()["message"]
    elsewhere = call("CreateSubmission", "alice", competitionName="mnist", blobFileTokens=token)
    assert elsewhere.json() == {
        "code": 400,
        "message": "the upload was started for titanic, not mnist",
    }
    # the guard refuses a body over the largest submission from its length, in Kaggle's shape
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(
            f"PUT /api/v1/uploads/{token} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Length: {10**9}\r\n\r\n".encode()
        )
        got = b""
        while chunk := s.recv(4096):  # the guard closes the connection after a 413
            got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413") and json.loads(body)["code"] == 413, head
    huge = call("StartSubmissionUpload", "alice", competitionName="titanic",
                fileName="x.csv", contentLength="999999999999")  # fmt: skip
    assert huge.status_code == 413 and "takes at most" in huge.json()["message"], huge.text
    bad = call("StartSubmissionUpload", "alice", competitionName="titanic", fileName="../x.csv")
    assert bad.status_code == 400 and "not a plain" in bad.json()["message"]
    unknown = call("ListCompetitions", "alice")
    assert unknown.status_code == 400 and "does not serve 'ListCompetitions'" in unknown.text


def test_the_hook_points_kaggles_client_at_any_url_https_too(tmp_path):
    """The `sitecustomize` kaggle-env puts on PYTHONPATH, in a bare Python: kagglesdk (not
    imported before) sends its LOCALHOST calls to the server's URL, scheme and port kept."""
    from harness.cli.kaggle_group import hook_dir

    code = (
        "import sys; assert 'kagglesdk' not in sys.modules\n"
        "from kagglesdk.kaggle_http_client import KaggleHttpClient\n"
        "print(KaggleHttpClient()._get_request_url('competitions.CompetitionApiService', 'X'))\n"
    )
    env = {
        **clean_env(tmp_path),
        "PYTHONPATH": str(hook_dir()),
        "KAGGLE_API_ENVIRONMENT": "LOCALHOST",
        "HARNESS_KAGGLE_URL": "https://board.example.org:8443",
    }
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == (
        "https://board.example.org:8443/api/v1/competitions.CompetitionApiService/X"
    )


def test_harness_kaggle_refuses_a_shell_pointed_at_the_group(monkeypatch):
    """`harness kaggle ...` sends to kaggle.com: never to the group in kaggle-env's shell."""
    from harness.errors import KaggleError
    from harness.kaggle_client import api

    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "LOCALHOST")
    monkeypatch.setenv("HARNESS_KAGGLE_URL", "http://127.0.0.1:8501")
    with pytest.raises(KaggleError, match="points Kaggle's client at the group's server"):
        api()


def test_the_data_routes_serve_the_listing_only_and_to_members_only(group):
    """A member's hostile paths: the hidden labels, the prepared inputs, another
    competition's folder and the host's files stay unread, however the path is spelled."""
    server, tokens, _ = group
    listed = server.api("GET", "/api/competitions/titanic/files", tokens["alice"]).json()["files"]
    assert listed  # what a member may read: the listing, nothing else
    for path in (
        "../hidden/test_labels.csv",
        "..%2Fhidden%2Ftest_labels.csv",
        "%2e%2e/hidden/test_labels.csv",
        "../inputs/test.parquet",
        "../manifest.json",
        "/etc/passwd",
        "..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "../../mnist/current/hidden/test_labels.csv",
    ):
        got = requests.get(
            f"{server.url}/api/v1/data/titanic/{path}",
            auth=("alice", tokens["alice"]),
            timeout=10,
        )  # a client folds a bare ../ itself; Starlette may redirect what is left: followed
        assert got.status_code in (400, 404), (path, got.status_code, got.url)
        assert "Survived" not in got.text and "root:" not in got.text, path
    name = listed[0]["path"]
    anonymous = requests.get(f"{server.url}/api/v1/data/titanic/{name}", timeout=10)
    assert anonymous.status_code == 400 and anonymous.json()["code"] == 400
    assert requests.get(f"{server.url}/api/v1/data/titanic.zip", timeout=10).status_code == 400
    wrong = requests.get(
        f"{server.url}/api/v1/data/titanic/{name}", auth=("bob", tokens["alice"]), timeout=10
    )
    assert wrong.status_code == 400 and "Survived" not in wrong.text
    mine = requests.get(
        f"{server.url}/api/v1/data/titanic/{name}", auth=("alice", tokens["alice"]), timeout=10
    )
    assert (
        mine.status_code == 200 and hashlib.sha256(mine.content).hexdigest() == listed[0]["sha256"]
    )


def test_kaggle_env_fails_the_shells_eval_when_it_cannot_say(tmp_path):
    """Logged in nowhere: one line on stderr, and `false` for `eval "$(harness kaggle-env)"`
    (an empty eval would succeed and leave the shell pointed at kaggle.com)."""
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "kaggle-env"],
        capture_output=True,
        text=True,
        env=clean_env(tmp_path),
        timeout=60,
    )
    assert proc.returncode != 0 and proc.stdout == "false\n"
    assert proc.stderr.startswith("harness: error: not logged in to a group's server")
    shell = subprocess.run(
        ["bash", "-c", f'eval "$({sys.executable} -m harness.cli kaggle-env 2>/dev/null)"'],
        env=clean_env(tmp_path),
        timeout=60,
    )
    assert shell.returncode == 1
