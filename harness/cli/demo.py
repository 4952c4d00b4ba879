"""The demo: offline data, every course baseline, then the leaderboards."""

from __future__ import annotations

import time

from harness.cli.console import err
from harness.competition import data, registry
from harness.paths import submissions_dir
from harness.run import pipeline
from harness.run.repro import file_sha256
from harness.store import db


def baselines(name: str) -> list:
    """The baseline files of a competition: submissions/<name>/*.py and *.csv."""
    folder = submissions_dir() / name
    return sorted(p for p in folder.glob("*") if p.suffix in (".py", ".csv"))


def run(names: list[str] | None = None, verbose: bool = False) -> int:
    """Fills leaderboards from offline data; baselines already on a board are kept.

    Returns:
        0 when every baseline scored, 1 otherwise.
    """
    from harness.cli.console import echo, print_board

    t0 = time.monotonic()
    names = names or [n for n in registry.discover() if baselines(n)]
    comps = [registry.get(n) for n in names]  # unknown names fail before any work
    failed = 0
    for k, comp in enumerate(comps, 1):
        err(f"[demo] {comp.name} ({k}/{len(comps)}): {comp.title}")
        failed += _one(comp, verbose, echo)
    err(f"[demo] done in {time.monotonic() - t0:.0f} s; the leaderboards:")
    for comp in comps:
        print()
        print_board(comp.name)
    return 1 if failed else 0


def _one(comp, verbose: bool, echo) -> int:
    prepared = data.current(comp)
    if prepared is None or prepared.source != "offline":
        err(f"[demo]   fetching offline data for {comp.name}")
        prepared = data.fetch_and_prepare(comp, "offline", log=lambda m: err(f"[demo]   {m}"))
    files = baselines(comp.name)
    failed = 0
    for i, path in enumerate(files, 1):
        step = f"[demo]   [{i}/{len(files)}] {path.name}"
        done = db.done_before(comp.name, prepared.fingerprint, file_sha256(path), path.stem)
        if done:
            err(f"{step}: already scored as submission {done}")
            continue
        err(f"{step}: training and scoring ...")
        t1 = time.monotonic()
        row = pipeline.submit(
            comp.name,
            path,
            path.stem,
            "course baseline",
            is_baseline=True,
            on_output=echo(verbose),
            log=err,
        )
        if row["status"] == "scored":
            err(
                f"{step}: public {row['metric']} {row['public_score']:.5f} in "
                f"{time.monotonic() - t1:.1f} s (submission {row['id']})"
            )
        else:
            failed += 1
            err(f"{step}: {row['status']}: {row['error']}")
    return failed
