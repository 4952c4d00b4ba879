"""What the `harness` command prints: JSON for scripts, aligned tables and summaries for people.

With `--json`, a command prints exactly one JSON object (or list) on stdout and nothing
else there; progress and diagnostics go to stderr.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime

from harness.store.records import jsonable


def err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def dump(obj) -> None:
    print(json.dumps(obj, default=jsonable, indent=2))


def table(rows: list[dict], cols: list[str]) -> str:
    """Plain aligned text columns."""
    cells = [[cell(r.get(c)) for c in cols] for r in rows]
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
    return str(v)


def echo(verbose: bool):
    """Shows the worker's progress lines on stderr; every log line when verbose."""

    def show(line: str) -> None:
        if verbose or line.startswith("[harness]"):
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
    if row["status"] != "scored":
        return f"{head}: {row['status']}\n  {row['error']}\n  log: harness show {row['id']}"
    also = "".join(f"; {k} {v:.5f}" for k, v in (row.get("also") or {}).items())
    direction = f" ({better} is better)" if better else ""
    lines = [
        f"{head}: scored",
        f"  public {row['metric']}: {row['public_score']:.5f}{direction}{also}",
    ]
    mine = next((r for r in board if r["user"] == row["user"]), None)
    if mine:
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
    return "\n".join(lines)


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
    also = list(comp.spec.also)
    for r in rows:
        r["baseline"] = r["is_baseline"]
        r.update(r["also"])
    cols = ["rank", "user", "score", *also, "entries", "submission_id", "submitted_at", "baseline"]
    print(table(rows, cols))
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
    return "\n".join(lines)
