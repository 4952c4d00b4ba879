"""`harness list` and `harness data fetch|path`: the competitions and their files."""

from __future__ import annotations

from harness.cli import backend
from harness.cli.console import dump, table
from harness.errors import EXIT_OK


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
    where = backend.choose()
    if args.data_cmd == "fetch":
        print(where.fetch_data(args.name, args.source))
    else:
        print(where.data_path(args.name))
    return EXIT_OK


def add_parser(sub) -> None:
    """`harness list` and `harness data fetch|path`, on the command line's subparsers."""
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
