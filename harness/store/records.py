"""What a submission's record shows to members: the JSON of `submit` and `show`, locally
and through the group's server alike. `private_score` is null until the private scores
are shown (the deadline passed, or the organiser revealed them); the `also` metrics are
their public part only. `late`: made at or after the deadline (kept off the boards).
`warnings`: what the run (or reading its file) found that its author should know, a list
of lines, empty when none. `device`, `gpu`, `versions`, `seconds`, `wall_seconds` and
`peak_memory_mb` are the host's: what it gave the run and measured from outside;
`reported` is what the run said of itself (the device and versions it saw, its phases,
its GPU peak, the weights it loaded), its own word only."""

from __future__ import annotations

from datetime import datetime

PUBLIC_FIELDS = (
    "id",
    "competition",
    "status",
    "metric",
    "public_score",
    "private_score",
    "valid_score",
    "late",
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
    "executor",
    "node",
    "submitted_at",
    "created_at",
    "is_baseline",
    "published_at",
    "diagnostics",  # a code run's: pending while they are drawn after its score, drawn, failed
)
# what the record leaves out: the host's own folders
HOST_FIELDS = ("run_dir",)


def public_also(row: dict) -> dict:
    """The public part of the metrics shown beside the competition's own."""
    return {k: v["public"] for k, v in (row.get("extra_scores") or {}).items()}


def private(row: dict) -> float | None:
    """The private score once shown, else None."""
    return row.get("private_score") if row.get("revealed_at") else None


def summary(row: dict) -> dict:
    """The submit JSON: the public fields plus a `user` alias."""
    out = {k: row.get(k) for k in PUBLIC_FIELDS}
    out["private_score"] = private(row)
    out["user"] = row["user_name"]
    out["also"] = public_also(row)
    out["warnings"] = row.get("warnings") or []
    return out


def record(row: dict, host: bool = True) -> dict:
    """The show JSON: everything stored for a submission, its private score null until shown.

    Args:
        host: False when it leaves the host (the server's API): without the host's paths.
    """
    row = dict(row)
    row["private_score"] = private(row)
    for k in () if host else HOST_FIELDS:
        row.pop(k, None)
    row["also"] = public_also(row)
    row["warnings"] = row.get("warnings") or []
    row.pop("extra_scores", None)
    row["user"] = row.pop("user_name")
    if not host:
        row["artifacts"] = [
            {k: v for k, v in a.items() if k != "path"} for a in row.get("artifacts") or []
        ]
    return row


def reported_facts(row: dict) -> list[tuple[str, object]]:
    """What the run said of itself, as (label, value) pairs, for people: its word beside
    the host's figures (the weights it loaded are listed apart)."""
    said = row.get("reported") or {}
    seen = said.get("versions") or {}
    pairs = [
        ("device", said.get("device")),
        ("GPU", seen.get("gpu")),
        ("peak GPU memory MiB", said.get("gpu_peak_mb")),
        ("peak memory MiB", said.get("worker_peak_rss_mb")),
        *((f"{k} seconds", v) for k, v in (said.get("seconds") or {}).items()),
        ("CUDA", seen.get("cuda")),
        ("GPU compute capability", seen.get("gpu_capability")),
        ("CPU", seen.get("cpu")),
        ("CPU vector units", seen.get("cpu_features")),
        ("numerics", seen.get("numerics")),
        ("CPU instruction set", seen.get("cpu_capability")),
        ("numerics caps", seen.get("numerics_caps")),
        ("oneDNN", seen.get("onednn")),
        ("BLAS", seen.get("blas")),
        ("torch threads", seen.get("torch_threads")),
        ("torch inter-op threads", seen.get("interop_threads")),
    ]
    return [(k, v) for k, v in pairs if v is not None]


def jsonable(obj):
    """`json.dumps`'s default: a time as ISO text (UTC, to the second), else its repr."""
    if isinstance(obj, datetime):
        return obj.isoformat(sep=" ", timespec="seconds")
    return repr(obj)
