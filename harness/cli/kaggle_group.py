"""`harness kaggle-cli ARGS` and `harness kaggle-env`: Kaggle's own client, pointed at the
group's server this machine is logged in to (`harness login`).

The group's server speaks the part of Kaggle's API that `kaggle competitions ...` uses
(harness.server.kaggle_api). The client is pointed at it one way: kagglesdk's LOCALHOST
environment (`KAGGLE_API_ENVIRONMENT=LOCALHOST`) with its address set to the server's
(harness.kaggle.hook.sitecustomize), the member's name and token as the credential.
`kaggle-cli` does that inside its own process and runs Kaggle's CLI there; `kaggle-env`
prints it for a shell (`eval "$(harness kaggle-env)"`), so that `kaggle ...` and the
Pythons started from that shell, a notebook's kernel included, talk to the group.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from harness.cli.console import dump
from harness.errors import EXIT_OK, HarnessError, UsageError

# the client versions the server's Kaggle API is tested with (pyproject pins them)
TESTED = {"kaggle": "2.2.5", "kagglesdk": "0.1.38"}


def hook_dir() -> Path:
    from harness.kaggle.hook import sitecustomize

    return Path(sitecustomize.__file__).resolve().parent


def group_env() -> dict[str, str]:
    """What Kaggle's client needs to talk to the group as the logged-in member.

    KAGGLE_API_TOKEN holds the harness token too: the client tries an access token before
    KAGGLE_USERNAME/KAGGLE_KEY, and without it would send a kaggle.com token kept in
    ~/.kaggle/access_token to the group's server.

    Raises:
        UsageError: not logged in; ServerError: the server refuses the token.
    """
    from harness.cli import remote

    srv = remote.current()
    if srv is None or not srv.token:
        raise UsageError("not logged in to a group's server: harness login URL first")
    who = srv.get("/api/whoami")
    member = who.get("member") if isinstance(who, dict) else None
    if not isinstance(member, str):
        raise remote.ServerError(f"{srv.url} did not say whose token this is")
    return {
        "KAGGLE_API_ENVIRONMENT": "LOCALHOST",
        "HARNESS_KAGGLE_URL": srv.url,
        "KAGGLE_USERNAME": member,
        "KAGGLE_KEY": srv.token,
        "KAGGLE_API_TOKEN": srv.token,
    }


def cmd_kaggle_env(args) -> int:
    try:
        env = group_env()
    except HarnessError:
        if not args.json:  # `eval "$(harness kaggle-env)"` fails too, not just sets nothing
            print("false")
        raise
    hook = str(hook_dir())
    if args.json:
        rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != hook]
        dump({**env, "PYTHONPATH": os.pathsep.join([hook, *rest])})
        return EXIT_OK
    print(
        f"# Kaggle's client -> {env['HARNESS_KAGGLE_URL']} as {env['KAGGLE_USERNAME']}: "
        'eval "$(harness kaggle-env)" (it holds your token)'
    )
    for k, v in env.items():
        print(f"export {k}={shlex.quote(v)}")
    print(f"export PYTHONPATH={shlex.quote(hook)}${{PYTHONPATH:+:$PYTHONPATH}}")
    return EXIT_OK


def cmd_kaggle_cli(args) -> int:
    env = group_env()
    os.environ.update(env)  # before kaggle is imported: it signs in then
    from harness.kaggle.hook.sitecustomize import point

    point(env["HARNESS_KAGGLE_URL"])
    sys.argv = ["kaggle", *args.args]
    import kaggle
    from kaggle import cli

    if "--local" not in kaggle.api.args:  # imported before in this process: as it would be now
        kaggle.api.args = [*kaggle.api.args, "--local"]
        kaggle.api.authenticate()
    try:
        cli.main()
    except SystemExit as e:  # the client exits 1 after its error line, argparse 2
        return e.code if isinstance(e.code, int) else 0 if e.code is None else 1
    return EXIT_OK


def add_parser(sub) -> None:
    """`harness kaggle-cli ARGS...` and `harness kaggle-env`."""
    s = sub.add_parser(
        "kaggle-cli",
        help="Kaggle's own CLI against the group's server (harness kaggle-cli competitions ...)",
        usage="harness kaggle-cli competitions (files|download|submit|submissions|leaderboard) ...",
    )
    s.add_argument(
        "args",
        nargs=argparse.REMAINDER,
        help="the `kaggle` command's arguments, e.g. competitions download -c titanic",
    )
    s.set_defaults(fn=cmd_kaggle_cli)
    s = sub.add_parser(
        "kaggle-env",
        help="what a shell or a notebook needs for Kaggle's client to talk to the group's server",
    )
    s.add_argument("--json", action="store_true", help="print one JSON object of the variables")
    s.set_defaults(fn=cmd_kaggle_env)
