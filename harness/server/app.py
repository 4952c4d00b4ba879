"""`harness serve`: the Streamlit leaderboard at / and the API at /api/, one process, one
port (Streamlit's `st.App` under uvicorn), with the queue's workers in the same process."""

from __future__ import annotations

import fcntl
import os
from contextlib import asynccontextmanager

from harness.errors import HarnessError
from harness.paths import REPO_ROOT, home
from harness.server import api, scheduler, status
from harness.store import db

STREAMLIT_OPTIONS = {
    "server.headless": True,
    "browser.gatherUsageStats": False,
    "server.fileWatcherType": "none",
    "client.toolbarMode": "minimal",
    "server.maxUploadSize": 100,  # MB: the Submit page's file box, as the API's CSV limit
}


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


def build(workers: int, sandboxed: bool | None, executor: str = "local", ray_address=None):
    """The ASGI app: the leaderboard, the API, and the queue's workers in its lifespan."""
    import streamlit as st
    from starlette.routing import Mount

    sched = scheduler.Scheduler(workers, sandboxed, executor, ray_address)

    @asynccontextmanager
    async def lifespan(_app):
        status.CURRENT = sched
        sched.start()
        try:
            yield {}
        finally:
            sched.stop()
            status.CURRENT = None

    return st.App(
        REPO_ROOT / "leaderboard" / "app.py",
        routes=[Mount("/api", app=api.app())],
        lifespan=lifespan,
    )


def serve(
    host: str,
    port: int,
    workers: int,
    sandboxed: bool | None,
    executor: str = "local",
    ray_address: str | None = None,
) -> None:
    """Serves until stopped (Ctrl-C or SIGTERM); the caller holds the home (`hold_home`)."""
    import uvicorn
    from streamlit import config

    db.serving()
    with db.connect():  # the schema up to date before anything reads it
        pass
    for k, v in {**STREAMLIT_OPTIONS, "server.port": port, "server.address": host}.items():
        config.set_option(k, v)
    app = build(workers, sandboxed, executor, ray_address)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
