"""The `harness` command: competitions, data, submissions, leaderboards, the demo."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from harness.cli.console import (
    HIDDEN_FIELDS,
    cell,
    describe,
    describe_kaggle,
    dump,
    echo,
    err,
    print_board,
    public_also,
    summary,
    table,
)
from harness.errors import EXIT_FAILED, EXIT_OK, HarnessError

# --- commands ---------------------------------------------------------------------------


def cmd_list(args) -> int:
    from harness.competition import data, registry

    rows = []
    for name, comp in registry.discover().items():
        prepared = data.current(comp)
        rows.append(
            {
                "name": name,
                "metric": comp.spec.metric,
                "better": comp.metric.better,
                "version": comp.spec.version,
                "sources": ",".join(comp.spec.sources),
                "data": prepared.source if prepared else None,
                "title": comp.title,
            }
        )
    if args.json:
        dump(rows)
    else:
        print(table(rows, ["name", "metric", "better", "version", "sources", "data", "title"]))
    return EXIT_OK


def cmd_data(args) -> int:
    from harness.competition import data, registry

    comp = registry.get(args.name)
    if args.data_cmd == "fetch":
        prepared = data.fetch_and_prepare(comp, args.source, log=err)
    else:
        prepared = data.ensure(comp, log=err)
    print(prepared.files)
    return EXIT_OK


def cmd_submit(args) -> int:
    from harness.run import pipeline

    limits = pipeline.Limits(
        seed=args.seed, device=args.device, timeout=args.timeout, memory_mb=args.memory_mb
    )
    row = pipeline.submit(
        args.name,
        Path(args.file),
        args.user,
        args.message,
        limits,
        is_baseline=args.baseline,
        on_output=echo(args.verbose),
        log=err,
    )
    if args.json:
        dump(summary(row))
    else:
        print(describe(row))
    return EXIT_OK if row["status"] == "scored" else EXIT_FAILED


def cmd_leaderboard(args) -> int:
    from harness.competition import registry
    from harness.store import leaderboards

    if args.json:
        dump(leaderboards.ranking(registry.get(args.name))[1])
    else:
        print_board(args.name)
    return EXIT_OK


def cmd_show(args) -> int:
    from harness.errors import UsageError
    from harness.store import db

    row = db.submission(args.id)
    if row is None:
        raise UsageError(f"no submission with id {args.id}")
    for k in HIDDEN_FIELDS:
        row.pop(k, None)
    # the `also` metrics, public part only, under the key `harness submit --json` uses
    row["also"] = public_also(row)
    del row["extra_scores"]
    row["user"] = row.pop("user_name")
    if args.json:
        dump(row)
        return EXIT_OK
    skip = {
        "content",
        "log",
        "epochs",
        "reproductions",
        "versions",
        "docstring",
        "config",
        "artifacts",
    }
    if m := row.get("model"):
        start = {True: ", pretrained", False: ", from scratch"}.get(m.get("pretrained"), "")
        row["model"] = (
            f"{m['architecture']}: {m['parameters']:,} parameters "
            f"({m['trainable']:,} trainable{start})"
        )
    if row.get("epochs"):
        per = [e["seconds"] for e in row["epochs"] if e.get("seconds") is not None]
        if per:
            row["seconds_per_epoch"] = round(sum(per) / len(per), 2)
    width = max(len(k) for k in row)
    for k, v in row.items():
        if k not in skip:
            print(f"{k.ljust(width)}  {cell(v)}")
    print(f"{'config'.ljust(width)}  {json.dumps(row['config'])}")
    print(f"{'versions'.ljust(width)}  {json.dumps(row['versions'])}")
    if row["docstring"]:
        print("\ndocstring:\n  " + row["docstring"].replace("\n", "\n  "))
    if row["epochs"]:
        print("\nepochs:")
        eps = [
            {**{k: v for k, v in e.items() if k != "metrics"}, **(e["metrics"] or {})}
            for e in row["epochs"]
        ]
        print(table(eps, list(eps[0])))
    if row["artifacts"]:
        print("\nartifacts:")
        print(table(row["artifacts"], ["title", "kind", "path"]))
    if row["reproductions"]:
        print("\nreproductions:")
        print(table(row["reproductions"], list(row["reproductions"][0])))
    tail = (row["log"] or "").rstrip().splitlines()[-15:]
    if tail:
        print("\nlog (last lines):\n  " + "\n  ".join(tail))
    return EXIT_OK


def cmd_reproduce(args) -> int:
    from harness.run import pipeline

    res = pipeline.reproduce(args.id, on_output=echo(args.verbose))
    if args.json:
        dump(res)
    else:
        verdict = "identical" if res["identical"] else "NOT identical"
        again = res["reproduced_public_score"]
        print(
            f"submission {args.id}: {verdict} (seed {res['seed']}, device {res['device']})\n"
            f"  recorded public {res['metric']}: {res['public_score']}\n"
            f"  re-run   public {res['metric']}: {again}"
            + (f"\n  {res['error']}" if res["error"] else "")
        )
    return EXIT_OK if res["identical"] else EXIT_FAILED


def cmd_demo(args) -> int:
    from harness.cli.demo import run

    return run(args.competitions, verbose=args.verbose)


def cmd_serve(args) -> int:
    import os
    import subprocess

    from harness.paths import REPO_ROOT, home
    from harness.run import sandbox
    from harness.store import db

    # the group's server runs members' code: not without a sandbox, unless told so
    sb, why = sandbox.choose()
    if sb is None and not args.no_sandbox:
        raise sandbox.SandboxUnavailable(
            f"no sandbox for members' code ({why}): install bubblewrap (README, Sandbox) "
            "or pass --no-sandbox to serve the group without one"
        )
    app = REPO_ROOT / "leaderboard" / "app.py"
    with db.connect():  # the app only reads: bring the schema up to date first
        pass
    options = {
        "server.port": args.port,
        "server.address": args.host,
        "server.headless": "true",
        "browser.gatherUsageStats": "false",
        "server.fileWatcherType": "none",
        "client.toolbarMode": "minimal",
    }
    cmd = [sys.executable, "-m", "streamlit", "run", str(app)]
    cmd += [x for k, v in options.items() for x in (f"--{k}", str(v))]
    err(f"harness: leaderboard of {home()} on http://{args.host}:{args.port} (Ctrl-C stops it)")
    if sb is None:
        err(f"harness: warning: members' code runs NOT sandboxed ({why}; --no-sandbox)")
    else:
        err(f"harness: members' code runs sandboxed: bubblewrap, {sb.mode} mode")
    proc = subprocess.Popen(cmd, env={**os.environ, "HARNESS_HOME": str(home())})
    signal.signal(signal.SIGTERM, lambda signum, _: proc.send_signal(signum))  # stop both
    try:
        return proc.wait()
    except KeyboardInterrupt:  # Ctrl-C reached the server too: let it finish
        return proc.wait()


def cmd_doctor(args) -> int:
    from harness.cli import doctor

    checks = doctor.run_checks()
    if args.json:
        dump(doctor.report(checks))
    else:
        doctor.print_report(checks)
    return doctor.exit_code(checks)


def cmd_reveal(args) -> int:
    from harness.competition import registry
    from harness.store import db

    comp = registry.get(args.name)
    db.set_revealed(comp.name, comp.spec.version, shown=not args.hide)
    state = "hidden again" if args.hide else "shown"
    print(f"{comp.name} version {comp.spec.version}: private scores {state} on the leaderboard")
    return EXIT_OK


def cmd_kaggle_submit(args) -> int:
    from harness.errors import UsageError
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


# --- parser -----------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="harness", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    s = sub.add_parser("list", help="the competitions")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_list)

    d = sub.add_parser("data", help="fetch a competition's data, or print where it is")
    dsub = d.add_subparsers(dest="data_cmd", required=True, metavar="fetch|path")
    f = dsub.add_parser("fetch", help="fetch and prepare the data")
    f.add_argument("name")
    f.add_argument(
        "--source",
        help="where the data comes from: one of the sources `harness list` shows for the "
        "competition (the first is the default)",
    )
    f.set_defaults(fn=cmd_data)
    pth = dsub.add_parser("path", help="print the folder of the user-facing files")
    pth.add_argument("name")
    pth.set_defaults(fn=cmd_data)

    s = sub.add_parser("submit", help="run and score a submission (.py or .csv)")
    s.add_argument("name", help="the competition")
    s.add_argument("file", help="a .py with train(dls) or fit_predict(...), or a .csv")
    s.add_argument("--user", required=True)
    s.add_argument("--message")
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    s.add_argument("--timeout", type=float, default=3600.0, help="seconds (default 3600)")
    s.add_argument("--memory-mb", type=float, help="memory limit (default 3/4 of RAM, <=16 GiB)")
    s.add_argument("--baseline", action="store_true", help="mark it as a course baseline")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--verbose", "-v", action="store_true", help="show the whole worker log")
    s.set_defaults(fn=cmd_submit)

    s = sub.add_parser("leaderboard", help="best public score per user")
    s.add_argument("name")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_leaderboard)

    s = sub.add_parser("show", help="everything recorded for a submission")
    s.add_argument("id", type=int)
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_show)

    s = sub.add_parser("reproduce", help="re-run a code submission, compare the score")
    s.add_argument("id", type=int)
    s.add_argument("--json", action="store_true")
    s.add_argument("--verbose", "-v", action="store_true")
    s.set_defaults(fn=cmd_reproduce)

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

    s = sub.add_parser("demo", help="fetch offline data, run the baselines, show the boards")
    s.add_argument("competitions", nargs="*", help="default: every competition with baselines")
    s.add_argument("--verbose", "-v", action="store_true")
    s.set_defaults(fn=cmd_demo)

    s = sub.add_parser("serve", help="the leaderboard web app (Streamlit, read-only)")
    s.add_argument("--port", type=int, default=8501)
    s.add_argument("--host", default="127.0.0.1", help="0.0.0.0 shares it on the network")
    s.add_argument(
        "--no-sandbox",
        action="store_true",
        help="start even where no sandbox works (members' code then runs unsandboxed)",
    )
    s.set_defaults(fn=cmd_serve)

    s = sub.add_parser("doctor", help="what this machine has and lacks, a line a check")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_doctor)

    s = sub.add_parser("reveal", help="show a competition's private scores on the leaderboard")
    s.add_argument("name")
    s.add_argument("--hide", action="store_true", help="hide them again")
    s.set_defaults(fn=cmd_reveal)
    return p


def main(argv: list[str] | None = None) -> int:
    # `harness leaderboard x --json | head` ends quietly, like any Unix tool
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = parser().parse_args(argv)
    t0 = time.monotonic()
    try:
        return args.fn(args)
    except HarnessError as e:
        err(f"harness: error: {e}")
        return e.exit_code
    except KeyboardInterrupt:
        err(f"harness: interrupted after {time.monotonic() - t0:.0f} s; nothing was recorded")
        return 130


if __name__ == "__main__":
    sys.exit(main())
