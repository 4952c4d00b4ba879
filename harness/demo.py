"""The demo: offline data, every course baseline of a competition, then its leaderboard."""

from __future__ import annotations

import sys
import time

from harness import data, pipeline, registry, store
from harness.paths import submissions_dir
from harness.repro import file_sha256


def err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def baselines(name: str) -> list:
    """The baseline files of a competition: submissions/<name>/*.py and *.csv."""
    folder = submissions_dir() / name
    return sorted(p for p in folder.glob("*") if p.suffix in (".py", ".csv"))


def run(name: str, verbose: bool = False) -> int:
    """Fills a leaderboard from offline data; baselines already on the board are kept."""
    from harness.cli import echo, print_board

    t0 = time.monotonic()
    comp = registry.get(name)
    prepared = data.current(comp)
    if prepared is None or prepared.source != "offline":
        err(f"[demo] step 1/3: fetching offline data for {name}")
        prepared = data.fetch_and_prepare(comp, "offline", log=err)
    else:
        err(f"[demo] step 1/3: offline data for {name} already prepared ({prepared.path})")
    files = baselines(name)
    err(f"[demo] step 2/3: running {len(files)} baselines from {submissions_dir() / name}")
    failed = 0
    for i, path in enumerate(files, 1):
        user = path.stem
        done = store.done_before(name, prepared.fingerprint, file_sha256(path), user)
        if done:
            err(f"[demo]   [{i}/{len(files)}] {path.name}: already scored as submission {done}")
            continue
        err(f"[demo]   [{i}/{len(files)}] {path.name}: training and scoring ...")
        t1 = time.monotonic()
        row = pipeline.submit(
            name, path, user, "course baseline", is_baseline=True, on_output=echo(verbose), log=err
        )
        took = time.monotonic() - t1
        if row["status"] == "scored":
            err(
                f"[demo]   [{i}/{len(files)}] {path.name}: public {row['metric']} "
                f"{row['public_score']:.5f} in {took:.1f} s (submission {row['id']})"
            )
        else:
            failed += 1
            err(f"[demo]   [{i}/{len(files)}] {path.name}: {row['status']}: {row['error']}")
    err(f"[demo] step 3/3: the leaderboard ({time.monotonic() - t0:.0f} s in all)")
    print_board(name)
    return 1 if failed else 0
