"""A member's side of the group's server: login, and the commands that then go to it.

`harness login URL --token T` saves both in `$HARNESS_HOME/login.json` (owner-only);
`HARNESS_SERVER` and `HARNESS_TOKEN` override them. While logged in, `data fetch`,
`data path`, `submit`, `leaderboard`, `show`, `rules` and `select` talk to the server
instead of this machine's store.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

from harness.errors import HarnessError, UsageError
from harness.paths import home
from harness.run.repro import file_sha256

TIMEOUT = 60.0  # seconds for one request
POLL_SECONDS = 1.0
DONE = ("scored", "failed", "rejected")


class ServerError(HarnessError):
    """The server cannot be reached, or answered with an error (exit 1)."""


def login_path() -> Path:
    return home() / "login.json"


def saved() -> dict:
    try:
        return json.loads(login_path().read_text())
    except (OSError, ValueError):
        return {}


class Server:
    def __init__(self, url: str, token: str | None):
        self.url = url.rstrip("/")
        self.token = token

    def _call(self, method: str, path: str, answers: tuple[int, ...] = (), **kwargs):
        """The response; an error status raises, but those in `answers` are returned."""
        import requests

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            r = requests.request(
                method, self.url + path, headers=headers, timeout=TIMEOUT, **kwargs
            )
        except requests.RequestException as e:
            raise ServerError(
                f"cannot reach the server at {self.url} ({type(e).__name__}); "
                "is `harness serve` running there?"
            ) from None
        if r.status_code < 400 or r.status_code in answers:
            return r
        try:
            message = r.json()["error"]
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {r.status_code}"
        if r.status_code == 401:
            raise ServerError(
                f"the token was refused by {self.url}: {message} "
                "(ask the organiser for a new one, then harness login)"
            )
        if r.status_code in (400, 404):
            raise UsageError(message)
        raise ServerError(f"{self.url}: {message}")

    def get(self, path: str):
        return self._call("GET", path).json()

    def post(self, path: str, json: dict):
        return self._call("POST", path, json=json).json()

    def download(self, path: str, dest: Path) -> None:
        r = self._call("GET", path, stream=True)
        tmp = dest.with_name(dest.name + ".part")
        with open(tmp, "wb") as f:
            for chunk in r.iter_content(1 << 20):
                f.write(chunk)
        tmp.replace(dest)

    def upload(
        self,
        competition: str,
        file: Path,
        message: str | None,
        seed: int,
        output: str | None = None,
    ) -> dict:
        fields = {"seed": str(seed)}
        if message:
            fields["message"] = message
        if output:
            fields["output"] = output
        with open(file, "rb") as f:
            r = self._call(
                "POST",
                f"/api/competitions/{quote(competition)}/submissions",
                answers=(429,),  # over the daily limit: the rejected submission's record
                files={"file": (file.name, f)},
                data=fields,
            )
        return r.json()


def current() -> Server | None:
    """The server this machine is logged in to (HARNESS_SERVER/HARNESS_TOKEN first)."""
    login = saved()
    url = os.environ.get("HARNESS_SERVER") or login.get("url")
    if not url:
        return None
    return Server(url, os.environ.get("HARNESS_TOKEN") or login.get("token"))


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"the server's address must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


def login(url: str, token: str) -> str:
    """Checks the token with the server, then saves both (owner-only); returns the member."""
    srv = Server(check_url(url), token.strip())
    member = srv.get("/api/whoami")["member"]
    path = login_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".login.json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": srv.url, "token": srv.token, "member": member}, f)
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return member


def logout() -> str | None:
    """Forgets the saved login; returns the URL it was for, if any."""
    url = saved().get("url")
    login_path().unlink(missing_ok=True)
    return url


def fetched_dir(srv: Server, competition: str) -> Path:
    """Where a server's files of a competition are kept on this machine."""
    host = urlsplit(srv.url).netloc.replace(":", "_")
    return home() / "remote" / host / competition


def fetch(srv: Server, competition: str, log) -> Path:
    """Downloads a competition's files (those already here with the right checksum stay)."""
    listing = srv.get(f"/api/competitions/{quote(competition)}/files")
    root = fetched_dir(srv, listing["competition"])
    root.mkdir(parents=True, exist_ok=True)
    files = listing["files"]
    got = 0
    for i, f in enumerate(files, 1):
        dest = root / f["path"]
        if not dest.resolve().is_relative_to(root.resolve()):
            raise ServerError(f"the server named a file outside the folder: {f['path']!r}")
        if dest.is_file() and file_sha256(dest) == f["sha256"]:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        srv.download(f"/api/competitions/{quote(competition)}/files/{quote(f['path'])}", dest)
        if file_sha256(dest) != f["sha256"]:
            dest.unlink()
            raise ServerError(f"{f['path']} arrived damaged (checksum differs); fetch again")
        got += 1
        if got % 200 == 0 or i == len(files):
            log(f"harness: {i} of {len(files)} files of {competition}")
    (root / "checksums.json").write_text(json.dumps(listing, indent=1))
    return root


def wait(srv: Server, sub_id: int, log) -> dict:
    """Follows a submission until it has a record; shows its place, then its epochs."""
    last = None
    while True:
        st = srv.get(f"/api/submissions/{sub_id}")
        if st["status"] in DONE:
            return st
        if st["status"] == "queued":
            shown = f"queued: place {st.get('place')} in line"
        else:
            of = f"/{st['epoch_of']}" if st.get("epoch_of") else ""
            shown = f"running: {st.get('epochs', 0)}{of} epochs" + (
                f" | {st['line']}" if st.get("line") else ""
            )
        if shown != last:
            log(f"harness: submission {sub_id} {shown}")
            last = shown
        time.sleep(POLL_SECONDS)
