"""How soon a newcomer sees the demo's board fill: `harness demo` with its board open in
Chromium, timed from the command.

    .venv/bin/python bench/demo_board.py [--prepared DATA] [--first-row-only] [NAME ...]

In a fresh harness home (the published data, `HARNESS_SECRET=public`) the demo starts as
a newcomer starts it; the moment its link is printed, Debian's Chromium opens the
overview (`/`) and the first competition's board. Figures, in seconds from the command:
the link printed, the first row on that board and the first leader on the overview
(each seen by the open page, which reruns by itself), every board with a leader on the
overview, and the demo's own "done". `--prepared` links a harness home's `data/`
folder in (the data prepared beforehand: no fetching); without it the demo prepares
the offline data itself. `--first-row-only` stops the demo (Ctrl-C) once the first row is
seen. The last line printed is every figure as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
BOARD_ROWS = "document.querySelector('.st-key-board table[role=grid] tbody')?.rows.length ?? 0"
# the overview's rows whose score cell holds a number: competitions with a leader
LEADERS = (
    "[...(document.querySelector('.st-key-overview table[role=grid] tbody')?.rows ?? [])]"
    ".filter(r => /^[0-9.]+$/.test(r.cells[r.cells.length - 2]?.textContent ?? '')).length"
)


def main() -> None:
    from playwright.sync_api import sync_playwright

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="the demo's competitions (default: all five)")
    p.add_argument("--prepared", type=Path, help="a data/ folder to link into the home")
    p.add_argument("--first-row-only", action="store_true")
    args = p.parse_args()
    home = Path(tempfile.mkdtemp(prefix="demo-bench-"))
    if args.prepared:
        (home / "data").symlink_to(args.prepared.resolve(), target_is_directory=True)
    env = {**os.environ, "HARNESS_HOME": str(home), "HARNESS_SECRET": "public"}
    log = home / "demo.out"
    t0 = time.monotonic()
    cmd = [sys.executable, "-m", "harness.cli", "demo", *args.names]
    with open(log, "w") as out:
        demo = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    figures: dict[str, float | None] = dict.fromkeys(
        ["link", "first_row", "first_leader", "all_leaders", "done"]
    )
    boards = len(args.names) or 5
    try:
        while not (m := re.search(r"\[demo\] the board: (\S+) \(open it", log.read_text())):
            if demo.poll() is not None:
                sys.exit(log.read_text())
            time.sleep(0.05)
        figures["link"] = time.monotonic() - t0
        url = m.group(1)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            overview = browser.new_page(viewport={"width": 1400, "height": 900})
            overview.goto(url)
            while not (first := re.search(r"\[demo\] (\w+) 1/", log.read_text())):
                time.sleep(0.05)
            board = browser.new_page(viewport={"width": 1400, "height": 900})
            board.goto(f"{url}?competition={first.group(1)}")
            while demo.poll() is None:
                now = time.monotonic() - t0
                if figures["first_row"] is None and board.evaluate(BOARD_ROWS) > 0:
                    figures["first_row"] = now
                leaders = overview.evaluate(LEADERS)
                if figures["first_leader"] is None and leaders > 0:
                    figures["first_leader"] = now
                if figures["all_leaders"] is None and leaders >= boards:
                    figures["all_leaders"] = now
                if figures["done"] is None and "[demo] done in" in log.read_text():
                    figures["done"] = now
                if args.first_row_only and figures["first_row"] and figures["first_leader"]:
                    break
                if figures["all_leaders"] and figures["done"]:
                    break
                board.wait_for_timeout(200)
            browser.close()
    finally:
        demo.send_signal(signal.SIGTERM)  # as Ctrl-C (a background job ignores SIGINT)
        demo.wait(timeout=60)
        print(log.read_text())
        print(json.dumps({k: None if v is None else round(v, 1) for k, v in figures.items()}))


if __name__ == "__main__":
    main()
