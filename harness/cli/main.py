"""The `harness` command: competitions, data, submissions, leaderboards, the demo."""

from __future__ import annotations

import argparse
import signal
import sys
import time

from harness.cli import (
    boards,
    competitions,
    demo,
    doctor,
    kaggle,
    kaggle_group,
    members,
    records,
    rules,
    serving,
    submitting,
    weights,
)
from harness.cli.console import dump, err
from harness.errors import HarnessError

# each group adds its commands, their flags beside them; `harness --help` lists them so
GROUPS = (
    competitions,  # list, data
    submitting,  # submit
    boards,  # leaderboard
    rules,  # rules, select, team, reveal
    records,  # show, reproduce, diff, publish
    kaggle,  # kaggle submit|sync|leaderboard
    kaggle_group,  # kaggle-cli, kaggle-env: Kaggle's own client against the group's server
    demo,
    serving,  # serve
    members,  # member, login, logout
    doctor,
    weights,  # weights fetch|list
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="harness", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    # `harness leaderboard x --json | head` ends quietly, like any Unix tool
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    return run(argv)


def run(argv: list[str] | None = None) -> int:
    """One command, its errors reported as `harness: error: ...`; its exit code."""
    args = parser().parse_args(argv)
    t0 = time.monotonic()
    try:
        return args.fn(args)
    except HarnessError as e:
        err(f"harness: error: {e}")
        if getattr(args, "json", False):  # a script reads stdout: one object, always
            dump({"error": str(e), "exit_code": e.exit_code})
        return e.exit_code
    except KeyboardInterrupt:
        err(f"harness: interrupted after {time.monotonic() - t0:.0f} s; nothing was recorded")
        return 130


if __name__ == "__main__":
    sys.exit(main())
