"""The demo: offline data, the course baselines, then the leaderboards.

By default each competition's quick, representative baselines (the course's headline
model among them), as `submissions/<name>/demo.txt` lists them; `--all` runs every one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from harness.cli.console import err
from harness.competition import data, registry
from harness.errors import UsageError
from harness.paths import submissions_dir
from harness.run import pipeline
from harness.run.repro import file_sha256
from harness.store import db


def baselines(name: str) -> list:
    """The baseline files of a competition: submissions/<name>/*.py and *.csv."""
    folder = submissions_dir() / name
    return sorted(p for p in folder.glob("*") if p.suffix in (".py", ".csv"))


@dataclass
class Step:
    path: Path
    seconds: float  # expected wall time, for the estimate
    quick: bool  # in the default demo


def plan(name: str, everything: bool) -> list[Step]:
    """The baselines the demo runs for a competition, in demo.txt's order.

    Raises:
        UsageError: demo.txt names a file that is not there, or a line is malformed.
    """
    files = {p.name: p for p in baselines(name)}
    listing = submissions_dir() / name / "demo.txt"
    if not listing.exists():
        return [Step(p, 60.0, True) for p in files.values()]
    steps = []
    for n, line in enumerate(listing.read_text().splitlines(), 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) != 3 or words[2] not in ("yes", "no") or words[0] not in files:
            raise UsageError(
                f"{listing}, line {n}: expected `FILE SECONDS yes|no` naming a baseline there"
            )
        steps.append(Step(files.pop(words[0]), float(words[1]), words[2] == "yes"))
    steps += [Step(p, 60.0, False) for p in files.values()]  # not listed: --all only
    return [s for s in steps if everything or s.quick]


def run(names: list[str] | None = None, verbose: bool = False, everything: bool = False) -> int:
    """Fills leaderboards from offline data; baselines already on a board are kept.

    Returns:
        0 when every baseline scored, 1 otherwise.
    """
    from harness.cli.console import echo, print_board

    t0 = time.monotonic()
    names = names or [n for n in registry.discover() if baselines(n)]
    comps = [registry.get(n) for n in names]  # unknown names fail before any work
    plans = {c.name: plan(c.name, everything) for c in comps}
    progress = Progress(t0, sum(s.seconds for p in plans.values() for s in p))
    failed = 0
    for k, comp in enumerate(comps, 1):
        err(f"[demo] {comp.name} ({k}/{len(comps)}): {comp.title}")
        failed += _one(comp, plans[comp.name], f"{k}/{len(comps)}", progress, verbose, echo)
    err(f"[demo] done in {time.monotonic() - t0:.0f} s; the leaderboards:")
    for comp in comps:
        print()
        print_board(comp.name)
    return 1 if failed else 0


class Progress:
    """The demo's one overall line: where it is, time spent, an estimate of what is left
    (the expected seconds still to run, scaled by how this machine kept up so far)."""

    def __init__(self, t0: float, expected: float):
        self.t0, self.left, self.done_expected, self.done_took = t0, expected, 0.0, 0.0

    def line(self, where: str) -> str:
        elapsed = time.monotonic() - self.t0
        pace = self.done_took / self.done_expected if self.done_expected else 1.0
        return f"[demo] {where}: {elapsed:.0f} s elapsed, about {self.left * pace:.0f} s to go"

    def skip(self, expected: float) -> None:
        self.left = max(0.0, self.left - expected)

    def ran(self, expected: float, took: float) -> None:
        self.left = max(0.0, self.left - expected)
        self.done_expected += expected
        self.done_took += took


def _one(comp, steps: list[Step], which: str, progress: Progress, verbose: bool, echo) -> int:
    prepared = data.current(comp)
    if prepared is None or prepared.source != "offline":
        err(f"[demo]   fetching offline data for {comp.name}")
        prepared = data.fetch_and_prepare(comp, "offline", log=lambda m: err(f"[demo]   {m}"))
    failed = 0
    for i, s in enumerate(steps, 1):
        path = s.path
        step = f"[demo]   [{i}/{len(steps)}] {path.name}"
        done = db.done_before(comp.name, prepared.fingerprint, file_sha256(path), path.stem)
        if done:
            progress.skip(s.seconds)
            err(f"{step}: already scored as submission {done}")
            continue
        err(progress.line(f"competition {which} {comp.name}, baseline {i}/{len(steps)}"))
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
        progress.ran(s.seconds, time.monotonic() - t1)
        if row["status"] == "scored":
            err(
                f"{step}: public {row['metric']} {row['public_score']:.5f} in "
                f"{time.monotonic() - t1:.1f} s (submission {row['id']})"
            )
        else:
            failed += 1
            err(f"{step}: {row['status']}: {row['error']}")
    return failed
