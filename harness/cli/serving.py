"""`harness serve`: the group's server (the leaderboard, the API, the queue) on this host."""

from __future__ import annotations

import os

from harness.cli import backend
from harness.cli.console import err
from harness.errors import EXIT_OK, UsageError


def cmd_serve(args) -> int:
    from harness.paths import home
    from harness.run import sandbox
    from harness.server import app

    # the group's server runs members' code: not without a sandbox, unless told so
    sb, why = sandbox.choose()
    if sb is None and not args.no_sandbox:
        raise sandbox.SandboxUnavailable(
            f"no sandbox for members' code ({why}): install bubblewrap (docs/sandbox.md) "
            "or pass --no-sandbox to serve the group without one"
        )
    if args.workers is None:
        args.workers = default_workers()
    if args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    if not args.timeout > 0:
        raise UsageError(f"--timeout must be positive, got {args.timeout:g}")
    tls = serve_tls(args)
    for name in args.allowed_host:
        if not name or any(c in name for c in "/ \t@?#"):
            raise UsageError(
                f"--allowed-host takes a host name, e.g. board.example.org; got {name!r}"
            )
    app.hold_home()  # before saying anything: a second server on this home stops here
    if not tls and not loopback(args.host):
        err(
            "harness: warning: this server speaks plain HTTP: members' tokens and the board's "
            "sessions cross the network in clear. Put a TLS reverse proxy in front of it "
            "(docs/organisers.md, Facing the internet) or pass --ssl-certfile and --ssl-keyfile"
        )
    scheme = "https" if tls else "http"
    err(
        f"harness: the group's server for {home()} on {scheme}://{args.host}:{args.port}: "
        f"the leaderboard at /, the API at /api/, {args.workers} worker(s) (Ctrl-C stops it)"
    )
    if sb is None:
        err(f"harness: warning: members' code runs NOT sandboxed ({why}; --no-sandbox)")
    else:
        err(f"harness: members' code runs sandboxed: bubblewrap, {sb.mode} mode")
    err(
        f"harness: a run is stopped after {args.timeout:g} s unless its competition's rules "
        "say otherwise (harness rules NAME --timeout S)"
    )
    portable = backend.portable(args, serving=True)
    if portable:
        from harness.run.repro import PORTABLE_THREADS

        err(
            f"harness: runs use portable numerics, {PORTABLE_THREADS} threads each: the same "
            "bits on any machine (--numerics)"
        )
        cores = os.cpu_count() or 1
        if args.executor == "local" and cores > PORTABLE_THREADS * args.workers:
            err(
                f"harness: {args.workers} run(s) at once use {PORTABLE_THREADS * args.workers} "
                f"of this machine's {cores} cores: --workers {cores // PORTABLE_THREADS} uses "
                "them all (each run may use the memory limit)"
            )
    else:
        err("harness: runs use each machine's native numerics: scores may move between machines")
    if args.executor == "ray":
        from harness.run.ray_executor import connect

        ray = connect(args.ray_address)
        cpus = ray.cluster_resources().get("CPU", 0)
        alive = sum(1 for n in ray.nodes() if n.get("Alive"))  # a node that left stays listed
        err(f"harness: runs go to Ray ({alive} node(s), {cpus:g} CPUs)")
    elif args.ray_address:
        raise UsageError("--ray-address goes with --executor ray")
    app.serve(
        args.host,
        args.port,
        args.workers,
        sb is not None,
        args.executor,
        args.ray_address,
        timeout=args.timeout,
        allowed_hosts=args.allowed_host,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
        portable=portable,
    )
    return EXIT_OK


def serve_tls(args) -> bool:
    """Whether `serve` speaks HTTPS itself: a certificate and its key, both readable."""
    import os

    given = [f for f in (args.ssl_certfile, args.ssl_keyfile) if f]
    if len(given) == 1:
        raise UsageError("--ssl-certfile and --ssl-keyfile go together")
    for flag, path in (("--ssl-certfile", args.ssl_certfile), ("--ssl-keyfile", args.ssl_keyfile)):
        if path and not os.access(path, os.R_OK):
            raise UsageError(f"{flag}: cannot read {path}")
    return bool(given)


def loopback(host: str) -> bool:
    """Whether an address to listen on is this machine's own (no one else can connect)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def default_workers() -> int:
    """One per GPU, one on a CPU-only host (torch is not imported to count them)."""
    from harness.run.repro import gpu_names

    return max(1, len(gpu_names()))


def add_parser(sub) -> None:
    """`harness serve`, on the command line's subparsers."""
    s = sub.add_parser("serve", help="the group's server: the leaderboard, the API, the queue")
    s.add_argument("--port", type=int, default=8501)
    s.add_argument("--host", default="127.0.0.1", help="0.0.0.0 shares it on the network")
    s.add_argument(
        "--workers",
        type=int,
        help="runs at once (default: one per GPU, one on a CPU-only host)",
    )
    s.add_argument(
        "--no-sandbox",
        action="store_true",
        help="start even where no sandbox works (members' code then runs unsandboxed)",
    )
    s.add_argument(
        "--timeout",
        type=float,
        default=900.0,  # scheduler.SERVE_TIMEOUT, without importing the server here
        help="seconds a run may take where its competition's rules set none (default 900)",
    )
    s.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a name members reach the server by (repeatable; localhost and the bound "
        "address always, and with --host 0.0.0.0 this machine's own names and addresses)",
    )
    s.add_argument("--ssl-certfile", metavar="PEM", help="speak HTTPS: the certificate (chain)")
    s.add_argument("--ssl-keyfile", metavar="PEM", help="speak HTTPS: the certificate's key")
    backend.executor_flags(s)
    s.set_defaults(fn=cmd_serve)
