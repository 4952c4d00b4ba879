"""A fake Kaggle on 127.0.0.1:7777 that the real kaggle client talks HTTP to.

kagglesdk sends every API call as a POST of JSON to `{endpoint}/api/v1/{service}/{method}`;
with `KAGGLE_API_ENVIRONMENT=TEST` the endpoint is http://localhost:7777. The answers here
have the shapes of Kaggle's (the JSON of kagglesdk's response classes, e.g. ApiSubmission:
`ref`, `date`, `status`, `publicScore`, `errorDescription`, ...), and errors come as Kaggle
sends them: an HTTP status with `{"code": ..., "message": ...}`. The data download and the
submission upload go through URLs the API hands out, served here too; every upload is kept
so a test can check exactly what was sent.

The tests also point HTTP(S)_PROXY here: the kaggle package signs in when it is imported,
always against api.kaggle.com, and that CONNECT is refused here (and noted in `outbound`),
so nothing ever leaves the machine.
"""

from __future__ import annotations

import io
import json
import threading
import uuid
import zipfile
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

PORT = 7777
BASE = f"http://127.0.0.1:{PORT}"
TOKEN = "KGAT_0123456789abcdef0123456789abcdef"  # the shape of Kaggle's API tokens
USER = "ann-kaggle"
TITLES = {"titanic": "Titanic - Machine Learning from Disaster"}
# Kaggle's words, as its API sends them
RULES_403 = "You must accept this competition's rules before you'll be able to download files."
DAILY_LIMIT_400 = (
    "Submission not allowed: Your team has used its daily Submission allowance (10) today."
)


def kaggle_zip(folder: Path) -> bytes:
    """Kaggle's Titanic download: train.csv, test.csv and gender_submission.csv."""
    import pandas as pd

    test = pd.read_csv(folder / "test.csv")
    gender = pd.DataFrame(
        {"PassengerId": test.PassengerId, "Survived": (test.Sex == "female").astype(int)}
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("gender_submission.csv", gender.to_csv(index=False))
        z.write(folder / "test.csv", "test.csv")
        z.write(folder / "train.csv", "train.csv")
    return buf.getvalue()


def iso(dt: datetime) -> str:
    """A time as kagglesdk's DateTimeSerializer writes it."""
    return dt.isoformat(timespec="milliseconds") + "Z"


class FakeKaggle:
    """The fake's state; a test reads what was asked and sets what Kaggle answers.

    Attributes:
        zips: competition slug -> the bytes of its data download.
        calls: (method, request JSON) of every API call, in order.
        uploads: upload token -> the bytes uploaded.
        submissions: ApiSubmission dicts, oldest first.
        leaderboard: slug -> ApiLeaderboardSubmission dicts, best first.
        fail: method -> (HTTP status, Kaggle's message), answered to every such call.
        verdict: the fields a new submission gets (status, publicScore, errorDescription).
        outbound: hosts a client tried to reach through the proxy trap.
    """

    def __init__(self, zips: dict[str, bytes]):
        self.zips = dict(zips)
        self.calls: list[tuple[str, dict]] = []
        self.uploads: dict[str, bytes] = {}
        self.started: dict[str, dict] = {}
        self.submissions: list[dict] = []
        self.leaderboard: dict[str, list[dict]] = {}
        self.fail: dict[str, tuple[int, str]] = {}
        self.verdict: dict = {"status": "COMPLETE", "publicScore": "0.77511"}
        self.outbound: list[str] = []
        self.next_ref = 50_000_001
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> FakeKaggle:
        self._server = ThreadingHTTPServer(("127.0.0.1", PORT), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def methods(self) -> list[str]:
        return [m for m, _ in self.calls]

    def uploaded(self, ref: int) -> bytes:
        """The bytes of the file behind a submission."""
        sub = next(s for s in self.submissions if s["ref"] == ref)
        return self.uploads[sub["_blob"]]

    def score(self, ref: int, public: str) -> None:
        """Kaggle finishes scoring a submission."""
        sub = next(s for s in self.submissions if s["ref"] == ref)
        sub.update(status="COMPLETE", publicScore=public)

    # --- the API ---------------------------------------------------------------------

    def api(self, method: str, request: dict, auth: str | None) -> tuple[int, dict]:
        if auth != f"Bearer {TOKEN}":
            return 401, {"code": 401, "message": "Unauthenticated"}
        if method in self.fail:
            status, message = self.fail[method]
            return status, {"code": status, "message": message}
        if method == "IntrospectToken":
            if request.get("token") != TOKEN:
                return 200, {"active": False}
            return 200, {
                "active": True,
                "clientId": "kaggle-cli",
                "username": USER,
                "userId": 4242,
                "scope": "resources.admin:*",
                "exp": 4102444800,
            }
        slug = request.get("competitionName", "")
        if (
            method
            in (
                "DownloadDataFiles",
                "StartSubmissionUpload",
                "CreateSubmission",
                "ListSubmissions",
                "GetLeaderboard",
            )
            and slug not in self.zips
        ):
            return 404, {"code": 404, "message": "NotFound"}
        if method == "DownloadDataFiles":
            return 302, {"location": f"{BASE}/storage/{slug}.zip"}
        if method == "StartSubmissionUpload":
            token = uuid.uuid4().hex
            self.started[token] = request
            return 200, {"token": token, "createUrl": f"{BASE}/upload/{token}"}
        if method == "CreateSubmission":
            token = request.get("blobFileTokens", "")
            if token not in self.uploads:
                return 400, {"code": 400, "message": "Invalid blob file token"}
            ref, self.next_ref = self.next_ref, self.next_ref + 1
            sub = {
                "ref": ref,
                "totalBytes": len(self.uploads[token]),
                "date": iso(datetime.now(UTC).replace(tzinfo=None)),
                "description": request.get("submissionDescription", ""),
                "fileName": self.started[token]["fileName"],
                "status": "PENDING",
                "submittedBy": USER,
                "submittedByRef": USER,
                "teamName": "Ann Kaggle",
                "url": f"/submissions/{ref}/{ref}.raw",
                **self.verdict,
                "_blob": token,
            }
            self.submissions.append(sub)
            return 200, {
                "message": f"Successfully submitted to {TITLES.get(slug, slug)}",
                "ref": ref,
            }
        if method == "ListSubmissions":
            subs = [{k: v for k, v in s.items() if k != "_blob"} for s in self.submissions]
            return 200, _page(subs[::-1], request)  # newest first, as Kaggle lists them
        if method == "GetLeaderboard":
            return 200, _page(self.leaderboard.get(slug, []), request)
        return 404, {"code": 404, "message": "NotFound"}


def _page(items: list[dict], request: dict) -> dict:
    """One page; like kagglesdk's to_dict, an answer leaves out fields at their default."""
    start, size = int(request.get("pageToken") or 0), int(request.get("pageSize") or 20)
    page = {"submissions": items[start : start + size]}
    if start + size < len(items):
        page["nextPageToken"] = str(start + size)
    return page


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    @property
    def fake(self) -> FakeKaggle:
        return self.server.fake

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            out = b""
            while size := int(self.rfile.readline().strip() or b"0", 16):
                out += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return out
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        body = self._body()
        path = urlsplit(self.path).path
        if not path.startswith("/api/v1/"):
            return self._send(404)
        method = path.rsplit("/", 1)[-1]
        request = json.loads(body or b"{}")
        self.fake.calls.append((method, request))
        status, answer = self.fake.api(method, request, self.headers.get("Authorization"))
        if status == 302:
            return self._send(302, headers={"Location": answer["location"]})
        self._send(status, json.dumps(answer).encode(), {"Content-Type": "application/json"})

    def do_GET(self) -> None:
        name = urlsplit(self.path).path.removeprefix("/storage/")
        data = self.fake.zips.get(name.removesuffix(".zip"))
        if data is None:
            return self._send(404)
        self._send(
            200, data, {"Content-Type": "application/zip", "Last-Modified": formatdate(usegmt=True)}
        )

    def do_PUT(self) -> None:
        token = urlsplit(self.path).path.removeprefix("/upload/")
        body = self._body()
        if token not in self.fake.started:
            return self._send(404)
        self.fake.uploads[token] = body
        self._send(200, b"{}", {"Content-Type": "application/json"})

    def do_CONNECT(self) -> None:
        self.fake.outbound.append(self.path)
        self.close_connection = True
        self._send(403, b"the tests never reach the real Kaggle")
