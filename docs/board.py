"""Takes docs/board.png, the README's picture: a real board in headless Chromium.

    .venv/bin/python docs/board.py                  # a fresh home, filled by the demo
    .venv/bin/python docs/board.py --home DIR       # a home whose board is filled already

Without `--home` it runs `harness demo titanic --no-serve` in a temporary home (the four
Titanic baselines, about half a minute), then serves that home on a free port with
`harness serve`, opens the competition's board in Debian's Chromium (`/usr/bin/chromium`,
driven by playwright, as tests/leaderboard/test_browser.py does) and saves the page as a
palette PNG, small enough for the repository (under 200 KB).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.cli.demo_board import answers, free_port

DOCS = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
CHART = '[data-testid="stVegaLiteChart"]'


def harness(*args: str, home: Path, **kw) -> subprocess.Popen:
    env = {**os.environ, "HARNESS_HOME": str(home), "HARNESS_SECRET": "public"}
    return subprocess.Popen([sys.executable, "-m", "harness.cli", *args], env=env, **kw)


def shoot(base: str, competition: str, out: Path, width: int, height: int) -> None:
    """The board's page, its rows and both charts drawn, as one palette PNG."""
    from PIL import Image
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(f"{base}?competition={competition}")
        page.get_by_role("heading", name=competition, exact=True).wait_for(timeout=60_000)
        page.wait_for_selector(IDLE, timeout=60_000)
        page.wait_for_function(  # Vega mounts each chart lazily
            f"() => [...document.querySelectorAll('{CHART}')].every(c => c.querySelector("
            "'svg.marks')) && document.querySelectorAll('" + CHART + "').length >= 2"
        )
        page.wait_for_timeout(1000)  # the grid and the charts settle at their width
        raw = out.with_suffix(".raw.png")
        page.screenshot(path=raw)
        browser.close()
    # 256 colours are plenty for a page of text, tables and two charts: a tenth the bytes
    Image.open(raw).convert("RGB").quantize(colors=256).save(out, optimize=True)
    raw.unlink()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, help="a harness home whose board is filled already")
    ap.add_argument("--competition", default="titanic")
    ap.add_argument("--out", type=Path, default=DOCS / "board.png")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=860)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="board-") as tmp:
        home = args.home or Path(tmp) / "home"
        if args.home is None:
            demo = harness("demo", args.competition, "--no-serve", home=home)
            if demo.wait() != 0:
                print("board: the demo failed; see its output above", file=sys.stderr)
                return 1
        port = free_port()
        log = open(Path(tmp) / "serve.log", "w")
        serve = harness(
            "serve",
            "--port",
            str(port),
            home=home,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: nothing outlives the script
        )
        base = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + 90
            while not answers(port):
                if serve.poll() is not None or time.monotonic() > deadline:
                    print((Path(tmp) / "serve.log").read_text(), file=sys.stderr)
                    return 1
                time.sleep(0.3)
            shoot(base, args.competition, args.out, args.width, args.height)
        finally:
            if serve.poll() is None:
                os.killpg(serve.pid, signal.SIGTERM)
                serve.wait(timeout=30)
    print(f"{args.out}: {args.out.stat().st_size / 1000:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
