"""How fast the leaderboard renders with 100,000 stored submissions.

Generates N Titanic submissions (default 100,000, from 1,000 users; every nineteenth
failed, a third with five epochs each) straight into a fresh DuckDB store through SQL,
then prints the time of each query the leaderboard page runs, of the page's whole
Streamlit script (AppTest), and, where Debian's Chromium and playwright are installed,
of a real browser from navigation until the board's rows and both charts are drawn.

    .venv/bin/python bench/leaderboard_render.py [--submissions N] [--users N] [--repeat N]
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

FILL = """
INSERT INTO submissions (competition, competition_version, data_source, data_fingerprint,
    user_name, message, is_baseline, kind, entry, filename, content, file_sha256, docstring,
    config, status, error, metric, higher_is_better, public_score, private_score, seed,
    device, wall_seconds, seconds, created_at)
SELECT 'titanic', 1, 'offline', ?, 'user' || (i % ?), 'attempt ' || i, i % ? = 0, 'code',
    'train', 'model_' || (i % 40) || '.py', 'def train(dls): ...', md5(i::VARCHAR),
    'A generated submission.', json_object('arch', 'arch_' || (i % 12), 'lr', 0.01),
    CASE WHEN i % 19 = 0 THEN 'failed' ELSE 'scored' END,
    CASE WHEN i % 19 = 0 THEN 'RuntimeError: generated' END, 'accuracy', true,
    CASE WHEN i % 19 <> 0 THEN 0.6 + 0.25 * random() END,
    CASE WHEN i % 19 <> 0 THEN 0.6 + 0.25 * random() END, 42, 'cpu', 5 + 60 * random(),
    json_object('setup', 5.0, 'train_predict', 60 * random()),
    TIMESTAMP '2025-01-01' + to_minutes(i::BIGINT)
FROM range(1, ? + 1) t(i) ORDER BY i
"""
TIMED = """
import runpy, time
import streamlit as st
t0 = time.perf_counter()
runpy.run_path({app!r})
st.session_state["seconds"] = time.perf_counter() - t0
"""
EPOCHS = """
INSERT INTO epochs
SELECT id, 1, e, 0.5 + 10 * random(), 0.7 - 0.05 * e, 0.72 - 0.04 * e,
       json_object('accuracy', 0.6 + 0.04 * e)
FROM submissions, range(5) t(e) WHERE id % 3 = 0 AND status = 'scored'
"""


def best(fn, repeat: int) -> float:
    """The fastest of `repeat` calls, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def fill(n: int, users: int) -> None:
    from harness.store import db

    with db.connect() as con:
        t0 = time.perf_counter()
        con.execute(FILL, ["f" * 64, users, users * 7, n])
        con.execute(EPOCHS)
        rows = con.execute("SELECT count(*) FROM epochs").fetchone()[0]
        print(
            f"generated {n:,} submissions and {rows:,} epochs in {time.perf_counter() - t0:.1f} s"
        )


def queries(repeat: int) -> None:
    from harness.competition import registry
    from harness.store import db, leaderboards

    def open_store() -> None:
        with db.connect(read_only=True):
            pass

    comp = registry.get("titanic")
    print(f"query times, best of {repeat}:")
    print(f"  {'open the store read-only':42s} {best(open_store, repeat) * 1000:8.1f} ms")
    with leaderboards.reading():  # as a page runs them: one open, shared
        b = leaderboards.read_board(comp)
        top = [r["user"] for r in b.rows[:15]]
        for name, fn in [
            (f"board ({len(b.rows):,} users, reveal check)", lambda: leaderboards.read_board(comp)),
            ("best over time, top 15 users", lambda: leaderboards.best_over_time(b, top)),
            (
                f"score against time, {leaderboards.POINTS} points",
                lambda: leaderboards.score_vs_time(b),
            ),
            ("latest 20 submissions", lambda: leaderboards.latest("titanic")),
            ("activity of every competition", leaderboards.activity),
        ]:
            print(f"  {name:42s} {best(fn, repeat) * 1000:8.1f} ms")


def script(repeat: int) -> None:
    from streamlit.testing.v1 import AppTest

    sys.path.insert(0, str(REPO))  # the app imports leaderboard.charts

    def run() -> float:
        # timed inside the script: AppTest's own start-up (it scans installed packages
        # for components) is no part of a page
        at = AppTest.from_string(TIMED.format(app=str(REPO / "leaderboard" / "app.py")))
        at.query_params["competition"] = "titanic"
        at.run(timeout=60)
        assert not at.exception, at.exception
        return at.session_state["seconds"]

    run()  # imports and the first DuckDB open are not the page's cost
    took = min(run() for _ in range(repeat))
    print(f"  {'the leaderboard page script (Streamlit)':42s} {took * 1000:8.1f} ms")


def browser(repeat: int) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("  (no playwright: browser time not measured)")
        return
    if not CHROMIUM.exists():
        print(f"  (no {CHROMIUM}: browser time not measured)")
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "harness.cli", "serve", "--port", str(port)]
    server = subprocess.Popen(
        cmd, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as p:
            chrome = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
            page = chrome.new_page(viewport={"width": 1400, "height": 900})

            def rows() -> None:  # the board's rows (the grid's table for screen readers)
                page.wait_for_selector(
                    '[data-testid="stDataFrame"] table[role=grid] tbody tr',
                    state="attached",
                    timeout=60_000,
                )

            def drawn() -> None:  # the rows, and both charts' points
                rows()
                page.wait_for_function(
                    '() => document.querySelectorAll(\'[data-testid="stVegaLiteChart"] '
                    ".mark-symbol path').length >= 2",
                    timeout=60_000,
                )

            def load() -> tuple[float, float]:
                t0 = time.perf_counter()
                page.goto(url + "?competition=titanic")
                rows()
                t1 = time.perf_counter()
                drawn()
                return t1 - t0, time.perf_counter() - t0

            def switch() -> float:
                page.goto(url + "?competition=titanic")
                drawn()
                page.locator('[data-testid="stRadio"] label').filter(has_text="Overview").click()
                page.get_by_role("heading", name="Competitions").wait_for()
                page.wait_for_function(  # the overview's run is over: no stale chart is left
                    "() => !document.querySelector('[data-testid=\"stVegaLiteChart\"]')"
                    " && document.querySelector('[data-test-script-state=\"notRunning\"]')",
                    timeout=60_000,
                )
                t0 = time.perf_counter()
                page.locator('[data-testid="stRadio"] label').filter(has_text="Leaderboard").click()
                drawn()
                return time.perf_counter() - t0

            def bare() -> None:  # Streamlit's own page load: a page with one tiny query
                page.goto(url + "?submission=999999999")
                page.get_by_text("There is no submission 999999999.").wait_for(timeout=60_000)

            load()  # the server's first session imports the app
            baseline = best(bare, repeat)
            cold_rows, cold = min(load() for _ in range(repeat))
            warm = min(switch() for _ in range(repeat))
            chrome.close()
        print(f"  {'Chromium: open a page with no board':42s} {baseline * 1000:8.1f} ms")
        print(f"  {'Chromium: open the link, the rows drawn':42s} {cold_rows * 1000:8.1f} ms")
        print(f"  {'Chromium: open the link, the charts drawn too':42s} {cold * 1000:8.1f} ms")
        print(f"  {'Chromium: back to it from the Overview':42s} {warm * 1000:8.1f} ms")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--submissions", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=1_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    os.environ["HARNESS_HOME"] = tempfile.mkdtemp(prefix="bench-board-")
    print(f"harness home {os.environ['HARNESS_HOME']}")
    fill(args.submissions, args.users)
    queries(args.repeat)
    script(args.repeat)
    browser(args.repeat)


if __name__ == "__main__":
    main()
