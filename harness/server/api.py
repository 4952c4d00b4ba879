"""The HTTP API under /api/: what `harness login`, `data fetch`, `submit`, `leaderboard` and
`show` use from a member's machine.

Every route but /api/health needs a member's token (`Authorization: Bearer TOKEN`). Every
answer is JSON; an error is one object, `{"error": "one line"}`, with its HTTP status: 400
a wrong call, 401 no or a wrong token (never saying whether the member exists), 404 no such
thing, 409 not ready, 411/413 an upload without a length or over its limit, 429 over the
daily limit or a cap of the rules (the body is then the rejected submission's record,
`error` its reason; the file is not kept) or too many wrong tokens from the caller's
address (`Retry-After` says when to try again). Before any route, `guard.Guard` refuses
a Host that is not this server's (400), a body over its route's limit (413) or without a
length (411).
"""

from __future__ import annotations

import json
import re
import threading
from math import ceil

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Route

from harness.competition import data, registry
from harness.errors import HarnessError, StoreError, UnknownCompetition, UsageError
from harness.run.repro import file_sha256
from harness.server import guard, intake, status
from harness.server.scheduler import log
from harness.store import db, leaderboards, members, picks, privacy, quotas, records, rules
from harness.validate import CSV_LIMIT

FORM_OVERHEAD = 64 * 1024  # bytes of a multipart body besides the file
_listings: dict[str, list[dict]] = {}  # a prepared dataset's files never change: by fingerprint
_listing_lock = threading.Lock()


class Unauthorized(HarnessError):
    pass


class SlowDown(HarnessError):
    """Too many wrong tokens from one address: `wait` seconds before the next is checked."""

    def __init__(self, wait: float):
        super().__init__(f"too many wrong tokens from your address: try again in {ceil(wait)} s")
        self.wait = wait


class UnknownSubmission(HarnessError):
    pass


def error(status_code: int, message: str) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status_code)


def status_of(e: HarnessError) -> int:
    if isinstance(e, Unauthorized):
        return 401
    if isinstance(e, SlowDown):
        return 429
    if isinstance(e, privacy.Private):
        return 403
    if isinstance(e, UnknownCompetition | UnknownSubmission):
        return 404
    if isinstance(e, intake.TooLarge):
        return 413
    if isinstance(e, intake.NotReady):
        return 409
    if isinstance(e, UsageError):
        return 400
    if isinstance(e, StoreError):
        return 500
    return 409  # the call was understood; the rules refuse it now (e.g. picks after the deadline)


def member_of(request: Request) -> str:
    """The token's member.

    Raises:
        Unauthorized: no token, or one no member holds.
    """
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("no token: send `Authorization: Bearer TOKEN` (harness login)")
    return token_member(request, token.strip())


def token_member(
    request: Request,
    token: str,
    expected: str | None = None,
    refused: str = "the token was refused: it is wrong or was replaced",
) -> str:
    """The member holding `token` (and named `expected`, where the caller names one), the
    caller's address slowed down after wrong ones; every door that takes a token asks here.

    Raises:
        SlowDown: too many wrong tokens from the address; Unauthorized: `refused`.
    """
    address = request.client.host if request.client else ""
    if wait := guard.BAD_TOKENS.wait(address):  # before the token is looked at, even a right one
        raise SlowDown(wait)
    name = members.who(token)
    if name is None or (expected is not None and name != expected):
        guard.BAD_TOKENS.failed(address)
        raise Unauthorized(refused)
    return name


def endpoint(fn):
    """A route that needs a member: runs `fn(request, member)` in a thread, errors as JSON."""

    async def handle(request: Request):
        try:
            member = await run_in_threadpool(member_of, request)
            return await fn(request, member)
        except HarnessError as e:
            answer = error(status_of(e), str(e))
            if isinstance(e, SlowDown):
                answer.headers["Retry-After"] = str(ceil(e.wait))
            return answer
        except Exception as e:  # ours, not the caller's: one line, and the server goes on
            log(f"{request.method} {request.url.path}: {type(e).__name__}: {e}")
            return error(500, f"the server failed ({type(e).__name__}); the organiser has its log")

    return handle


def threaded(fn):
    async def call(request: Request, member: str):
        return await run_in_threadpool(fn, request, member)

    return endpoint(call)


async def health(request: Request):
    return JSONResponse({"status": "ok"})


@threaded
def whoami(request: Request, member: str):
    return JSONResponse({"member": member})


@threaded
def competitions(request: Request, member: str):
    rows = []
    for name, comp in registry.discover().items():
        rows.append(
            {
                "name": name,
                "title": comp.title,
                "metric": comp.spec.metric,
                "better": comp.metric.better,
                "version": comp.spec.version,
                "ready": data.current(comp) is not None,
            }
        )
    return JSONResponse(rows)


def listing(comp) -> tuple[data.Prepared, list[dict]]:
    """The prepared data and its user-facing files: path (relative), bytes, sha256.

    Raises:
        NotReady: the host has not prepared the data.
    """
    prepared = intake.prepared(comp)
    with _listing_lock:
        if prepared.fingerprint not in _listings:
            root = prepared.files
            files = []
            for p in sorted(root.rglob("*")):
                if p.is_file() and not p.is_symlink():
                    digest = file_sha256(p)
                    rel = p.relative_to(root).as_posix()
                    files.append({"path": rel, "bytes": p.stat().st_size, "sha256": digest})
            _listings[prepared.fingerprint] = files
        return prepared, _listings[prepared.fingerprint]


@threaded
def files(request: Request, member: str):
    comp = registry.get(request.path_params["name"])
    prepared, found = listing(comp)
    return JSONResponse(
        {"competition": comp.name, "fingerprint": prepared.fingerprint, "files": found}
    )


@threaded
def file(request: Request, member: str):
    comp = registry.get(request.path_params["name"])
    prepared, found = listing(comp)
    rel = request.path_params["path"]
    if rel not in {f["path"] for f in found}:  # only what the listing names: no ../
        return error(404, f"{comp.name} has no file {rel!r}")
    return FileResponse(prepared.files / rel)


@threaded
def leaderboard(request: Request, member: str):
    comp = registry.get(request.path_params["name"])
    return JSONResponse(jsonable(leaderboards.ranking(comp)[1]))


async def submit(request: Request, member: str):
    name = request.path_params["name"]
    length = request.headers.get("content-length")
    if length is None or not (length.isascii() and length.isdigit()):
        return error(411, "the upload must say its length (Content-Length)")
    if int(length) > CSV_LIMIT + FORM_OVERHEAD:
        return error(413, f"the upload is {int(length):,} bytes, over the server's limit")
    try:
        form = await request.form(max_files=1, max_fields=8)
    except HTTPException as e:
        return error(400, f"the upload is not a form with one file: {e.detail}")
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        return error(400, "the upload has no file (a form field named 'file')")
    content = await upload.read()
    message = form.get("message")
    output = form.get("output")
    seed = whole(form.get("seed") or "42")
    if seed is None:
        return error(400, f"seed must be a whole number below 2**31, got {form.get('seed')!r}")
    queued = await run_in_threadpool(
        intake.accept,
        member,
        name,
        upload.filename or "",
        content,
        message if isinstance(message, str) else None,
        seed,
        output if isinstance(output, str) else None,
    )
    if queued["status"] == "rejected":  # over the daily limit: recorded, nothing runs
        return JSONResponse(jsonable(queued), status_code=429)
    return JSONResponse(queued, status_code=202)


@threaded
def competition_rules(request: Request, member: str):
    """The rules, and where the token's member stands: remaining today, their picks."""
    comp = registry.get(request.path_params["name"])
    with db.connect(read_only=True) as con:  # one open for the rules and the counts
        a = quotas.allowance(con, comp.name, member)
        shown = rules.shown_at(con, comp.name, comp.spec.version)
    out = rules.describe(a.rules) | {
        "private_shown": shown is not None,
        "user": a.entrant.name,
        "team": a.entrant.team,
        "members": a.entrant.members,
        "remaining": a.remaining,
        "picks": picks.of(comp.name, member),
    }
    return JSONResponse(jsonable(out))


@threaded
def private(request: Request, member: str):
    """The private board once shown; before, `hidden` says until when."""
    comp = registry.get(request.path_params["name"])
    rows = leaderboards.private_board(comp)
    return JSONResponse(
        jsonable(
            {
                "competition": comp.name,
                "metric": comp.spec.metric,
                "better": comp.metric.better,
                "rows": rows,
                "hidden": rules.hidden_until(comp.name) if rows is None else None,
            }
        )
    )


async def select(request: Request, member: str):
    """The token's member (or their team) picks final submissions: {"ids": [...]}."""
    try:
        body = await request.json()
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the parser
        return error(400, 'the body must be JSON: {"ids": [12, 15]}')
    ids = body.get("ids") if isinstance(body, dict) else None
    if (
        not isinstance(ids, list)
        or not ids
        or any(type(i) is not int or not 0 < i < 2**31 for i in ids)
    ):
        return error(400, 'the body must name submission ids: {"ids": [12, 15]}')
    out = await run_in_threadpool(picks.select, ids, member)
    return JSONResponse(out)


@threaded
def submission(request: Request, member: str):
    """Where a submission stands; someone else's without its private parts (its file
    name, message, error), as on the board."""
    sub_id = _id(request)
    found = status.of(sub_id)
    if found is None:
        return error(404, f"no submission with id {sub_id}")
    found = privacy.lens(privacy.viewer(member), found["competition"]).shown(found)
    return JSONResponse(jsonable(found))


@threaded
def record(request: Request, member: str):
    """Everything recorded for a submission: the member's own, their team's, a published
    one, a baseline (an organiser: any); else 403 naming whose it is and when it opens."""
    sub_id = _id(request)
    found = status.record(sub_id)
    if found is None:
        return error(404, f"no recorded submission with id {sub_id} (queued or running?)")
    privacy.lens(privacy.viewer(member), found["competition"]).check(found)
    return JSONResponse(jsonable(found))


@threaded
def publish(request: Request, member: str):
    """The member's (or their team's) submission made public to everyone, for good."""
    out = privacy.publish(_id(request), privacy.viewer(member))
    return JSONResponse(jsonable(out))


@threaded
def diff(request: Request, member: str):
    """`harness diff A B` through the server: both must be the viewer's to read."""
    from harness.run import compare

    a, b = _id(request, "a"), _id(request, "b")
    v = privacy.viewer(member)
    for sub_id in (a, b):
        row = db_row(sub_id)
        privacy.lens(v, row["competition"]).check(row)
    return JSONResponse(jsonable(compare.prediction_diff(a, b)))


def db_row(sub_id: int) -> dict:
    """Who a recorded submission is: id, competition, user_name, is_baseline, published_at.

    Raises:
        UsageError: no such recorded submission.
    """
    found = privacy.whose(sub_id)
    if found is None:
        raise UnknownSubmission(f"no recorded submission with id {sub_id}")
    return found


def _id(request: Request, name: str = "id") -> int:
    raw = request.path_params[name]
    if (found := whole(raw)) is None:
        raise UsageError(f"a submission id is a whole number, got {raw[:40]!r}")
    return found


def whole(raw) -> int | None:
    """`raw` as a whole number below 2**31 in ASCII digits, else None (`"²".isdigit()` is
    True, and int() refuses it)."""
    if isinstance(raw, str) and re.fullmatch(r"[0-9]{1,10}", raw) and int(raw) < 2**31:
        return int(raw)
    return None


def jsonable(obj):
    """Dates as ISO text (UTC), like `--json` on the command line."""
    return json.loads(json.dumps(obj, default=records.jsonable))


async def not_found(request: Request, exc: HTTPException):
    return error(exc.status_code, exc.detail if exc.status_code != 404 else "no such API route")


def app() -> Starlette:
    routes = [
        Route("/health", health),
        Route("/whoami", whoami),
        Route("/competitions", competitions),
        Route("/competitions/{name}/files", files),
        Route("/competitions/{name}/files/{path:path}", file),
        Route("/competitions/{name}/leaderboard", leaderboard),
        Route("/competitions/{name}/submissions", endpoint(submit), methods=["POST"]),
        Route("/competitions/{name}/rules", competition_rules),
        Route("/competitions/{name}/private", private),
        Route("/picks", endpoint(select), methods=["POST"]),
        Route("/submissions/{id}", submission),
        Route("/submissions/{id}/record", record),
        Route("/submissions/{id}/publish", publish, methods=["POST"]),
        Route("/diff/{a}/{b}", diff),
    ]
    listed = [f"{'POST' if 'POST' in r.methods else 'GET'} /api{r.path}" for r in routes] + [
        "POST /api/v1/competitions.CompetitionApiService/METHOD (Kaggle's client)"
    ]

    async def index(request: Request):
        """What a person who opens /api/ (the serve banner's link) finds: the routes."""
        return JSONResponse(
            {
                "api": "the harness's API: JSON; every route but /api/health takes "
                "Authorization: Bearer TOKEN (the token `harness login` takes)",
                "docs": "docs/api.md in the harness's repository",
                "routes": listed,
            }
        )

    routes.insert(0, Route("/", index))
    return Starlette(routes=routes, exception_handlers={HTTPException: not_found})
