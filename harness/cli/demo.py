"""The demo: the board first, then offline data and the course baselines, each row landing
on the board as it is scored.

`harness demo` starts the group's server (`harness serve`) on a free port of 127.0.0.1
for this harness home, prints its link, then trains and scores each competition's quick,
representative baselines (the course's headline model among them) as
`submissions/<name>/demo.txt` lists them, one line per run; `--all` runs every one. It
ends with the boards and the link and serves until Ctrl-C. `--no-serve` runs the
baselines and prints the boards only (scripts, CI).
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from harness.cli.console import clean, err
from harness.cli.demo_board import HOST, Board
from harness.errors import EXIT_OK, UsageError
from harness.paths import submissions_dir


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


def run(
    names: list[str] | None = None,
    verbose: bool = False,
    everything: bool = False,
    serve: bool = True,
    port: int | None = None,
) -> int:
    """Fills leaderboards from offline data; baselines already on a board are kept. With
    `serve`, the board is served first and until Ctrl-C (or SIGTERM) after the runs.

    Args:
        names: the competitions, in this order (default: every one with baselines, the
            quickest first, so the first rows land within seconds).
        port: the board's port on 127.0.0.1 (default: a free one).

    Returns:
        0 when every baseline scored, 1 otherwise.

    Raises:
        UsageError: an unknown competition, or `port` is taken; nothing has run.
    """
    from harness.cli.console import print_board
    from harness.competition import registry

    t0 = time.monotonic()
    if names:
        comps = [registry.get(n) for n in names]  # unknown names fail before any work
        plans = {c.name: plan(c.name, everything) for c in comps}
    else:
        comps = [c for n, c in registry.discover().items() if baselines(n)]
        plans = {c.name: plan(c.name, everything) for c in comps}
        comps.sort(key=lambda c: sum(s.seconds for s in plans[c.name]))
    board = Board.start(port) if serve else None  # before any work: a taken port says so
    old = None
    if board and threading.current_thread() is threading.main_thread():
        # a SIGTERM (a script, a service manager) ends the demo as a Ctrl-C does
        old = signal.signal(signal.SIGTERM, _interrupt)
    try:
        if board and not board.ready():
            err(f"[demo] the board did not start: {board.why()}; the demo goes on without it")
            board.stop()
            board = None
        if board:
            err(f"[demo] the board: {board.url} (open it; it fills as each baseline lands)")
        code = _baselines(comps, plans, t0, verbose)
        err(f"[demo] done in {time.monotonic() - t0:.0f} s; the leaderboards:")
        for comp in comps:
            print()
            (short_board if board else print_board)(comp.name)
        if board:
            sys.stdout.flush()
            try:  # from the line on: a Ctrl-C right after it ends the demo as planned
                err(f"\n[demo] the board: {board.url} (serving until Ctrl-C)")
                board.hold()
            except KeyboardInterrupt:  # the way a served demo ends
                err("[demo] stopping the board")
        return code
    except KeyboardInterrupt:  # a run's line may be half written: a line of its own
        err(
            f"\n[demo] interrupted after {time.monotonic() - t0:.0f} s: the run under way is "
            "not recorded; the boards keep what scored"
        )
        return 130
    finally:
        if board:
            board.stop()
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def on_board(comp, steps: list[Step]) -> int:
    """How many of the steps are on the board already (scored from today's data in an
    earlier demo): their seconds go to 0, out of the estimate."""
    from harness.competition import data
    from harness.run.repro import file_sha256
    from harness.store import submissions

    prepared = data.current(comp)
    if prepared is None or prepared.source != "offline":
        return 0
    found = 0
    for s in steps:
        if submissions.done_before(
            comp.name, prepared.fingerprint, file_sha256(s.path), s.path.stem
        ):
            s.seconds, found = 0.0, found + 1
    return found


def _baselines(comps: list, plans: dict, t0: float, verbose: bool) -> int:
    """Every competition's baselines in turn; 0 when each scored, else 1."""
    count = sum(len(p) for p in plans.values())
    for comp in comps:
        if not plans[comp.name]:
            err(
                f"[demo] {comp.name} has no baselines: put them in "
                f"{submissions_dir() / comp.name}/ (docs/adding-a-competition.md)"
            )
    ready = sum(on_board(comp, plans[comp.name]) for comp in comps)
    expected = sum(s.seconds for p in plans.values() for s in p)
    err(
        f"[demo] {count} baseline(s) of {len(comps)} competition(s)"
        + (f", {ready} on the board already" if ready else "")
        + f", about {expected:.0f} s; "
        "each run's epochs go to its log (the board's Submission view, harness show ID"
        + (")" if verbose else "; --verbose prints them here)")
    )
    progress = Progress(t0, expected)
    failed = 0
    for k, comp in enumerate(comps, 1):
        failed += _one(comp, plans[comp.name], f"{k}/{len(comps)}", progress, verbose)
    return 1 if failed else EXIT_OK


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def short_board(name: str, top: int = 5) -> None:
    """A competition's board in a few lines: rank, user, score (the page has the rest)."""
    from harness.cli.console import table
    from harness.competition import registry
    from harness.store import leaderboards

    comp = registry.get(name)
    _, rows = leaderboards.ranking(comp)
    print(f"{comp.name}: public {comp.spec.metric} ({comp.metric.better} is better)")
    if not rows:
        print("no scored submissions yet")
        return
    print(table(rows[:top], ["rank", "user", "score"]))
    if len(rows) > top:
        print(f"... {len(rows) - top} more on the board")


class Progress:
    """Where the demo is, the time spent, and an estimate of what is left (the expected
    seconds still to run, scaled by how this machine kept up so far)."""

    # seconds of runs assumed on time before any ran: the first run alone (a 1-second
    # baseline taking 4 with the sandbox's start) would scale the whole demo fourfold
    PRIOR = 30.0

    def __init__(self, t0: float, expected: float):
        self.t0, self.left, self.done_expected, self.done_took = t0, expected, 0.0, 0.0

    def tail(self) -> str:
        elapsed = time.monotonic() - self.t0
        pace = (self.done_took + self.PRIOR) / (self.done_expected + self.PRIOR)
        return f"{elapsed:.0f} s elapsed, about {self.left * pace:.0f} s left"

    def skip(self, expected: float) -> None:
        self.left = max(0.0, self.left - expected)

    def ran(self, expected: float, took: float) -> None:
        self.left = max(0.0, self.left - expected)
        self.done_expected += expected
        self.done_took += took


def _one(comp, steps: list[Step], which: str, progress: Progress, verbose: bool) -> int:
    """A competition's baselines, one line each (begun as the run starts, ended with its
    score); the runs' own lines only when verbose. Returns how many did not score."""
    from harness.cli.console import echo
    from harness.competition import data
    from harness.run import pipeline
    from harness.run.repro import file_sha256
    from harness.store import submissions

    prepared = data.current(comp)
    if prepared is None or prepared.source != "offline":
        _begin(f"[demo] {comp.name} ({which}): preparing its offline data ...", verbose)
        t1 = time.monotonic()
        log = (lambda m: err(f"[demo]   {m}")) if verbose else (lambda m: None)
        prepared = data.fetch_and_prepare(comp, "offline", log=log)
        _end(f"done in {time.monotonic() - t1:.1f} s", verbose)
    failed = 0
    for i, s in enumerate(steps, 1):
        path = s.path
        _begin(f"[demo] {comp.name} {which}, baseline {i}/{len(steps)} {path.name}:", verbose)
        done = submissions.done_before(
            comp.name, prepared.fingerprint, file_sha256(path), path.stem
        )
        if done:
            progress.skip(s.seconds)
            _end(f"already on the board (submission {done}); {progress.tail()}", verbose)
            continue
        t1 = time.monotonic()
        row = pipeline.submit(
            comp.name,
            path,
            path.stem,
            "course baseline",
            # as the group's server runs them: the competition READMEs' figures on any machine
            limits=pipeline.Limits(portable=True),
            is_baseline=True,
            on_output=echo(True) if verbose else None,
            log=err,
        )
        took = time.monotonic() - t1
        progress.ran(s.seconds, took)
        if row["status"] == "scored":
            what = f"public {row['metric']} {row['public_score']:.5f} in {took:.1f} s"
            _end(f"{what} (submission {row['id']}); {progress.tail()}", verbose)
        else:
            failed += 1
            _end(f"{row['status']}: {row['error']} (submission {row['id']})", verbose)
    return failed


def _begin(text: str, verbose: bool) -> None:
    """The first half of a run's line, shown while it runs (a line of its own when the
    run's log follows it)."""
    print(clean(text), end="\n" if verbose else " ", file=sys.stderr, flush=True)


def _end(text: str, verbose: bool) -> None:
    err(f"[demo]   {text}" if verbose else text)


def cmd_demo(args) -> int:
    return run(
        args.competitions,
        verbose=args.verbose,
        everything=args.all,
        serve=not args.no_serve,
        port=args.port,
    )


def add_parser(sub) -> None:
    """`harness demo`, on the command line's subparsers."""
    s = sub.add_parser(
        "demo", help="serve the board, fetch offline data, run the baselines onto it"
    )
    s.add_argument("competitions", nargs="*", help="default: every competition with baselines")
    s.add_argument(
        "--all",
        action="store_true",
        help="every baseline (default: each competition's quick ones, submissions/*/demo.txt)",
    )
    s.add_argument(
        "--no-serve",
        action="store_true",
        help="no board: run the baselines, print the boards and end (scripts, CI)",
    )
    s.add_argument("--port", type=int, help=f"the board's port on {HOST} (default: a free one)")
    s.add_argument("--verbose", "-v", action="store_true", help="print every run's log too")
    s.set_defaults(fn=cmd_demo)
