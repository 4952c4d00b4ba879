"""What the `harness` command prints: JSON for scripts, aligned tables and summaries for people.

With `--json`, a command prints exactly one JSON object (or list) on stdout and nothing
else there; progress and diagnostics go to stderr.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from datetime import datetime

from harness.store.records import jsonable

# a terminal acts on these, whoever wrote them: whole sequences go, not just their ESC
ESCAPES = re.compile(
    r"""
    (?:\x1b\]|\x9d)[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?  # OSC: window title, clipboard (52), links
    | (?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c\n]*(?:\x1b\\|\x9c)?  # DCS, SOS, PM, APC strings
    | (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?  # CSI: clear screen, cursor moves, colours
    | \x1b[ -/]*[0-~]?  # the other escapes (reset, charsets, keypad)
    """,
    re.VERBOSE,
)
# marks that reorder what is shown (Trojan Source): text that reads unlike what it is
BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean(text) -> str:
    """`text` safe to print on a terminal: escape sequences, control characters (\\r,
    BEL, backspace, C1), bidi overrides and lone surrogates removed; newlines and tabs
    kept. For whatever a member, a run or a server wrote."""
    text = ESCAPES.sub("", str(text))
    return "".join(
        c for c in text if c in "\n\t" or not (unicodedata.category(c) in ("Cc", "Cs") or c in BIDI)
    )


def err(msg: str) -> None:
    """A line for people on stderr (progress, errors), cleaned: it may quote a run's log."""
    print(clean(msg), file=sys.stderr, flush=True)


def dump(obj) -> None:
    print(json.dumps(obj, default=jsonable, indent=2))


def table(rows: list[dict], cols: list[str]) -> str:
    """Plain aligned text columns, cleaned (names, files, messages are members')."""
    cells = [[cell(r.get(c)) for c in cols] for r in rows]
    cols = [clean(c) for c in cols]  # a server's keys, when its rows are shown as they came
    widths = [max([len(c), *(len(x[i]) for x in cells)]) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    lines += ["  ".join(x.ljust(w) for x, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.5f}"
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, bool):
        return "yes" if v else ""
    return clean(v)


def echo(verbose: bool):
    """Shows the host's lines and the run's progress lines (`[run]`) on stderr; every log
    line when verbose."""

    def show(line: str) -> None:
        if verbose or line.startswith(("[harness]", "[run]")):
            err("  | " + line)

    return show


def describe(row: dict, board: list[dict], better: str | None = None) -> str:
    """A short human summary of a submission and its place on the board.

    Args:
        row: the submit JSON (`records.summary`), local or from the group's server.
        board: the competition's public board (`harness leaderboard NAME --json` rows).
        better: "higher" or "lower", when known.
    """
    head = f"submission {row['id']} ({row['filename']}, {row['user']}) on {row['competition']}"
    left = (
        f"\n  {row['remaining']} of {row['daily_limit']} left today"
        if row.get("daily_limit")
        else ""
    )
    # what the run decided in silence otherwise: said under every outcome
    warned = "".join(f"\n  warning: {w}" for w in row.get("warnings") or [])
    if row["status"] != "scored":
        return clean(
            f"{head}: {row['status']}\n  {row['error']}{warned}\n  log: harness show "
            f"{row['id']}{left}"
        )
    also = "".join(f"; {k} {v:.5f}" for k, v in (row.get("also") or {}).items())
    direction = f" ({better} is better)" if better else ""
    lines = [
        f"{head}: scored",
        f"  public {row['metric']}: {row['public_score']:.5f}{direction}{also}",
    ]
    mine = next((r for r in board if row["user"] in r.get("members", [r["user"]])), None)
    if row.get("late"):
        lines.append("  late: made after the deadline, so it stays off both boards")
    elif mine:
        best = (
            "this submission"
            if mine["submission_id"] == row["id"]
            else (f"submission {mine['submission_id']}, {mine['score']:.5f}")
        )
        lines.append(f"  rank {mine['rank']} of {len(board)} on the public board (best: {best})")
    if row["kind"] == "code":
        lines.append(
            f"  {row['wall_seconds']:.1f} s, peak memory {row['peak_memory_mb']:.0f} MiB,"
            f" device {row['device']}, seed {row['seed']}"
            + ("" if row.get("sandboxed") is not False else ", NOT sandboxed")
        )
    return clean("\n".join(lines) + warned + left)


def board_table(rows: list[dict]) -> str:
    """A public board's rows (`leaderboards.ranking`'s, or the server's as they came) as the
    text table, the same on the host and on a member's machine."""
    also = list(dict.fromkeys(k for r in rows for k in (r.get("also") or {})))
    shown = [
        {
            **r,
            **(r.get("also") or {}),
            "baseline": r.get("is_baseline"),
            "submitted_at": when(r.get("submitted_at")),
            "members": ", ".join(r.get("members") or []) if r.get("team") else "",
        }
        for r in rows
    ]
    cols = ["rank", "user", "score", *also, "entries", "submission_id", "submitted_at", "baseline"]
    if any(r.get("team") for r in rows):
        cols.insert(2, "members")
    return table(shown, cols)


def when(v):
    """A time as it came: a datetime from the store, ISO text from the server's JSON."""
    if isinstance(v, str):
        try:
            return datetime.fromisoformat(v)
        except ValueError:
            return v
    return v


def print_board(name: str) -> None:
    """The public leaderboard of a competition as a text table."""
    from harness.competition import registry
    from harness.store import leaderboards

    comp = registry.get(name)
    fingerprint, rows = leaderboards.ranking(comp)
    better = comp.metric.better
    print(
        f"{comp.name}: public {comp.spec.metric} ({better} is better)"
        + (f", data {fingerprint[:12]}" if fingerprint else "")
    )
    if not rows:
        print(f"no scored submissions yet: harness submit {comp.name} FILE --user NAME")
        return
    print(board_table(rows))
    if flagged := [r for r in rows if comp.spec.implausible(comp.metric, r["score"])]:
        ids = ", ".join(str(r["submission_id"]) for r in flagged)
        print(
            f"review: submission {ids} beyond the plausible best {comp.spec.metric} of "
            f"{comp.spec.plausible_best:g}, which no honest model is known to reach"
        )


def describe_kaggle(row: dict) -> str:
    """What was sent to Kaggle, and Kaggle's score beside the local one."""
    from harness.competition import registry

    what = (
        f"submission {row['submission_id']} ({row['local_filename']}, {row['user_name']})"
        if row["submission_id"]
        else row["filename"]
    )
    lines = [
        f"sent {what} to Kaggle's {row['kaggle_competition']} as {row['filename']}: "
        f"{row['rows']} rows, ref {row['kaggle_ref']}"
    ]
    metric = registry.get(row["competition"]).spec.metric
    if row["status"] == "complete":
        local = row["local_public_score"]
        beside = f" (local public {metric}: {local:.5f})" if local is not None else ""
        lines.append(f"  Kaggle public {metric}: {cell(row['public_score'])}{beside}")
    elif row["status"] == "pending":
        lines.append(
            f"  Kaggle is still scoring it; see its score with: "
            f"harness kaggle sync {row['competition']}"
        )
    return clean("\n".join(lines))


def print_private(name: str, metric: str, better: str, rows: list[dict]) -> None:
    """The private board, then its shake-up: public rank to private rank, and each
    entrant's valid, public and private score of the submission that counted."""
    from harness.store.leaderboards import arrow

    print(f"{name}: private {metric} ({better} is better), the best of each one's final picks")
    if not rows:
        print("no scored submissions on the board")
        return
    for r in rows:
        r["picks"] = ", ".join(str(i) for i in r["picks"]) + ("" if r["picked"] else " (auto)")
        r["move"] = arrow(r["moved"])
    print(table(rows, ["rank", "user", "score", "public_rank", "move", "picks"]))
    print("\nshake-up (the submission that counted):")
    sign = 1 if better == "lower" else -1
    for r in rows:
        r.update(valid=r["valid_score"], public=r["public_score"], private=r["score"])
        r["private - public"] = round(sign * (r["score"] - r["public_score"]), 10) + 0.0
    cols = ["user", "public_rank", "rank", "move", "valid", "public", "private", "private - public"]
    print(table(rows, cols))
    print(
        "private - public > 0: worse on the private part than on the public one "
        "(a sign of fitting the public board); picks marked (auto) are the best public ones"
    )


def print_rules(r: dict) -> None:
    """A competition's rules as `harness rules` prints them."""
    limit = r["daily_limit"]
    deadline = r["deadline"]
    if isinstance(deadline, str):  # through the server: ISO text
        deadline = datetime.fromisoformat(deadline)
    print(
        f"{r['competition']} rules"
        + (f" (changed {cell(r['changed_at'])} UTC)" if r.get("changed_at") else " (the defaults)")
    )
    state = "closed" if r["closed"] else "open"
    shown = "shown" if r.get("private_shown") else "hidden"
    lines = [
        ("daily limit", f"{limit} per member or team, per UTC day" if limit else "none"),
        ("final picks", str(r["final"])),
        ("deadline", f"{cell(deadline)} UTC" if deadline else "none"),
        ("team size", f"up to {r['team_size']}"),
    ]
    if "max_queued" in r:  # a server of an older harness does not say
        timeout = r["timeout_seconds"]
        lines += [
            (
                "run timeout",
                f"{timeout} s" if timeout else "the server's (serve --timeout, default 900 s)",
            ),
            ("queue cap", f"{r['max_queued']} uploads queued or running per member or team"),
            ("storage cap", f"{r['max_stored_mb']} MB of uploads kept per member or team"),
            (
                "code",
                "public after the deadline (open code)"
                if r["open_code"]
                else "private until its member publishes it",
            ),
        ]
    lines += [("now", f"{state}; private scores {shown}")]
    if "remaining" in r:  # a member's view, through the server
        who = f"team {r['user']}" if r["team"] else r["user"]
        left = "no limit" if r["remaining"] is None else f"{r['remaining']} of {limit} left today"
        picks = ", ".join(str(i) for i in r["picks"]) or "none (the best public ones count)"
        lines += [("you", f"{who}: {left}; final picks {picks}")]
    for k, v in lines:
        print(f"  {k.ljust(12)} {clean(v)}")
    if r.get("history"):
        print("\nchanges:")
        print(table(r["history"], ["changed_at", "changed"]))
