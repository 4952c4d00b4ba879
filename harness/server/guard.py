"""The server's guard: what an internet-facing service checks before any route runs.

`Guard` wraps the whole app (board, API, the board's websocket) as ASGI middleware:
- the Host header must name this server (`allowed_hosts`): a page of another site whose
  name resolves here (DNS rebinding) never reaches the board or the API;
- every request's body has a limit set by its route (`Guard.body_limit`), known from its
  Content-Length before a byte of it is read (h11 then reads no more than that length);
  a body without a length (chunked) is refused, as `harness submit` and browsers always
  send one;
- Streamlit's metrics (`/_stcore/metrics`: sessions, memory) are for nobody outside;
- the board's file box holds a few files at a time per browser session (that only a
  signed-in member may upload is the login's `uploads_need_sign_in`).

`Protocol` is uvicorn's h11 protocol with the timeouts uvicorn leaves out: it arms no
timer until a first response is sent, so a connection that sends nothing, or a request
head a byte at a time, stays open for good (20,000 of them used up the process's file
descriptors). Here a request's head must arrive within HEAD_TIMEOUT, a body must not
stall for BODY_IDLE, and connections over the server's limit are closed as they come.

`BAD_TOKENS` slows down an address that keeps sending wrong tokens (the API, the login).
"""

from __future__ import annotations

import re
import resource
import socket
import threading
import time
from math import ceil
from urllib.parse import urlsplit

import h11
from starlette.concurrency import run_in_threadpool
from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_TIMEOUT = 10.0  # seconds from a request's first byte (or the connection) to its whole head
BODY_IDLE = 30.0  # seconds a request body may stall before its connection is closed
MAX_CONNECTIONS = 1000  # open at once; at most half the descriptors the process may hold
PER_ADDRESS = 200  # open at once from one address (a classroom behind one NAT fits)
PROXIES = ("127.0.0.1", "::1")  # a reverse proxy on this machine: every member comes from it
SMALL_BODY = 64 * 1024  # bytes: a route's body unless it is one of the few that take files
SESSION_FILES = 4  # files the board's file box holds for one browser session at once
METRICS = "/_stcore/metrics"
UPLOADS = "/_stcore/upload_file/"
LOOPBACK = ("localhost", "127.0.0.1", "::1")


# --- who may be asked for ----------------------------------------------------------------


def host_name(header: str) -> str:
    """The name in a Host header, without its port, lower case ('' when malformed)."""
    header = header.strip().lower()
    if header.startswith("["):  # [::1]:8501
        end = header.find("]")
        return header[1:end] if end > 0 else ""
    name, colon, port = header.rpartition(":")
    if colon and port.isascii() and port.isdecimal():
        return name
    return "" if colon else header


def allowed_hosts(bound: str, extra: list[str] | tuple[str, ...] = ()) -> frozenset[str]:
    """The names a request's Host may give: loopback, the bound address, `extra`; where the
    server listens on every address (0.0.0.0, ::), the machine's own names and addresses
    too, so a member's `http://gpu-box:8501` keeps working."""
    names = {*LOOPBACK, bound.lower().strip("[]")}
    if bound in ("0.0.0.0", "::", ""):
        import psutil

        names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
        for addresses in psutil.net_if_addrs().values():
            for a in addresses:
                if a.family in (socket.AF_INET, socket.AF_INET6):
                    names.add(a.address.split("%")[0].lower())  # fe80::1%eth0
    names |= {host_name(e) or e.lower() for e in extra}
    return frozenset(n for n in names if n and n not in ("0.0.0.0", "::"))


# --- bodies --------------------------------------------------------------------------------

SUBMIT_ROUTE = re.compile(r"/api/competitions/[^/]+/submissions/?")
# Kaggle's client PUTs a submission's bytes here (harness.server.kaggle_api)
KAGGLE_UPLOAD = re.compile(r"/api/v1/uploads/[^/]+")


def upload_cap_mb() -> int:
    """Streamlit's server.maxUploadSize (MiB, as it counts): the largest file any
    submission may be, rounded up."""
    from harness.run.submission import CODE_LIMIT, NOTEBOOK_LIMIT
    from harness.validate import CSV_LIMIT

    return ceil(max(CODE_LIMIT, NOTEBOOK_LIMIT, CSV_LIMIT) / 2**20)


# --- the middleware ------------------------------------------------------------------------


class Guard:
    """ASGI middleware: the Host, the body's length, the metrics and the board's file count
    are checked before the app sees the request."""

    def __init__(self, app, hosts: frozenset[str], submit: int, upload: int, form: int, who=None):
        """`hosts`: the names a Host header may give; bytes of a body: `submit` the API's
        upload (and the file Kaggle's client PUTs), `upload` the board's file box, `form`
        the login's forms; `who`: the member a Cookie header signs in
        (harness.server.login.member_of_header), or None."""
        self.app, self.hosts, self.who = app, hosts, who or (lambda header: None)
        self.submit, self.upload, self.form = submit, upload, form
        self.owners: dict[str, str] = {}  # the board's sessions that uploaded: their member

    def body_limit(self, method: str, path: str) -> int:
        """Bytes a request's body may have: a file's limit where files are sent, a form's
        on /login and /logout, SMALL_BODY everywhere else."""
        if method == "POST" and SUBMIT_ROUTE.fullmatch(path):
            return self.submit
        if method == "PUT" and KAGGLE_UPLOAD.fullmatch(path):
            return self.submit
        if method == "PUT" and path.startswith(UPLOADS):
            return self.upload
        if path.rstrip("/") in ("/login", "/logout"):
            return self.form
        return SMALL_BODY

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):  # the lifespan
            return await self.app(scope, receive, send)
        headers = {}
        for k, v in scope.get("headers", ()):
            headers.setdefault(k.decode("latin-1").lower(), v.decode("latin-1"))
        path = re.sub("/+", "/", scope.get("path", "/"))
        host = headers.get("host", "")
        if host_name(host) not in self.hosts:
            why = (
                f"this server does not answer to the name {host[:100]!r}; the organiser "
                "names it with harness serve --allowed-host NAME"
            )
            return await refuse(scope, receive, send, 400, why)
        if path.rstrip("/") == METRICS:  # sessions and memory: not for the internet
            return await refuse(scope, receive, send, 404, "no such page")
        if scope["type"] == "websocket" and not same_origin(headers.get("origin"), host):
            # the board's websocket carries the member's cookie: a page of another origin
            # (another port of this host included, e.g. a notebook server) must not drive it
            return await refuse(scope, receive, send, 403, "the board's own pages only")
        if scope["type"] == "http":
            method = scope["method"]
            length = headers.get("content-length")
            if "transfer-encoding" in headers:
                why = "a request must say its body's length (Content-Length), not stream it"
                return await refuse(scope, receive, send, 411, why)
            limit = self.body_limit(method, path)
            if length is not None and int(length) > limit:  # h11 checked it is digits
                why = f"the body is {int(length):,} bytes, over this route's limit of {limit:,}"
                return await refuse(scope, receive, send, 413, why)
            if method == "PUT" and path.startswith(UPLOADS):
                session_id, _, file_id = path[len(UPLOADS) :].partition("/")
                member = await run_in_threadpool(self.who, headers.get("cookie", ""))
                if member is not None:  # else the sign-in check behind refuses it
                    self.owners[session_id] = member
                    held = member_files(self.owners, member)
                    if len(held) >= SESSION_FILES and file_id not in held:
                        why = (
                            f"your pages hold {len(held)} files already: submit or remove one first"
                        )
                        return await refuse(scope, receive, send, 429, why)
        return await self.app(scope, receive, send)


def same_origin(origin: str | None, host: str) -> bool:
    """A websocket opened by a page of this server: its Origin has this host and port (the
    scheme may differ behind a proxy that ends TLS without saying so)."""
    return bool(origin) and urlsplit(origin).netloc == host


def member_files(owners: dict[str, str], member: str) -> set[str]:
    """The ids of the files the board's file box holds for a member, over every browser
    session of theirs (one member's many sessions share one allowance)."""
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return set()
    storage = getattr(Runtime.instance().uploaded_file_mgr, "file_storage", {})
    for sid in [s for s in owners if s not in storage]:  # sessions that ended
        owners.pop(sid, None)
    return {f for sid, who in owners.items() if who == member for f in storage.get(sid, {})}


async def refuse(scope, receive, send, status: int, why: str) -> None:
    """One line, as the route would say it: JSON under /api, text elsewhere; a websocket
    is closed before it opens (the client sees HTTP 403)."""
    import json

    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008})
        return
    if scope.get("path", "").startswith("/api/v1/"):  # Kaggle's client reads its own shape
        body, kind = json.dumps({"code": status, "message": why}).encode(), b"application/json"
    elif scope.get("path", "").startswith("/api/"):
        body, kind = json.dumps({"error": why}).encode(), b"application/json"
    else:
        body, kind = why.encode() + b"\n", b"text/plain; charset=utf-8"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    if status in (411, 413):  # the body was not read: the connection cannot be reused
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --- connections ---------------------------------------------------------------------------


class Protocol(H11Protocol):
    """uvicorn's h11 protocol with a head timeout, a body idle timeout and limits on open
    connections: uvicorn's `limit_concurrency` in all, PER_ADDRESS from one address (but
    a proxy's), both applied as a connection is made."""

    _timer: object = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        limit = self.config.limit_concurrency
        if limit is not None and len(self.connections) > limit or self._crowded():
            self.connections.discard(self)  # counted no more, before its close comes
            transport.abort()  # too many open: this one costs nothing more
            return
        self._arm(HEAD_TIMEOUT)

    def _crowded(self) -> bool:
        """Its address holds PER_ADDRESS connections already."""
        if not self.client or self.client[0] in PROXIES:
            return False
        mine = self.client[0]
        same = sum(1 for c in self.connections if (getattr(c, "client", None) or ("",))[0] == mine)
        return same > PER_ADDRESS

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            self._disarm()  # closed, or handed to the websocket
        elif self.conn.their_state is h11.IDLE:
            if self._timer is None:  # the next request's first bytes: its head's clock starts
                self._arm(HEAD_TIMEOUT)
        elif self.conn.their_state is h11.SEND_BODY:
            self._arm(BODY_IDLE)
        else:
            self._disarm()

    def handle_websocket_upgrade(self, event) -> None:
        self._disarm()
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return
        if self.conn.their_state is h11.SEND_BODY and self.flow.read_paused:
            self._arm(BODY_IDLE)  # the app has not read what came: the client is not stalling
            return
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
            self.transport.close()


def raise_fd_limit() -> int:
    """The soft limit of open files raised to the hard one (many hosts start at 1024);
    the limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def max_connections(fds: int) -> int:
    return max(16, min(MAX_CONNECTIONS, fds // 2))


# --- wrong tokens --------------------------------------------------------------------------


class Throttle:
    """Per address: after FREE wrong tokens, each next try waits twice as long as the one
    before (up to MAX_WAIT seconds); a quiet FORGET seconds starts the count again. The
    wait is kept before the token is looked at, so a right token waits too: guessing
    from an address gets no faster by mixing in a good one."""

    FREE = 5
    MAX_WAIT = 60.0
    FORGET = 15 * 60.0

    def __init__(self):
        self._seen: dict[str, tuple[int, float]] = {}  # address: (wrong tokens, last at)
        self._lock = threading.Lock()

    def wait(self, address: str, now: float | None = None) -> float:
        """Seconds `address` must still wait before its next token is checked (0: none)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            count, last = self._seen.get(address, (0, now))
            if now - last > self.FORGET:
                self._seen.pop(address, None)
                return 0.0
            if count < self.FREE:
                return 0.0
            return max(0.0, last + self.delay(count) - now)

    def failed(self, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._seen) > 100_000:  # many addresses: forget the quiet ones
                for a, (_, last) in list(self._seen.items()):
                    if now - last > self.FORGET:
                        del self._seen[a]
            count, last = self._seen.get(address, (0, now))
            if now - last > self.FORGET:
                count = 0
            self._seen[address] = (count + 1, now)

    def delay(self, count: int) -> float:
        return min(self.MAX_WAIT, 2.0 ** (count - self.FREE))


BAD_TOKENS = Throttle()
