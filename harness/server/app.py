"""`harness serve`: the Streamlit leaderboard at / and the API at /api/, one process, one
port (Streamlit's `st.App` under uvicorn), with the queue's workers in the same process.
`guard` stands in front of it all: Host names, body limits, timeouts, connection caps."""

from __future__ import annotations

import fcntl
import os
from contextlib import asynccontextmanager

from harness.errors import HarnessError
from harness.paths import board_app, home
from harness.server import api, guard, kaggle_api, login, scheduler, status
from harness.store import db
from harness.validate import CSV_LIMIT

STREAMLIT_OPTIONS = {
    "server.headless": True,
    "browser.gatherUsageStats": False,
    "server.fileWatcherType": "none",
    "client.toolbarMode": "minimal",
    # MB of the board's websocket messages (its tables, charts); the browser's own messages
    # are held to WS_LIMIT by uvicorn, the file box's uploads to guard.upload_cap_mb()
    "server.maxMessageSize": 50,
}
WS_LIMIT = 1 << 20  # bytes of one message a browser sends: widget values, never files


class AlreadyServing(HarnessError):
    pass


def hold_home() -> int:
    """One server per harness home (two would run the same queue twice): a lock held for
    the process's life.

    Raises:
        AlreadyServing: another server holds it.
    """
    path = home() / "server.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = os.pread(fd, 32, 0).decode(errors="replace").strip()
        os.close(fd)
        raise AlreadyServing(
            f"another harness serve (pid {other or '?'}) serves {home()}; stop it first"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def build(
    workers: int,
    sandboxed: bool | None,
    executor: str = "local",
    ray_address=None,
    timeout: float = scheduler.SERVE_TIMEOUT,
    portable: bool = True,
):
    """The ASGI app: the leaderboard, the API, and the queue's workers in its lifespan
    (`timeout`: a run's seconds where the competition's rules set none)."""
    import streamlit as st
    from starlette.routing import Mount

    sched = scheduler.Scheduler(workers, sandboxed, executor, ray_address, timeout, portable)

    @asynccontextmanager
    async def lifespan(_app):
        status.CURRENT = sched
        sched.start()
        try:
            yield {}
        finally:
            sched.stop()
            status.CURRENT = None

    board = st.App(
        board_app(),
        # Kaggle's API first: the /api mount would take its paths
        routes=[
            *login.routes(),
            Mount(kaggle_api.PREFIX, app=kaggle_api.app()),
            Mount("/api", app=api.app()),
        ],
        lifespan=lifespan,
    )
    return login.uploads_need_sign_in(board)


def serve(
    host: str,
    port: int,
    workers: int,
    sandboxed: bool | None,
    executor: str = "local",
    ray_address: str | None = None,
    timeout: float = scheduler.SERVE_TIMEOUT,
    allowed_hosts: list[str] | tuple[str, ...] = (),
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    portable: bool = True,
) -> None:
    """Serves until stopped (Ctrl-C or SIGTERM); the caller holds the home (`hold_home`).
    Requests must name the server (`guard.allowed_hosts`: loopback, `host`, and
    `allowed_hosts`); with a certificate and key it speaks HTTPS itself."""
    import uvicorn
    from streamlit import config

    db.serving()
    with db.connect():  # the schema up to date before anything reads it
        pass
    upload_mb = guard.upload_cap_mb()
    options = {**STREAMLIT_OPTIONS, "server.maxUploadSize": upload_mb}
    for k, v in {**options, "server.port": port, "server.address": host}.items():
        config.set_option(k, v)
    app = guard.Guard(
        build(workers, sandboxed, executor, ray_address, timeout, portable),
        guard.allowed_hosts(host, allowed_hosts),
        submit=CSV_LIMIT + api.FORM_OVERHEAD,  # the largest file a submission may be
        upload=upload_mb * 2**20 + api.FORM_OVERHEAD,
        form=login.BODY_LIMIT,
        who=login.member_of_header,
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=5,
        http=guard.Protocol,  # h11 with a head timeout, a body idle timeout, per-address caps
        limit_concurrency=guard.max_connections(guard.raise_fd_limit()),
        timeout_keep_alive=5,  # seconds an idle kept-alive connection stays open
        ws_max_size=WS_LIMIT,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
    )
