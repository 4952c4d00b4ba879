"""Kaggle's API on the group's server, the part its client's competition commands use:
`kaggle competitions files|download|submit|submission|submissions|leaderboard` and the
course's `kaggle.api.competition_download_cli('titanic')` work against the group, with the
member's harness token as the credential (`harness kaggle-cli`, `harness kaggle-env`).

The wire, as kaggle 2.2.5 with kagglesdk 0.1.38 speaks it (the versions pyproject pins):
every call is a JSON POST to /api/v1/{service}/{Method} with camelCase fields, answered
with the JSON of kagglesdk's response class. The data come by a 302 to /api/v1/data/...
(the last segment is the file's name, `NAME.zip` for all of them); a submission is
StartSubmissionUpload (a one-time upload URL), a PUT of the file's bytes to it (the client
sends no credential there: the URL is the capability, `kaggle_files`), then CreateSubmission,
which queues it like any other upload (`intake.accept`: a CSV, or a .py or .ipynb the
client sends).

Credentials: HTTP Basic `member:token` (KAGGLE_USERNAME and KAGGLE_KEY), or `Bearer token`
(KAGGLE_API_TOKEN, which the client first checks at security.OAuthService/IntrospectToken);
wrong ones slow the address down as on /api/. A competition is named by Kaggle's slug
where it has one (`digit-recognizer`) or by its harness name (`mnist`). What a member may
not see through /api/ they may not see here: their own (and their team's) submissions, the
public board.

Errors are Kaggle's shape, `{"code": status, "message": "one line"}`, and the client prints
the message. A member's mistake (a wrong key, slug, file or submission; over the daily
limit, as Kaggle itself answers it) is a 400: the client answers 401 with kaggle.com's
sign-in help instead of the message, and adds kaggle.com hints to 403 and 404.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from math import ceil
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse
from starlette.routing import Route

from harness.competition import registry
from harness.errors import HarnessError, UsageError
from harness.server import api, intake, kaggle_files, status
from harness.server.scheduler import log
from harness.store import db, leaderboards, privacy, queue, quotas, rules

PREFIX = "/api/v1"
NO_LIMIT = 9999  # GetSubmissionLimits's numAllowedNow without a daily limit: Kaggle has no word
PAGE = 20  # the client's own page size
MAX_PAGE = 1000
SERVED = "files, download, submit, submission, submissions and leaderboard of `kaggle competitions`"


# --- names, credentials, errors -----------------------------------------------------------


def competition(slug):
    """The competition Kaggle's slug or the harness's name names.

    Raises:
        UnknownCompetition: neither (`Did you mean: ...?`).
    """
    if not isinstance(slug, str) or not slug:
        raise UsageError("no competition named (competitionName)")
    comps = registry.discover()
    if slug in comps:
        return comps[slug]
    for comp in comps.values():
        if comp.spec.kaggle == slug:
            return comp
    return registry.get(slug)  # raises, with the names it is close to


def member_of(request: Request) -> str:
    """The member a request's credential belongs to: Basic `member:token` or Bearer.

    Raises:
        Unauthorized: none, or a wrong one; SlowDown: too many wrong ones from the address.
    """
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return api.token_member(request, value.strip())
    if scheme.lower() == "basic":
        try:
            user, colon, key = (
                base64.b64decode(value.strip(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            user, colon, key = "", "", ""
        if colon and user and key:
            return api.token_member(
                request,
                key.strip(),
                expected=user,
                refused=f"the key was refused: it is not the harness token of {user[:64]!r}, "
                "or it was replaced (`harness kaggle-env` gives the one you logged in with)",
            )
    raise api.Unauthorized(
        "no credential: KAGGLE_USERNAME and KAGGLE_KEY must be your harness name and token "
        "(`harness kaggle-env` prints them; `harness kaggle-cli` sets them)"
    )


def answer(status_code: int, message: str) -> JSONResponse:
    line = " ".join(str(message).split())
    return JSONResponse({"code": status_code, "message": line}, status_code=status_code)


def failed(e: HarnessError) -> JSONResponse:
    """The client's view of our error: a 401, 403 or 404 as 400 (see the docstring)."""
    code = api.status_of(e)
    out = answer(400 if code in (401, 403, 404) else code, str(e))
    if isinstance(e, api.SlowDown):
        out.headers["Retry-After"] = str(ceil(e.wait))
    return out


def kaggle_route(fn, needs_member: bool = True):
    """A route answering `fn(request, member)` (the member looked up in a thread, None
    where the route needs none), its errors in Kaggle's shape."""

    async def handle(request: Request):
        try:
            member = await run_in_threadpool(member_of, request) if needs_member else None
            return await fn(request, member)
        except HarnessError as e:
            return failed(e)
        except Exception as e:  # ours, not the caller's: one line, and the server goes on
            log(f"{request.method} {request.url.path}: {type(e).__name__}: {e}")
            return answer(500, f"the server failed ({type(e).__name__}); the organiser has its log")

    return handle


async def body_of(request: Request) -> dict:
    try:
        body = await request.json()
    except (ValueError, RecursionError):
        raise UsageError("the body must be a JSON object, as Kaggle's client sends") from None
    if not isinstance(body, dict):
        raise UsageError("the body must be a JSON object, as Kaggle's client sends")
    return body


def number(body: dict, field: str, default: int | None = None) -> int:
    raw = body.get(field, default)
    if type(raw) is str:  # int64 fields come as text
        raw = api.whole(raw)
    if type(raw) is not int or not 0 <= raw < 2**31:
        raise UsageError(f"{field} must be a whole number, got {str(body.get(field))[:40]!r}")
    return raw


def page(items: list, body: dict) -> tuple[list, str]:
    """One page of `items` (pageToken: where it starts, or page: its number from 1) and
    the next page's token ('' at the end)."""
    size = min(max(number(body, "pageSize", PAGE) or PAGE, 1), MAX_PAGE)
    token = body.get("pageToken") or ""
    if token:
        start = api.whole(token)
        if start is None:
            raise UsageError(f"pageToken {str(token)[:40]!r} is not one this server gave")
    else:
        start = (max(number(body, "page", 1), 1) - 1) * size
    end = start + size
    return items[start:end], str(end) if end < len(items) else ""


def stamp(at) -> str | None:
    """A stored time (UTC) as kagglesdk's DateTimeSerializer writes it."""
    if not isinstance(at, datetime):
        return None
    return at.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def score_text(score) -> str | None:
    """A score as Kaggle sends it, text; every digit kept (`float()` gives it back)."""
    return None if score is None else repr(float(score))


# --- data ----------------------------------------------------------------------------------


async def list_data_files(request: Request, member: str, body: dict):
    comp = competition(body.get("competitionName"))
    prepared, found = await run_in_threadpool(api.listing, comp)
    made = stamp(datetime.fromtimestamp(prepared.files.stat().st_mtime, UTC))
    files = [
        {"ref": f["path"], "name": f["path"], "totalBytes": f["bytes"], "creationDate": made}
        for f in found
    ]
    shown, next_token = page(files, body)
    return JSONResponse({"files": shown, "nextPageToken": next_token})


async def download_data_files(request: Request, member: str, body: dict):
    comp = competition(body.get("competitionName"))
    await run_in_threadpool(intake.prepared, comp)
    return RedirectResponse(f"{PREFIX}/data/{comp.name}.zip", status_code=302)


async def download_data_file(request: Request, member: str, body: dict):
    comp = competition(body.get("competitionName"))
    _, found = await run_in_threadpool(api.listing, comp)
    name = body.get("fileName")
    if name not in {f["path"] for f in found}:
        raise UsageError(
            f"{comp.name} has no file {str(name)[:100]!r} (kaggle competitions files "
            f"{comp.spec.kaggle or comp.name} lists them)"
        )
    return RedirectResponse(f"{PREFIX}/data/{comp.name}/{quote(name)}", status_code=302)


async def data_zip(request: Request, member: str):
    comp = competition(request.path_params["name"])
    path = await run_in_threadpool(kaggle_files.archive, comp)
    return FileResponse(path, media_type="application/zip")


async def data_file(request: Request, member: str):
    comp = competition(request.path_params["name"])
    prepared, found = await run_in_threadpool(api.listing, comp)
    rel = request.path_params["path"]
    if rel not in {f["path"] for f in found}:  # only what the listing names: no ../
        raise UsageError(f"{comp.name} has no file {rel[:100]!r}")
    # as stored: the board's gzip would send fewer bytes than the Content-Length the
    # client checks the file against (a zip it leaves alone)
    return FileResponse(prepared.files / rel, headers={"Content-Encoding": "identity"})


# --- uploads -------------------------------------------------------------------------------


async def start_submission_upload(request: Request, member: str, body: dict):
    comp = competition(body.get("competitionName"))
    name = intake.check_filename(body.get("fileName") or "")
    said = body.get("contentLength", 0)
    if type(said) is str and said.isascii() and said.isdigit():
        said = int(said)  # int64 fields come as text: a size past 2**31 is too large, not bad
    length = said if type(said) is int and said > intake.limit_of(name) else None
    if length is None:
        length = number(body, "contentLength", 0)
    if length > intake.limit_of(name):
        raise intake.TooLarge(
            f"{name} is {length:,} bytes; the server takes at most {intake.limit_of(name):,} "
            "for such a file"
        )
    await run_in_threadpool(intake.prepared, comp)
    token = kaggle_files.start_upload(member, comp, name, length)
    base = f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
    return JSONResponse({"token": token, "createUrl": f"{base}{PREFIX}/uploads/{token}"})


async def upload(request: Request, member: None):
    """The file's bytes, PUT by the client without a credential: the URL is the capability
    (the guard holds its body to the largest submission)."""
    token = request.path_params["token"]
    up = kaggle_files.waiting(token)  # before a byte is read: a URL nobody was given reads nothing
    if request.headers.get("content-length") != str(up.length):
        raise UsageError(
            f"the upload must be the {up.length:,} bytes StartSubmissionUpload said, with their "
            "Content-Length"
        )
    kaggle_files.put_upload(token, await request.body())
    return JSONResponse({})


async def create_submission(request: Request, member: str, body: dict):
    comp = competition(body.get("competitionName"))
    up = kaggle_files.take_upload(body.get("blobFileTokens"), member, comp)
    message = body.get("submissionDescription")
    queued = await run_in_threadpool(
        intake.accept,
        member,
        comp.name,
        up.filename,
        up.content,
        message if isinstance(message, str) else None,
    )
    if queued["status"] == "rejected":  # over the daily limit: recorded, nothing runs
        raise UsageError(f"Submission not allowed: {queued['error']}")
    return JSONResponse({"message": f"Successfully submitted to {comp.title}", "ref": queued["id"]})


# --- submissions, limits, the board -----------------------------------------------------------

KAGGLE_STATUS = {"scored": "COMPLETE", "failed": "ERROR", "rejected": "ERROR"}  # else PENDING


def api_submission(found: dict) -> dict:
    """`status.of`'s answer as Kaggle's ApiSubmission."""
    return {
        "ref": found["id"],
        "date": stamp(found.get("submitted_at") or found.get("queued_at")),
        "description": found.get("message") or "",
        "errorDescription": found.get("error") or "",
        "fileName": found.get("filename") or "",
        "publicScore": score_text(found.get("public_score")),
        "privateScore": score_text(found.get("private_score")),
        "status": KAGGLE_STATUS.get(found["status"], "PENDING"),
        "submittedBy": found.get("user"),
        "submittedByRef": found.get("user"),
        "teamName": found.get("user"),
    }


def own_submission(member: str, ref: int) -> dict:
    """Where a submission stands, if the member may read it all (theirs, their team's,
    a published one, an organiser's view).

    Raises:
        UnknownSubmission: no such id; Private: someone else's.
    """
    found = status.of(ref)
    if found is None:
        raise api.UnknownSubmission(f"no submission with ref {ref} on this server")
    privacy.lens(privacy.viewer(member), found["competition"]).check(found)
    return found


async def get_submission(request: Request, member: str, body: dict):
    ref = number(body, "ref", 0)
    found = await run_in_threadpool(own_submission, member, ref)
    return JSONResponse(api_submission(found))


def entrant_refs(comp, member: str) -> list[int]:
    """The ids of the member's (or their team's) submissions, queued ones too, newest first."""
    with db.connect(read_only=True) as con:
        who = quotas.allowance(con, comp.name, member).entrant.members
    done = db.read(
        "SELECT id FROM submissions WHERE competition = ? AND user_name IN (SELECT unnest(?)) "
        "AND NOT is_baseline",
        [comp.name, who],
    )
    waiting = [q for q in queue.items() if q["competition"] == comp.name and q["user_name"] in who]
    return sorted({r["id"] for r in done} | {q["id"] for q in waiting}, reverse=True)


async def list_submissions(request: Request, member: str, body: dict):
    comp = competition(body.get("competitionName"))
    refs = await run_in_threadpool(entrant_refs, comp, member)
    shown, next_token = page(refs, body)

    def rows():
        return [api_submission(f) for ref in shown if (f := status.of(ref)) is not None]

    return JSONResponse({"submissions": await run_in_threadpool(rows), "nextPageToken": next_token})


def limits(comp, member: str) -> dict:
    at = db.now()
    start, end = rules.day_of(at)
    with db.connect(read_only=True) as con:
        a = quotas.allowance(con, comp.name, member, at)
        who = a.entrant.members
        today = quotas.used(con, comp.name, who, start, end) if con else 0
        total = quotas.used(con, comp.name, who, datetime(1970, 1, 1), end) if con else 0
    return {
        "numToday": today,
        "numTotal": total,
        "numAllowedNow": NO_LIMIT if a.limit is None else max(0, a.limit - today),
        "limitedByTotal": False,
    }


async def get_submission_limits(request: Request, member: str, body: dict):
    comp = competition(body.get("competitionName"))
    return JSONResponse(await run_in_threadpool(limits, comp, member))


async def get_leaderboard(request: Request, member: str, body: dict):
    """The public board, as /api/ and the board show it; teamId is the counted
    submission's id (the harness has no team ids; `harness show ID` opens it)."""
    comp = competition(body.get("competitionName"))
    _, rows = await run_in_threadpool(leaderboards.ranking, comp)
    board = [
        {
            "teamId": r["submission_id"],
            "teamName": r["user"],
            "submissionDate": stamp(r["submitted_at"]),
            "score": score_text(r["score"]),
        }
        for r in rows
    ]
    shown, next_token = page(board, body)
    return JSONResponse({"submissions": shown, "nextPageToken": next_token})


# --- the service -----------------------------------------------------------------------------

METHODS = {
    "ListDataFiles": list_data_files,
    "DownloadDataFiles": download_data_files,
    "DownloadDataFile": download_data_file,
    "StartSubmissionUpload": start_submission_upload,
    "CreateSubmission": create_submission,
    "GetSubmission": get_submission,
    "ListSubmissions": list_submissions,
    "GetSubmissionLimits": get_submission_limits,
    "GetLeaderboard": get_leaderboard,
}


async def competition_service(request: Request, member: str):
    method = request.path_params["method"]
    fn = METHODS.get(method)
    if fn is None:
        raise UsageError(f"the group's server does not serve {method[:60]!r}: it serves {SERVED}")
    return await fn(request, member, await body_of(request))


async def introspect(request: Request, member: None):
    """A Bearer token's member (OAuth introspection): inactive when no member holds it."""
    token = (await body_of(request)).get("token")
    try:
        name = await run_in_threadpool(api.token_member, request, str(token or "").strip())
    except api.Unauthorized:
        return JSONResponse({"active": False})
    return JSONResponse({"active": True, "clientId": "harness", "username": name, "scope": ""})


async def not_found(request: Request, exc: HTTPException):
    if exc.status_code == 404:
        return answer(400, f"no such call on the group's server: it serves {SERVED}")
    return answer(exc.status_code, exc.detail)


def app() -> Starlette:
    """Mounted at PREFIX, before /api (whose mount would take the path)."""
    routes = [
        Route(
            "/competitions.CompetitionApiService/{method}",
            kaggle_route(competition_service),
            methods=["POST"],
        ),
        Route(
            "/security.OAuthService/IntrospectToken",
            kaggle_route(introspect, needs_member=False),
            methods=["POST"],
        ),
        Route("/uploads/{token}", kaggle_route(upload, needs_member=False), methods=["PUT"]),
        Route("/data/{name}.zip", kaggle_route(data_zip)),
        Route("/data/{name}/{path:path}", kaggle_route(data_file)),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: not_found})
