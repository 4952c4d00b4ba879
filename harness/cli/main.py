"""The `harness` command: competitions, data, submissions, leaderboards, the demo."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from harness.cli.console import (
    cell,
    clean,
    describe,
    describe_kaggle,
    dump,
    echo,
    err,
    print_board,
    table,
)
from harness.errors import EXIT_FAILED, EXIT_OK, HarnessError, UsageError
from harness.store.records import reported_facts, summary

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
    from harness.cli import remote

    if srv := remote.current():
        if args.data_cmd == "fetch":
            if args.source:
                raise UsageError("--source is for the host; the server's files are fetched as is")
            print(remote.fetch(srv, args.name, log=err))
        else:
            folder = remote.fetched_dir(srv, args.name)
            if not (folder / "checksums.json").exists():
                raise UsageError(
                    f"{args.name}'s files are not fetched from {srv.url} yet: "
                    f"harness data fetch {args.name}"
                )
            print(folder)
        return EXIT_OK
    from harness.competition import data, registry

    comp = registry.get(args.name)
    if args.data_cmd == "fetch":
        prepared = data.fetch_and_prepare(comp, args.source, log=err)
    else:
        prepared = data.ensure(comp, log=err)
    print(prepared.files)
    return EXIT_OK


def cmd_submit(args) -> int:
    from harness.cli import remote

    if srv := remote.current():
        return submit_remote(srv, args)
    from harness.run import pipeline
    from harness.run.kaggle_way import check_output

    if args.user is None:
        raise UsageError("--user is required (or harness login to a group's server)")
    if args.no_wait:
        raise UsageError("--no-wait is for a group's server (harness login); a local run waits")
    for flag, value in (("--timeout", args.timeout), ("--memory-mb", args.memory_mb)):
        if value is not None and not value > 0:
            raise UsageError(f"{flag} must be a positive number, got {value:g}")
    limits = pipeline.Limits(
        seed=args.seed,
        device=args.device or "auto",
        timeout=args.timeout or pipeline.DEFAULT_TIMEOUT,
        memory_mb=args.memory_mb,
        output=check_output(args.output),
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
        executor=executor_of(args),
    )
    from harness.store import rules

    out = summary(row) | rules.left(row["competition"], row["user_name"])
    if args.json:
        dump(out)
    else:
        from harness.competition import registry
        from harness.store import leaderboards

        comp = registry.get(row["competition"])
        print(describe(out, leaderboards.ranking(comp)[1], comp.metric.better))
    return EXIT_OK if row["status"] == "scored" else EXIT_FAILED


def executor_of(args, **kwargs):
    """The executor `--executor` names: None (the local default), or a Ray one."""
    if args.executor == "local":
        if args.ray_address:
            raise UsageError("--ray-address goes with --executor ray")
        return None
    from harness.run.ray_executor import RayExecutor, connect

    connect(args.ray_address)  # now: a missing ray or a cluster that does not answer stops here
    return RayExecutor(args.ray_address, **kwargs)


def submit_remote(srv, args) -> int:
    from harness.cli import remote

    member = srv.get("/api/whoami")["member"]
    if args.user is not None and args.user != member:
        raise UsageError(
            f"--user {args.user!r} is not you: the server records your token's member, {member!r}"
        )
    local = [
        f for f in ("device", "timeout", "memory_mb", "ray_address") if getattr(args, f) is not None
    ]
    if args.executor != "local":
        local.insert(0, "executor")
    if local or args.baseline:
        flag = "--" + (local[0].replace("_", "-") if local else "baseline")
        raise UsageError(f"{flag} is for local runs; the server sets its runs' limits")
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    queued = srv.upload(args.name, path, args.message, args.seed, args.output)
    if queued["status"] == "rejected":  # over the daily limit: nothing runs
        if args.json:
            dump(queued)
        else:
            print(describe(queued, []))
        return EXIT_FAILED
    err(f"harness: submission {queued['id']} queued on {srv.url}: place {queued['place']} in line")
    if args.no_wait:
        if args.json:
            dump(queued)
        else:
            print(
                f"submission {queued['id']} queued (place {queued['place']}): harness show "
                f"{queued['id']}"
            )
        return EXIT_OK
    try:
        done = remote.wait(srv, queued["id"], log=err)
    except KeyboardInterrupt:
        err(
            f"harness: stopped waiting; submission {queued['id']} goes on on the server "
            f"(harness show {queued['id']})"
        )
        return 130
    if args.json:
        dump(done)
    else:
        from urllib.parse import quote

        board = srv.get(f"/api/competitions/{quote(done['competition'])}/leaderboard")
        print(describe(done, board))
    return EXIT_OK if done["status"] == "scored" else EXIT_FAILED


def cmd_leaderboard(args) -> int:
    from harness.cli import remote

    if args.private:
        return private_board(args)
    if srv := remote.current():
        from urllib.parse import quote

        rows = srv.get(f"/api/competitions/{quote(args.name)}/leaderboard")
        if args.json:
            dump(rows)
        elif not rows:
            print(f"no scored submissions on {args.name} yet")
        else:
            for r in rows:
                r.update(r.pop("also") or {})
            cols = [c for c in rows[0] if c not in ("extra_scores", "last_submission_at")]
            print(table(rows, cols))
        return EXIT_OK
    from harness.competition import registry
    from harness.store import leaderboards

    if args.json:
        dump(leaderboards.ranking(registry.get(args.name))[1])
    else:
        print_board(args.name)
    return EXIT_OK


def private_board(args) -> int:
    """The private board and its shake-up; exit 1 while the private scores are hidden."""
    from harness.cli import remote
    from harness.cli.console import print_private

    if srv := remote.current():
        from urllib.parse import quote

        got = srv.get(f"/api/competitions/{quote(args.name)}/private")
        name, rows, hidden = got["competition"], got["rows"], got.get("hidden")
        metric, better = got["metric"], got["better"]
    else:
        from harness.competition import registry
        from harness.store import leaderboards, rules

        comp = registry.get(args.name)
        name, rows = comp.name, leaderboards.private_board(comp)
        hidden = rules.hidden_until(comp.name) if rows is None else None
        metric, better = comp.spec.metric, comp.metric.better
    if hidden:
        err(f"harness: error: {hidden}")
        return EXIT_FAILED
    if args.json:
        dump(rows)
    else:
        print_private(name, metric, better, rows)
    return EXIT_OK


def cmd_rules(args) -> int:
    from harness.cli import remote
    from harness.cli.console import print_rules

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
    if srv := remote.current():
        from urllib.parse import quote

        if changes:
            raise UsageError("the organiser sets the rules, on the host (harness rules there)")
        out = srv.get(f"/api/competitions/{quote(args.name)}/rules")
    else:
        from harness.competition import registry
        from harness.store import rules

        comp = registry.get(args.name)
        now = (
            rules.change(comp.name, retroactive=args.retroactive, **changes)
            if changes
            else rules.current(comp.name)
        )
        out = rules.describe(now) | {
            "private_shown": rules.shown_at(comp.name, comp.spec.version) is not None,
            "history": rules.history(comp.name),
        }
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
    from harness.cli import remote

    if srv := remote.current():
        if args.user is not None:
            raise UsageError("--user is for the host; the server picks for your token's member")
        out = srv.post("/api/picks", json={"ids": args.ids})
    else:
        from harness.store import rules

        out = rules.select(args.ids, member=args.user)
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
    from harness.cli import remote

    if remote.current():
        raise UsageError("teams are formed by the organiser, on the host (harness team there)")
    from harness.competition import registry
    from harness.store import rules, teams

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
            names = [c for c in names if not rules.current(c).closed()]
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


def cmd_show(args) -> int:
    from harness.cli import remote

    if srv := remote.current():
        st = srv.get(f"/api/submissions/{args.id}")
        if st["status"] in ("queued", "running"):
            return show_waiting(st, args.json)
        row = srv.get(f"/api/submissions/{args.id}/record")
    else:
        from harness.server import status
        from harness.store import db, records

        row = db.submission(args.id)
        if row is None and (st := status.of(args.id)) is not None:  # in the server's queue
            return show_waiting(st, args.json)
        if row is None:
            raise UsageError(f"no submission with id {args.id}")
        row = records.record(row)
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
        "warnings",
        "decisions",
        "weights",
        "reported",
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
    # text mode: what the member and the run wrote is cleaned of terminal escapes (cell,
    # table and clean); json.dumps escapes every control character itself
    width = max(len(k) for k in row)
    for k, v in row.items():
        if k not in skip:
            print(f"{clean(k).ljust(width)}  {cell(v)}")
    for w in row.get("warnings") or []:
        print(f"{'warning'.ljust(width)}  {clean(w)}")
    print(f"{'config'.ljust(width)}  {json.dumps(row['config'])}")
    print(f"{'versions'.ljust(width)}  {json.dumps(row['versions'])}")
    if row["docstring"]:
        print("\ndocstring:\n  " + clean(row["docstring"]).replace("\n", "\n  "))
    if row.get("decisions"):
        print("\ncolumns, as the DataLoaders took them:")
        for role, names in row["decisions"].items():
            print(clean(f"  {role}: {', '.join(names) or 'none'}"))
    said = row.get("reported") or {}
    if loaded := said.get("weights", row.get("weights")):
        print("\npretrained weights loaded (reported by the run):")
        print(table(loaded, ["name", "library", "sha256", "file"]))
    if facts := reported_facts(row):  # the run's word, apart from the host's
        print("\nreported by the run (its own word; the figures above are the host's):")
        pad = max(len(k) for k, _ in facts)
        for k, v in facts:
            print(f"  {k.ljust(pad)}  {cell(v)}")
    if row["epochs"]:
        print("\nepochs:")
        eps = [
            {**{k: v for k, v in e.items() if k != "metrics"}, **(e["metrics"] or {})}
            for e in row["epochs"]
        ]
        print(table(eps, list(eps[0])))
    if row["artifacts"]:
        print("\nartifacts:")
        print(
            table(
                row["artifacts"], [c for c in ("title", "kind", "path") if c in row["artifacts"][0]]
            )
        )
    if row["reproductions"]:
        print("\nreproductions:")
        print(table(row["reproductions"], list(row["reproductions"][0])))
    tail = [clean(line) for line in (row["log"] or "").rstrip().splitlines()[-15:]]
    if tail:
        print("\nlog (last lines):\n  " + "\n  ".join(tail))
    return EXIT_OK


def show_waiting(st: dict, as_json: bool) -> int:
    """A submission still in the server's queue: its status (queued or running)."""
    if as_json:
        dump(st)
    else:
        print(table([st], [k for k in st if k != "line"]))
    return EXIT_OK


def cmd_reproduce(args) -> int:
    from harness.cli import remote
    from harness.run import pipeline

    if srv := remote.current():
        raise UsageError(
            f"reproduce re-runs on the host that recorded the run; you are logged in to "
            f"{srv.url}: ask the organiser (harness reproduce {args.id} there)"
        )
    res = pipeline.reproduce(args.id, executor=executor_of(args), on_output=echo(args.verbose))
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
        if not res["identical"]:
            p = res["predictions"]
            if p["rows"] is not None:
                print(f"  predictions changed: {p['changed']} of {p['rows']} rows")
            print(f"  {res['verdict']}")
            if res["differences"]:
                print(table(res["differences"], ["what", "original", "now"]))
    return EXIT_OK if res["identical"] else EXIT_FAILED


def cmd_diff(args) -> int:
    from harness.cli import remote
    from harness.run import compare

    if srv := remote.current():  # the server checks that both are the member's to read
        d = srv.get(f"/api/diff/{args.a}/{args.b}")
    else:
        d = compare.prediction_diff(args.a, args.b)
    if args.json:
        dump(d)
        return EXIT_OK
    sa, sb = d["scores"]["a"], d["scores"]["b"]
    print(
        clean(
            f"submission {d['b']} against {d['a']} on {d['competition']}'s {d['rows']} public "
            f"rows: public {d['metric']} {sa:.5f} -> {sb:.5f}"
        )
    )
    print(f"  predictions changed: {d['changed']} of {d['rows']} rows")
    if "wrong_to_right" in d:
        print(
            f"  wrong -> right {d['wrong_to_right']}, right -> wrong {d['right_to_wrong']}, "
            f"wrong -> another wrong {d['wrong_to_other_wrong']}"
        )
        if d["flips"]:
            print("\nflips by true class:")
            print(table(d["flips"], ["label", "wrong_to_right", "right_to_wrong"]))
        print("\naccuracy by class:")
        print(table(d["per_class"], ["label", "rows", "a_accuracy", "b_accuracy"]))
    else:
        e = d["error"]
        print(f"  |error| smaller on {d['better']} rows, larger on {d['worse']}")
        rows = [{"run": k, **v} for k, v in e.items()]
        print("\n|error| (public rows):")
        print(table(rows, ["run", "mean", "p50", "p90", "p99"]))
        print("\npredictions that moved most:")
        print(table(d["moved_most"], ["id", "a", "b"]))
        for key in ("users", "movies"):
            if d.get(key):
                print(f"\n{key} whose mean |error| moved most (b - a):")
                print(table(d[key], list(d[key][0])))
    return EXIT_OK


def cmd_demo(args) -> int:
    from harness.cli.demo import run

    return run(args.competitions, verbose=args.verbose, everything=args.all)


def cmd_serve(args) -> int:
    from harness.paths import home
    from harness.run import sandbox
    from harness.server import app

    # the group's server runs members' code: not without a sandbox, unless told so
    sb, why = sandbox.choose()
    if sb is None and not args.no_sandbox:
        raise sandbox.SandboxUnavailable(
            f"no sandbox for members' code ({why}): install bubblewrap (README, Sandbox) "
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
            "(README, Facing the internet) or pass --ssl-certfile and --ssl-keyfile"
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
    if args.executor == "ray":
        from harness.run.ray_executor import connect

        ray = connect(args.ray_address)
        cpus = ray.cluster_resources().get("CPU", 0)
        err(f"harness: runs go to Ray ({len(ray.nodes())} node(s), {cpus:g} CPUs)")
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


def cmd_publish(args) -> int:
    """A submission's code, log and diagnostics made public to everyone, for good."""
    from harness.cli import remote
    from harness.store import privacy

    if srv := remote.current():
        out = srv.post(f"/api/submissions/{args.id}/publish", json={})
    else:  # the host's shell: the organiser
        out = privacy.publish(args.id, privacy.HOST)
    if args.json:
        dump(out)
    elif out["already"]:
        print(f"submission {args.id} was already public")
    else:
        print(f"submission {args.id} is public: everyone can read its code, log and diagnostics")
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


def executor_flags(s: argparse.ArgumentParser) -> None:
    s.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="where code runs: this machine (default) or a Ray cluster (RAY_ADDRESS, "
        "--ray-address, else a local Ray for this command)",
    )
    s.add_argument("--ray-address", help="the Ray cluster to join (default: RAY_ADDRESS)")


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
    executor_flags(s)
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument("--verbose", "-v", action="store_true", help="show the whole worker log")
    s.add_argument(
        "--no-wait", action="store_true", help="through a server: return once it is queued"
    )
    s.set_defaults(fn=cmd_submit)

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

    s = sub.add_parser("show", help="everything recorded for a submission")
    s.add_argument("id", type=int)
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_show)

    s = sub.add_parser("reproduce", help="re-run a code submission, compare the score")
    s.add_argument("id", type=int)
    executor_flags(s)
    s.add_argument("--json", action="store_true")
    s.add_argument("--verbose", "-v", action="store_true")
    s.set_defaults(fn=cmd_reproduce)

    s = sub.add_parser("diff", help="what submission B changed against A, row by row (public)")
    s.add_argument("a", type=int)
    s.add_argument("b", type=int)
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_diff)

    s = sub.add_parser(
        "publish", help="make a submission's code, log and diagnostics public, for good"
    )
    s.add_argument("id", type=int)
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_publish)

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
    s.add_argument(
        "--all",
        action="store_true",
        help="every baseline (default: each competition's quick ones, submissions/*/demo.txt)",
    )
    s.add_argument("--verbose", "-v", action="store_true")
    s.set_defaults(fn=cmd_demo)

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
    executor_flags(s)
    s.set_defaults(fn=cmd_serve)

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

    s = sub.add_parser("doctor", help="what this machine has and lacks, a line a check")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_doctor)

    from harness.cli.weights import add_parser as weights_parser

    weights_parser(sub)  # harness weights fetch|list

    s = sub.add_parser("reveal", help="show a competition's private scores on the leaderboard")
    s.add_argument("name")
    s.add_argument("--hide", action="store_true", help="hide them again")
    s.set_defaults(fn=cmd_reveal)
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
