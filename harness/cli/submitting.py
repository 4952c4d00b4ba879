"""`harness submit`: a file run and scored here, or sent to the group's server and followed."""

from __future__ import annotations

from harness.cli import backend
from harness.cli.console import describe, dump, err
from harness.errors import EXIT_FAILED, EXIT_OK


def cmd_submit(args) -> int:
    where = backend.choose()
    try:
        out = where.submit(args)
    except backend.StoppedWaiting as e:
        err(
            f"harness: stopped waiting; submission {e.id} goes on on the server "
            f"(harness show {e.id})"
        )
        return 130
    if args.json:
        dump(out)
    elif out["status"] == "queued":  # --no-wait
        print(f"submission {out['id']} queued (place {out['place']}): harness show {out['id']}")
    else:  # a board only places a scored submission
        board = where.leaderboard(out["competition"]) if out["status"] == "scored" else []
        print(describe(out, board, where.better(out["competition"])))
    return EXIT_OK if out["status"] in ("scored", "queued") else EXIT_FAILED


def add_parser(sub) -> None:
    """`harness submit`, on the command line's subparsers."""
    s = sub.add_parser("submit", help="run and score a submission (.ipynb, .py or .csv)")
    s.add_argument("name", help="the competition")
    s.add_argument(
        "file",
        help="a notebook (.ipynb) or a .py run as on Kaggle, a .py with train(dls) or "
        "fit_predict(...), or a .csv",
    )
    s.add_argument(
        "--output",
        metavar="NAME",
        help="a notebook or Kaggle-style script: the CSV in /kaggle/working that is the "
        "answer (default: submission.csv, else the one CSV in the submission format)",
    )
    s.add_argument("--user", help="who submits (through a server: the token's member)")
    s.add_argument("--message")
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--device", help="auto (default), cpu or cuda")
    s.add_argument("--timeout", type=float, help="seconds (default 3600)")
    s.add_argument("--memory-mb", type=float, help="memory limit (default 3/4 of RAM, <=16 GiB)")
    s.add_argument("--baseline", action="store_true", help="mark it as a course baseline")
    backend.executor_flags(s)
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--verbose", "-v", action="store_true", help="show the whole worker log")
    s.add_argument(
        "--no-wait", action="store_true", help="through a server: return once it is queued"
    )
    s.set_defaults(fn=cmd_submit)
