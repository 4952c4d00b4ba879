"""`harness show`, `reproduce`, `diff` and `publish`: what was recorded for a submission."""

from __future__ import annotations

import json

from harness.cli import backend
from harness.cli.console import cell, clean, dump, echo, table
from harness.errors import EXIT_FAILED, EXIT_OK
from harness.store.records import reported_facts


def field(name: str, v) -> str:
    """One value of a record, beside its name: yes or no, a whole limit whole (3600
    seconds, not 3600.00000; a score keeps its digits), the rest as a table's cell."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float) and v.is_integer() and "score" not in name and abs(v) < 1e15:
        return str(int(v))
    return cell(v)


def cmd_show(args) -> int:
    row = backend.choose().submission(args.id)
    if row["status"] in backend.WAITING:
        return show_waiting(row, args.json)
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
            print(f"{clean(k).ljust(width)}  {field(k, v)}")
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
            print(f"  {k.ljust(pad)}  {field(k, v)}")
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
    backend.choose().host_only(
        "reproduce re-runs on the host that recorded the run; you are logged in to {url}: "
        f"ask the organiser (harness reproduce {args.id} there)"
    )
    from harness.run import pipeline

    executor = backend.executor_of(args)
    portable = None if args.numerics is None else args.numerics == "portable"  # as recorded
    res = pipeline.reproduce(args.id, executor, echo(args.verbose), portable)
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
    d = backend.choose().diff(args.a, args.b)
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


def cmd_publish(args) -> int:
    """A submission's code, log and diagnostics made public to everyone, for good."""
    out = backend.choose().publish(args.id)
    if args.json:
        dump(out)
    elif out["already"]:
        print(f"submission {args.id} was already public")
    else:
        print(f"submission {args.id} is public: everyone can read its code, log and diagnostics")
    return EXIT_OK


def add_parser(sub) -> None:
    """`harness show`, `reproduce`, `diff` and `publish`, on the command line's subparsers."""
    s = sub.add_parser("show", help="everything recorded for a submission")
    s.add_argument("id", type=int)
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_show)

    s = sub.add_parser("reproduce", help="re-run a code submission, compare the score")
    s.add_argument("id", type=int)
    backend.executor_flags(s)
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
