"""`harness rules`, `select`, `team` and `reveal`: how a competition is run, final picks, teams."""

from __future__ import annotations

import argparse

from harness.cli import backend
from harness.cli.console import clean, dump, print_rules, table
from harness.errors import EXIT_OK, UsageError


def cmd_rules(args) -> int:
    changes = {}
    if args.daily_limit is not None:
        changes["daily_limit"] = _count_or_none(args.daily_limit, "--daily-limit")
    if args.final is not None:
        changes["final"] = args.final
    if args.deadline is not None:
        from harness.store import db

        said = args.deadline.strip().lower()
        if said == "now":  # closes it now: what was made before stays on time
            changes["deadline"] = db.now()
        else:
            changes["deadline"] = (
                None if said == "none" else db.parse_time(args.deadline, "--deadline")
            )
    elif args.retroactive:
        raise UsageError("--retroactive goes with --deadline (a time in the past)")
    if args.team_size is not None:
        changes["team_size"] = args.team_size
    if args.timeout is not None:
        changes["timeout_seconds"] = _count_or_none(args.timeout, "--timeout")
    for flag in ("max_queued", "max_stored_mb"):
        if getattr(args, flag) is not None:
            changes[flag] = getattr(args, flag)
    if args.open_code is not None:
        changes["open_code"] = args.open_code
    out = backend.choose().rules(args.name, changes, args.retroactive)
    if args.json:
        dump(out)
    else:
        print_rules(out)
    return EXIT_OK


def _count_or_none(text: str, flag: str) -> int | None:
    if text.strip().lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{flag} takes a whole number or 'none', got {text!r}") from None


def cmd_select(args) -> int:
    out = backend.choose().select(args.ids, args.user)
    if args.json:
        dump(out)
    else:
        who = clean(f"team {out['user']}" if out["team"] else out["user"])
        ids = ", ".join(str(i) for i in out["picks"])
        print(
            f"{who}'s final picks on {out['competition']}: {ids} (up to {out['final']}); "
            "the best private score among them counts"
        )
    return EXIT_OK


def cmd_team(args) -> int:
    backend.choose().host_only(
        "teams are formed by the organiser, on the host (harness team there)"
    )
    from harness.competition import registry
    from harness.store import db, rules, teams

    if args.competition:
        names = [registry.get(args.competition).name]
    else:
        names = list(registry.discover())
    if args.team_cmd == "list":
        rows = [{"competition": c, **t} for c in names for t in teams.listing(c)]
        if args.json:
            dump(rows)
        elif not rows:
            print("no teams yet: harness team create NAME --members a,b")
        else:
            for r in rows:
                r["members"] = ", ".join(r["members"])
            print(table(rows, ["competition", "team", "members", "created_at"]))
        return EXIT_OK
    if args.team_cmd == "create":
        if not args.competition:  # a team of the whole course: every competition still open
            with db.connect(read_only=True) as con:
                names = [c for c in names if not rules.current(con, c).closed()]
        who = [m.strip() for m in (args.members or "").split(",") if m.strip()]
        out = teams.create(names, args.team, who)
    else:
        names = teams.where(args.team, names)
        if not names:
            raise UsageError(f"there is no team called {args.team!r} (harness team list)")
        change = teams.add if args.team_cmd == "add" else teams.remove
        out = change(names, args.team, args.member)
    if args.json:
        dump(out)
    else:
        for c, who in out["competitions"].items():
            now = ", ".join(who) if who else "nobody (the team has ended)"
            print(f"team {out['team']} on {c}: {now}")
    return EXIT_OK


def cmd_reveal(args) -> int:
    from harness.competition import registry
    from harness.store import rules

    comp = registry.get(args.name)
    rules.set_revealed(comp.name, comp.spec.version, shown=not args.hide)
    state = "hidden again" if args.hide else "shown"
    print(f"{comp.name} version {comp.spec.version}: private scores {state} on the leaderboard")
    return EXIT_OK


def add_parser(sub) -> None:
    """`harness rules`, `select`, `team` and `reveal`, on the command line's subparsers."""
    s = sub.add_parser("rules", help="a competition's rules: set them (on the host), print them")
    s.add_argument("name")
    s.add_argument(
        "--daily-limit",
        metavar="N|none",
        help="submissions a member (or team) may make per UTC day (default: none)",
    )
    s.add_argument("--final", type=int, help="final picks per member or team (default 2)")
    s.add_argument(
        "--deadline",
        metavar="ISO|now|none",
        help="when the competition closes and the private scores show, e.g. "
        "2026-12-31T23:59 (UTC unless an offset is given); now closes it now; a past time "
        "that would make submissions already made late needs --retroactive",
    )
    s.add_argument(
        "--retroactive",
        action="store_true",
        help="with a past --deadline: the submissions made since then become late",
    )
    s.add_argument("--team-size", type=int, help="members a team may have (default 4)")
    s.add_argument(
        "--timeout",
        metavar="S|none",
        help="seconds a served run may take (default none: the server's --timeout, 900)",
    )
    s.add_argument(
        "--max-queued",
        type=int,
        metavar="N",
        help="uploads a member (or team) may have queued or running on the server (default 5)",
    )
    s.add_argument(
        "--max-stored-mb",
        type=int,
        metavar="N",
        help="MB of a member's (or team's) uploads the server keeps (default 500)",
    )
    s.add_argument(
        "--open-code",
        action=argparse.BooleanOptionalAction,
        help="every submission's code, log and diagnostics public after the deadline "
        "(default: private until the member publishes it)",
    )
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_rules)

    s = sub.add_parser("select", help="pick the final submissions the private board counts")
    s.add_argument("ids", type=int, nargs="+", metavar="ID")
    s.add_argument("--user", help="on the host: whose picks they must be")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_select)

    t = sub.add_parser("team", help="teams of members (on the host)")
    tsub = t.add_subparsers(dest="team_cmd", required=True, metavar="create|add|remove|list")
    s = tsub.add_parser("create", help="a new team (on every open competition by default)")
    s.add_argument("team", metavar="NAME")
    s.add_argument("--members", required=True, help="its members: a,b")
    for cmd, text in (("add", "a member joins the team"), ("remove", "a member leaves the team")):
        s = tsub.add_parser(cmd, help=text)
        s.add_argument("team", metavar="NAME")
        s.add_argument("member", metavar="MEMBER")
    s = tsub.add_parser("list", help="the teams")
    for s in tsub.choices.values():
        s.add_argument("--competition", help="only this competition (default: all)")
        s.add_argument("--json", action="store_true")
        s.set_defaults(fn=cmd_team)

    s = sub.add_parser("reveal", help="show a competition's private scores on the leaderboard")
    s.add_argument("name")
    s.add_argument("--hide", action="store_true", help="hide them again")
    s.set_defaults(fn=cmd_reveal)
