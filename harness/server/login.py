"""The board's login: a member's token, entered once per browser, becomes a session cookie.

`GET /login` is a plain form (no script, nothing from elsewhere); `POST /login` checks the
token as the API does and answers with a cookie, then sends the browser back to the board.
The token travels only in that POST's body: never in a URL, a log or the cookie.

The cookie (`harness_session`) is `payload.signature`: the payload names the member, when
their token was made and when the session ends; the signature is an HMAC-SHA256 with a
secret kept in the harness home (`session.key`, 0600, made on first use). It is httpOnly
(no script reads it), SameSite=Lax (other sites' forms and frames do not carry it),
Secure when the board is reached over HTTPS, and it expires after `LIFETIME`. A new token
for the member (`harness member token NAME`) ends all their sessions at once; so does
removing them. `POST /logout` clears it.

The board reads the cookie from the request that opened its websocket
(`st.context.cookies`) and checks it on every rerun (`member_of`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import os
import secrets
import threading
import time
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from harness.paths import home
from harness.server import guard
from harness.store import members

COOKIE = "harness_session"
LIFETIME = 14 * 24 * 3600  # seconds a browser stays signed in
BODY_LIMIT = 4096  # bytes of a login form: a token is 47 characters
_secret: dict[str, bytes] = {}
_secret_lock = threading.Lock()


def secret() -> bytes:
    """The signing key of this home's sessions, made once (0600)."""
    path = home() / "session.key"
    key = str(path)
    with _secret_lock:
        if key not in _secret:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as f:
                    f.write(secrets.token_bytes(32))
            _secret[key] = path.read_bytes()
        return _secret[key]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: str) -> str:
    return _b64(hmac.new(secret(), payload.encode(), hashlib.sha256).digest())


def _token_at(member: str) -> str | None:
    found = members.known().get(member)
    return found.token_at.isoformat() if found else None


def cookie_for(member: str, now: float | None = None) -> str:
    """A signed session for `member`, valid for LIFETIME seconds."""
    body = {"m": member, "t": _token_at(member), "e": int((now or time.time()) + LIFETIME)}
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_sign(payload)}"


def member_of(cookie: str | None, now: float | None = None) -> str | None:
    """The member a session cookie signs in, or None: absent, forged, expired, or their
    token replaced (or the member removed) since it was made."""
    if not cookie or len(cookie) > 1024 or cookie.count(".") != 1:
        return None
    payload, signature = cookie.split(".")
    if not hmac.compare_digest(signature, _sign(payload)):
        return None
    try:
        body = json.loads(_unb64(payload))
        member, token_at, ends = body["m"], body["t"], body["e"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(ends, int) or ends <= (now or time.time()):
        return None
    if token_at is None or _token_at(member) != token_at:
        return None
    return member


def member_of_header(cookie_header: str) -> str | None:
    """The member a request's Cookie header signs in, or None."""
    from http.cookies import CookieError, SimpleCookie

    jar = SimpleCookie()
    try:
        jar.load(cookie_header or "")
    except CookieError:
        return None
    found = jar.get(COOKIE)
    return member_of(found.value) if found else None


# --- the routes --------------------------------------------------------------------------

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · harness</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}}
input,button{{font-size:1rem;padding:.5rem;margin:.25rem 0}}input{{width:100%;box-sizing:border-box}}
.error{{color:#b00020}}</style></head>
<body><h1>{title}</h1>{body}<p><a href="/">Back to the board</a></p></body></html>"""

LOGIN_FORM = """{note}<form method="post" action="/login">
<label for="token">Your token (from the organiser: harness member add NAME)</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button></form>
<p>It stays in this browser as a session for {days} days; the token itself is never kept.</p>"""

LOGOUT_FORM = """<p>{who}</p><form method="post" action="/logout">
<button type="submit">Sign out</button></form>"""

HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",  # "no-referrer" would make the form's Origin "null"
}


def page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=title, body=body), status_code, headers=HEADERS)


def same_origin(request: Request) -> bool:
    """A form posted from the board itself: its Origin (or Referer) is this host. Other
    sites cannot sign a browser in or out."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return False
    return urlsplit(origin).netloc == request.headers.get("host", "")


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session(response: Response, request: Request, member: str) -> None:
    response.set_cookie(
        COOKIE,
        cookie_for(member),
        max_age=LIFETIME,
        httponly=True,
        samesite="lax",
        secure=secure(request),
        path="/",
    )


async def login_page(request: Request) -> Response:
    if request.method == "GET":
        who = await run_in_threadpool(member_of, request.cookies.get(COOKIE))
        note = f"<p>Signed in as {html.escape(who)}.</p>" if who else ""
        return page("Sign in", LOGIN_FORM.format(note=note, days=LIFETIME // 86400))
    if not same_origin(request):
        return page("Sign in", "<p class=error>Sign in from the board's own page.</p>", 403)
    length = request.headers.get("content-length")
    if length is None or not length.isdecimal() or int(length) > BODY_LIMIT:
        return page("Sign in", "<p class=error>The form is too large.</p>", 413)
    form = await request.form(max_files=0, max_fields=4)
    token = form.get("token")
    address = request.client.host if request.client else ""
    if wait := guard.BAD_TOKENS.wait(address):  # as the API: wrong tokens slow an address
        note = f"<p class=error>Too many wrong tokens: try again in {int(wait) + 1} s.</p>"
        return page("Sign in", LOGIN_FORM.format(note=note, days=LIFETIME // 86400), 429)
    member = await run_in_threadpool(members.who, token.strip()) if isinstance(token, str) else None
    if member is None:
        guard.BAD_TOKENS.failed(address)
        note = "<p class=error>The token was refused: it is wrong or was replaced.</p>"
        return page("Sign in", LOGIN_FORM.format(note=note, days=LIFETIME // 86400), 401)
    response = RedirectResponse("/", status_code=303, headers=HEADERS)
    await run_in_threadpool(set_session, response, request, member)
    return response


async def logout_page(request: Request) -> Response:
    if request.method == "GET":
        who = await run_in_threadpool(member_of, request.cookies.get(COOKIE))
        text = f"Signed in as {html.escape(who)}." if who else "Not signed in."
        return page("Sign out", LOGOUT_FORM.format(who=text))
    if not same_origin(request):
        return page("Sign out", "<p class=error>Sign out from the board's own page.</p>", 403)
    response = RedirectResponse("/", status_code=303, headers=HEADERS)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=secure(request))
    return response


UPLOADS = "/_stcore/upload_file"  # Streamlit's file box sends its files here


def uploads_need_sign_in(app):
    """The ASGI app with Streamlit's file-box uploads refused (403, nothing read) unless
    the browser's session cookie signs in a member: an anonymous visitor has no Submit
    form, and cannot send files to the host by calling the endpoint directly either."""

    async def guarded(scope, receive, send):
        if (
            scope["type"] == "http"
            and scope["path"].startswith(UPLOADS)
            and scope["method"] not in ("OPTIONS", "DELETE")
        ):
            request = Request(scope)
            if await run_in_threadpool(member_of, request.cookies.get(COOKIE)) is None:
                response = Response("sign in to upload", 403, media_type="text/plain")
                return await response(scope, receive, send)
        return await app(scope, receive, send)

    return guarded


def routes() -> list[Route]:
    return [
        Route("/login", login_page, methods=["GET", "POST"]),
        Route("/logout", logout_page, methods=["GET", "POST"]),
    ]
