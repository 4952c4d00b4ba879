"""What Kaggle's client downloads and uploads on the group's server (harness.server.kaggle_api):
a competition's files in one zip, and the one-time upload URLs a submission's bytes are PUT
to without a credential.

An upload URL is a capability: 256 random bits, bound to the member who asked for it, the
competition, the file's name and length; it takes one file, within UPLOAD_TTL seconds, and
CreateSubmission takes that file once. They live in the server's memory (a restart forgets
them: the client submits again), at most UPLOADS_PER_MEMBER at once per member.
"""

from __future__ import annotations

import secrets
import shutil
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from harness.errors import UsageError
from harness.paths import home
from harness.server import api

UPLOAD_TTL = 15 * 60  # seconds an upload URL takes its file, and then waits for CreateSubmission
UPLOADS_PER_MEMBER = 4  # upload URLs open at once; a fifth drops the member's oldest
STORED = (".jpg", ".jpeg", ".png", ".gif", ".zip", ".gz", ".bz2", ".xz", ".parquet", ".npz")


_zip_lock = threading.Lock()


def archive(comp) -> Path:
    """All of a competition's user-facing files in one zip, as Kaggle's download gives them,
    made once per prepared dataset (the same bytes every time: no dates inside)."""
    prepared, found = api.listing(comp)
    folder = home() / "archives" / comp.name
    path = folder / f"{prepared.fingerprint}.zip"
    with _zip_lock:
        if path.is_file():
            return path
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        with zipfile.ZipFile(tmp, "w") as z:
            for f in found:
                info = zipfile.ZipInfo(f["path"], date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                # images and archives are compressed already: deflating them is time lost
                stored = f["path"].lower().endswith(STORED)
                info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                with open(prepared.files / f["path"], "rb") as src, z.open(info, "w") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        tmp.replace(path)
        for old in folder.glob("*.zip"):  # earlier preparations' archives
            if old != path:
                old.unlink(missing_ok=True)
    return path


@dataclass
class Upload:
    """An upload URL handed out: whose, for what, until when; its bytes once put."""

    member: str
    competition: str
    filename: str
    length: int
    expires: float
    content: bytes | None = None


_uploads: dict[str, Upload] = {}
_uploads_lock = threading.Lock()


def _sweep(now: float) -> None:
    for token in [t for t, u in _uploads.items() if u.expires <= now]:
        del _uploads[token]


def start_upload(member: str, comp, filename: str, length: int) -> str:
    """A new one-time upload token for `member` (their oldest dropped past the cap)."""
    now = time.monotonic()
    with _uploads_lock:
        _sweep(now)
        mine = [t for t, u in _uploads.items() if u.member == member]
        for token in mine[: max(0, len(mine) - UPLOADS_PER_MEMBER + 1)]:
            del _uploads[token]
        token = secrets.token_urlsafe(32)
        _uploads[token] = Upload(member, comp.name, filename, length, now + UPLOAD_TTL)
    return token


GONE = (
    "the upload is unknown or expired (after {ttl} min, or a restart of the server): submit again"
)


def waiting(token: str) -> Upload:
    """The upload a URL still waits for.

    Raises:
        UsageError: unknown, expired, or its file put already (one file per URL).
    """
    with _uploads_lock:
        _sweep(time.monotonic())
        up = _uploads.get(token)
        if up is None or up.content is not None:
            raise UsageError(GONE.format(ttl=UPLOAD_TTL // 60))
        return up


def put_upload(token: str, content: bytes) -> None:
    up = waiting(token)
    if len(content) != up.length:
        raise UsageError(
            f"the upload is {len(content):,} bytes; StartSubmissionUpload said {up.length:,}"
        )
    with _uploads_lock:
        if up.content is not None:  # two PUTs at once: the first one's
            raise UsageError(GONE.format(ttl=UPLOAD_TTL // 60))
        up.content = content


def take_upload(token: str, member: str, comp) -> Upload:
    """The member's uploaded file for `comp`, taken: a token is used once.

    Raises:
        UsageError: unknown, expired, another member's (said alike), not uploaded yet, or
            started for another competition.
    """
    with _uploads_lock:
        _sweep(time.monotonic())
        up = _uploads.get(token) if isinstance(token, str) else None
        if up is None or up.member != member:
            raise UsageError(GONE.format(ttl=UPLOAD_TTL // 60))
        if up.content is None:
            raise UsageError("nothing was uploaded to the upload URL yet: submit again")
        if up.competition != comp.name:
            raise UsageError(f"the upload was started for {up.competition}, not {comp.name}")
        del _uploads[token]
    return up
