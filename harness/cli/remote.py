"""A member's side of the group's server: login, and the commands that then go to it.

`harness login URL` asks for the token (a prompt, stdin, or `HARNESS_TOKEN`) and saves
both in `$HARNESS_HOME/login.json` (owner-only); `HARNESS_SERVER` and `HARNESS_TOKEN`
override them. While logged in, `data fetch`, `data path`, `submit`, `leaderboard`,
`show`, `rules`, `select`, `diff` and `publish` talk to the server instead of this
machine's store (`backend.Remote`, through the client here).

The server is trusted with nothing on this machine: every name and path it answers is
checked before anything is written, and what it says is printed cleaned of terminal
escapes (console.clean).
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path, PurePosixPath
from urllib.parse import quote, urlsplit

from harness.errors import HarnessError, UsageError
from harness.paths import home

TIMEOUT = 60.0  # seconds for one request
POLL_SECONDS = 1.0
DONE = ("scored", "failed", "rejected")
# a competition's name is its folder's (registry.NAME_RE), without importing the registry
COMPETITION = re.compile(r"[a-z][a-z0-9_-]{0,63}")
SHA256 = re.compile(r"[0-9a-f]{64}")
MANIFEST = "checksums.json"  # written beside the files: no file of the server's may be it


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
            message = one_line(r.json()["error"])
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

    def _json(self, r, path: str):
        try:
            return r.json()
        except ValueError:
            raise ServerError(
                f"{self.url} answered {path} with something that is not JSON"
            ) from None

    def get(self, path: str):
        return self._json(self._call("GET", path), path)

    def post(self, path: str, json: dict):
        return self._json(self._call("POST", path, json=json), path)

    def download(self, path: str, dest: Path, size: int) -> None:
        """The file at `path` into `dest`, refused past the `size` the listing gave."""
        r = self._call("GET", path, stream=True)
        tmp = dest.with_name(dest.name + ".part")
        tmp.unlink(missing_ok=True)
        # a new file, never through a link left where it goes
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        got = 0
        with os.fdopen(fd, "wb") as f:
            for chunk in r.iter_content(1 << 20):
                got += len(chunk)
                if got > size:
                    break
                f.write(chunk)
        if got > size:
            tmp.unlink()
            raise ServerError(
                f"{self.url} sent more of {dest.name} than the {size} bytes it listed"
            )
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
                f"/api/competitions/{quote(competition, safe='')}/submissions",
                answers=(429,),  # over the daily limit: the rejected submission's record
                files={"file": (file.name, f)},
                data=fields,
            )
        body = r.json()
        if r.status_code == 429 and "id" not in body:  # no record: wrong tokens slowed the address
            raise ServerError(f"{self.url}: {one_line(body.get('error', ''))}")
        return body


def one_line(text, limit: int = 300) -> str:
    """A server's message as one clean line: it may quote what a member wrote."""
    from harness.cli.console import clean

    line = " ".join(clean(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


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


def read_token(given: str | None, url: str, warn) -> str:
    """The member's token: `--token -` or a pipe reads stdin, HARNESS_TOKEN, else a prompt.

    A token on the command line still works, for scripts, with a warning: `ps` shows it
    to everyone on the machine and the shell's history keeps it.
    """
    if given is not None and given != "-":
        warn(
            "harness: warning: a token on the command line shows in `ps` and stays in your "
            "shell's history; next time leave --token out (you are asked for it), pipe it "
            "with --token -, or set HARNESS_TOKEN"
        )
        token = given
    elif given is None and os.environ.get("HARNESS_TOKEN"):
        token = os.environ["HARNESS_TOKEN"]
    elif given is None and sys.stdin.isatty():
        import getpass

        token = getpass.getpass(f"token for {url} (not shown): ")
    else:
        token = sys.stdin.readline()
    token = token.strip()
    if not token:
        raise UsageError("no token given: paste the one the organiser gave you")
    return token


def login(url: str, token: str) -> str:
    """Checks the token with the server, then saves both (owner-only); returns the member."""
    srv = Server(check_url(url), token.strip())
    who = srv.get("/api/whoami")
    member = who.get("member") if isinstance(who, dict) else None
    if not isinstance(member, str):
        raise ServerError(f"{srv.url} did not say whose token this is")
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
    if not COMPETITION.fullmatch(competition):
        raise UsageError(f"{competition!r} is not a competition's name (harness list)")
    host = urlsplit(srv.url).netloc.replace(":", "_")
    return home() / "remote" / host / competition


def check_listing(listing, competition: str) -> list[dict]:
    """The server's file list of `competition`, every entry checked before anything is
    written: the competition asked for, plain relative paths inside its folder, each
    once, with a size and a sha256.

    Raises:
        ServerError: one line naming the first thing wrong.
    """

    def bad(why: str):
        return ServerError(f"refused the server's file list of {competition}: {why}")

    if not isinstance(listing, dict) or not isinstance(listing.get("files"), list):
        raise bad("it is not a list of files")
    if listing.get("competition") != competition:  # its name picks the folder written to
        raise bad(f"it is for {str(listing.get('competition'))[:80]!r}, not {competition!r}")
    files, folders = set(), set()
    for f in listing["files"]:
        path = f.get("path") if isinstance(f, dict) else None
        shown = repr(path if not isinstance(path, str) else path[:120])
        if not isinstance(path, str) or not path:
            raise bad(f"an entry has no path: {str(f)[:120]!r}")
        parts = PurePosixPath(path).parts
        if (
            path.startswith("/")
            or "\\" in path
            or any(p in ("", ".", "..") for p in path.split("/"))
            or not all(c.isprintable() for c in path)
            or len(path) > 1024
        ):
            raise bad(f"{shown} is not a plain relative path inside the competition's folder")
        if path == MANIFEST or path.endswith(".part"):
            raise bad(f"{shown} is a name harness keeps for its own files")
        if path in files or path in folders:
            raise bad(f"{shown} is named twice, or as a file and a folder")
        size, digest = f.get("bytes"), f.get("sha256")
        if type(size) is not int or size < 0 or not isinstance(digest, str):
            raise bad(f"{shown} has no size or checksum")
        if not SHA256.fullmatch(digest):
            raise bad(f"{shown}'s checksum is not a sha256")
        files.add(path)
        folders.update("/".join(parts[:n]) for n in range(1, len(parts)))
    if clash := files & folders:
        raise bad(f"{sorted(clash)[0][:120]!r} is named as a file and as a folder")
    return listing["files"]


def fetch(srv: Server, competition: str, log) -> Path:
    """Downloads a competition's files (those already here with the right checksum stay).

    Raises:
        ServerError: the server's list names another competition or a path outside its
            folder (nothing is written then), or a file arrived larger than listed or
            damaged.
    """
    from harness.run.repro import file_sha256

    root = fetched_dir(srv, competition)
    listing = srv.get(f"/api/competitions/{quote(competition, safe='')}/files")
    files = check_listing(listing, competition)
    root.mkdir(parents=True, exist_ok=True)
    inside = root.resolve()
    for f in files:  # a link already in the folder must not carry a write outside it
        if not (root / f["path"]).resolve().is_relative_to(inside):
            raise ServerError(
                f"{root / f['path']} leads outside {root} (a link there?); nothing was fetched"
            )
    got = 0
    for i, f in enumerate(files, 1):
        dest = root / f["path"]
        if dest.is_file() and file_sha256(dest) == f["sha256"]:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        srv.download(
            f"/api/competitions/{quote(competition, safe='')}/files/{quote(f['path'])}",
            dest,
            f["bytes"],
        )
        if file_sha256(dest) != f["sha256"]:
            dest.unlink()
            raise ServerError(f"{f['path']} arrived damaged (checksum differs); fetch again")
        got += 1
        if got % 200 == 0 or i == len(files):
            log(f"harness: {i} of {len(files)} files of {competition}")
    (root / MANIFEST).write_text(json.dumps(listing, indent=1))
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
