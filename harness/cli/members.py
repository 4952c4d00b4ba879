"""`harness member`, `login` and `logout`: the group's members and their tokens, on the host;
a member's machine logged in to the group's server, or not."""

from __future__ import annotations

from harness.cli.console import clean, dump, err, table
from harness.errors import EXIT_OK


def cmd_member(args) -> int:
    from harness.store import members

    if args.member_cmd == "add":
        token = members.add(args.member, organiser=args.organiser, email=args.email)
        role = "organiser" if args.organiser else "member"
        if args.json:
            dump({"member": args.member.strip(), "token": token, "organiser": args.organiser})
        else:
            print(f"{role} {args.member.strip()} added; their token (shown once, keep it):")
            print(token)
    elif args.member_cmd == "token":
        token = members.replace_token(args.member)
        if args.json:
            dump({"member": args.member, "token": token})
        else:
            print(f"a new token for {args.member} (the old one no longer works):")
            print(token)
    elif args.member_cmd == "remove":
        members.remove(args.member)
        if args.json:
            dump({"member": args.member, "removed": True})
        else:
            print(f"member {args.member} removed; their submissions stay")
    else:
        rows = members.listing()
        if args.json:
            dump(rows)
        elif not rows:
            print("no members yet: harness member add NAME")
        else:
            cols = ["member", "organiser", "email", "submissions", "created_at", "token_at"]
            print(table(rows, cols))
    return EXIT_OK


def cmd_login(args) -> int:
    from harness.cli import remote

    token = remote.read_token(args.token, args.url, warn=err)
    member = remote.login(args.url, token)
    print(clean(f"logged in to {args.url.rstrip('/')} as {member}"))
    return EXIT_OK


def cmd_logout(args) -> int:
    from harness.cli import remote

    url = remote.logout()
    print(f"logged out of {url}" if url else "not logged in")
    return EXIT_OK


def add_parser(sub) -> None:
    """`harness member add|list|remove|token`, `login` and `logout`, on the command line's
    subparsers."""
    m = sub.add_parser("member", help="the group's members and their tokens (on the host)")
    msub = m.add_subparsers(dest="member_cmd", required=True, metavar="add|list|remove|token")
    for cmd, text in (
        ("add", "a new member; prints their token once"),
        ("remove", "forget a member and their token; their submissions stay"),
        ("token", "a new token for a member; the old one stops working"),
    ):
        s = msub.add_parser(cmd, help=text)
        s.add_argument("member", metavar="NAME")
        s.add_argument("--json", action="store_true")
        if cmd == "add":
            s.add_argument(
                "--organiser",
                action="store_true",
                help="sees every member's work and runs the competition from the board",
            )
            s.add_argument(
                "--email",
                help="where the group signs in with Google or another OpenID provider "
                "(st.login): the address that is this member",
            )
        s.set_defaults(fn=cmd_member)
    s = msub.add_parser("list", help="every member")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_member)

    s = sub.add_parser("login", help="log in to a group's server with a member's token")
    s.add_argument("url", help="the server, e.g. http://host:8501")
    s.add_argument(
        "--token",
        metavar="-",
        help="- reads the token from stdin; without it, HARNESS_TOKEN or a prompt gives it "
        "(a token written here works but shows in ps and your shell's history)",
    )
    s.set_defaults(fn=cmd_login)
    s = sub.add_parser("logout", help="forget the saved login")
    s.set_defaults(fn=cmd_logout)
