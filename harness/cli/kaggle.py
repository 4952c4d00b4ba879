"""`harness kaggle submit|sync|leaderboard`: submissions sent to Kaggle, Kaggle's scores and
its public board."""

from __future__ import annotations

from pathlib import Path

from harness.cli.console import cell, describe_kaggle, dump, echo, err, table
from harness.errors import EXIT_FAILED, EXIT_OK, UsageError


def cmd_kaggle_submit(args) -> int:
    from harness.kaggle import remote

    if len(args.what) == 2:
        row = remote.submit_csv(args.what[0], Path(args.what[1]), args.message, args.wait)
    elif len(args.what) == 1 and args.what[0].isdigit():
        row = remote.submit_code(
            int(args.what[0]), args.message, args.wait, on_output=echo(args.verbose), log=err
        )
    else:
        raise UsageError(
            "harness kaggle submit takes a submission id (harness kaggle submit 12) "
            "or a competition and a CSV file (harness kaggle submit titanic preds.csv)"
        )
    if args.json:
        dump(row)
    else:
        print(describe_kaggle(row))
    if row["status"] == "error":
        err(f"harness: error: Kaggle could not score {row['filename']}: {row['error']}")
        return EXIT_FAILED
    return EXIT_OK


def cmd_kaggle_sync(args) -> int:
    from harness.competition import registry
    from harness.kaggle import remote

    rows = remote.sync(args.name)
    if args.json:
        dump(rows)
        return EXIT_OK
    comp = registry.get(args.name)
    better = comp.metric.better
    if not rows:
        print(f"nothing sent to Kaggle for {comp.name} yet: harness kaggle submit ID")
        return EXIT_OK
    print(
        f"{comp.name} on Kaggle ({comp.spec.kaggle}): public {comp.spec.metric} "
        f"({better} is better), {len(rows)} sent from the harness"
    )
    for r in rows:
        r.update(
            local=r["submission_id"],
            user=r["user_name"],
            kaggle=r["public_score"],
            local_score=r["local_public_score"],
            sent=r["submitted_at"],
        )
    cols = ["kaggle_ref", "local", "user", "filename", "status", "kaggle", "local_score", "sent"]
    print(table(rows, cols))
    for r in rows:
        if r["status"] == "error":
            print(f"  ref {r['kaggle_ref']}: Kaggle could not score {r['filename']}: {r['error']}")
    return EXIT_OK


def cmd_kaggle_leaderboard(args) -> int:
    from harness.kaggle import remote

    res = remote.leaderboard(args.name)
    if args.json:
        dump(res)
        return EXIT_OK
    better = "higher" if res["higher_is_better"] else "lower"
    teams, best = res["teams"], res["best"]
    read = f"all {len(teams)} teams" if res["complete"] else f"the best {len(teams)} teams"
    print(
        f"Kaggle's public leaderboard of {res['kaggle_competition']}: {res['metric']} "
        f"({better} is better); {read}, read {cell(res['fetched_at'])} UTC"
    )
    if teams:
        print(table(teams[: args.top], ["rank", "team_name", "score", "submitted_at"]))
    if best is None:
        print(
            f"the group has no Kaggle score for {res['competition']} yet: harness kaggle submit ID"
            f" (then harness kaggle sync {res['competition']} if it was still being scored)"
        )
        return EXIT_OK
    who = (
        f"submission {best['submission_id']} by {best['user_name']}, " if best["user_name"] else ""
    )
    print(
        f"the group's best Kaggle score, {best['public_score']:.5f} ({who}ref {best['kaggle_ref']}),"
        f" would rank {res['rank']} ({res['rank'] - 1} teams score better)"
    )
    return EXIT_OK


def add_parser(sub) -> None:
    """`harness kaggle submit|sync|leaderboard`, on the command line's subparsers."""
    k = sub.add_parser("kaggle", help="send submissions to Kaggle, Kaggle's scores and board")
    ksub = k.add_subparsers(dest="kaggle_cmd", required=True, metavar="submit|sync|leaderboard")
    s = ksub.add_parser(
        "submit",
        help="send a scored code submission (ID) or a CSV (NAME FILE.csv) to Kaggle",
        usage="harness kaggle submit (ID | NAME FILE.csv) [--message TEXT] [--wait S] [--json]",
    )
    s.add_argument(
        "what",
        nargs="+",
        metavar="ID | NAME FILE.csv",
        help="a scored code submission's id (run again on Kaggle's test.csv), "
        "or a competition and a CSV in Kaggle's format (sent as is)",
    )
    s.add_argument("--message", help="the description Kaggle shows")
    s.add_argument("--wait", type=float, default=30.0, help="seconds to wait for Kaggle's score")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--verbose", "-v", action="store_true", help="show the whole worker log")
    s.set_defaults(fn=cmd_kaggle_submit)
    s = ksub.add_parser("sync", help="Kaggle's status and score of everything sent")
    s.add_argument("name")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_kaggle_sync)
    s = ksub.add_parser("leaderboard", help="Kaggle's public board, and where the group ranks")
    s.add_argument("name")
    s.add_argument("--top", type=int, default=10, help="teams shown (default 10)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_kaggle_leaderboard)
