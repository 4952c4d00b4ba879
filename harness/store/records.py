"""What a submission's record shows to members: the JSON of `submit` and `show`, locally
and through the group's server alike. Private scores stay out until the organiser shows
them on the board; the `also` metrics are their public part only."""

from __future__ import annotations

from datetime import datetime

PUBLIC_FIELDS = (
    "id",
    "competition",
    "status",
    "metric",
    "public_score",
    "error",
    "user",
    "message",
    "kind",
    "entry",
    "filename",
    "seed",
    "device",
    "wall_seconds",
    "peak_memory_mb",
    "sandboxed",
    "created_at",
)
HIDDEN_FIELDS = ("private_score",)  # revealed by the organiser, never by `show`
# what the record leaves out: the host's own folders
HOST_FIELDS = ("run_dir",)


def public_also(row: dict) -> dict:
    """The public part of the metrics shown beside the competition's own."""
    return {k: v["public"] for k, v in (row.get("extra_scores") or {}).items()}


def summary(row: dict) -> dict:
    """The submit JSON: the public fields plus a `user` alias."""
    out = {k: row.get(k) for k in PUBLIC_FIELDS}
    out["user"] = row["user_name"]
    out["also"] = public_also(row)
    return out


def record(row: dict, host: bool = True) -> dict:
    """The show JSON: everything stored for a submission but its private scores.

    Args:
        host: False when it leaves the host (the server's API): without the host's paths.
    """
    row = dict(row)
    for k in HIDDEN_FIELDS + (() if host else HOST_FIELDS):
        row.pop(k, None)
    row["also"] = public_also(row)
    row.pop("extra_scores", None)
    row["user"] = row.pop("user_name")
    if not host:
        row["artifacts"] = [
            {k: v for k, v in a.items() if k != "path"} for a in row.get("artifacts") or []
        ]
    return row


def jsonable(obj):
    """`json.dumps`'s default: a time as ISO text (UTC, to the second), else its repr."""
    if isinstance(obj, datetime):
        return obj.isoformat(sep=" ", timespec="seconds")
    return repr(obj)
