"""`harness leaderboard`: a competition's public board, or its private one and the shake-up."""

from __future__ import annotations

from harness.cli import backend
from harness.cli.console import dump, err, print_private
from harness.errors import EXIT_FAILED, EXIT_OK


def cmd_leaderboard(args) -> int:
    where = backend.choose()
    if args.private:
        return private_board(where, args)
    if args.json:
        dump(where.leaderboard(args.name))
    else:
        where.print_leaderboard(args.name)
    return EXIT_OK


def private_board(where: backend.Backend, args) -> int:
    """The private board and its shake-up; exit 1 while the private scores are hidden."""
    board = where.private_board(args.name)
    if board.hidden:
        err(f"harness: error: {board.hidden}")
        return EXIT_FAILED
    if args.json:
        dump(board.rows)
    else:
        print_private(board.competition, board.metric, board.better, board.rows)
    return EXIT_OK


def add_parser(sub) -> None:
    """`harness leaderboard`, on the command line's subparsers."""
    s = sub.add_parser("leaderboard", help="best public score per member or team")
    s.add_argument("name")
    s.add_argument(
        "--private",
        action="store_true",
        help="the private board and its shake-up (once the deadline has passed or the "
        "organiser revealed it)",
    )
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_leaderboard)
