"""The leaderboard in a real browser: `harness serve` and Debian's Chromium, headless.

Set-up installs Chromium with apt-get when it is missing (CI runs as root); never a
downloaded browser. Screenshots land in a tmp folder; their paths are printed (`-s`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cli.demo_board import answers, free_port
from tests.leaderboard.conftest import HOSTILE, done, harness

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
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
CHART = '[data-testid="stVegaLiteChart"]'
UPLOADED = (  # the file box shows the file, its upload done (no spinner) and not refused
    "name => [...document.querySelectorAll('[data-testid=stFileChip]')].some(c => "
    "c.querySelector('[data-testid=stFileChipName]')?.title === name && "
    "!c.querySelector('[data-testid=stFileChipIconSpinner], [data-testid=stFileChipIconError]'))"
)


@pytest.fixture(scope="module")
def chromium() -> Path:
    """Debian's Chromium, installed with apt-get when missing."""
    if not CHROMIUM.exists():
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            pytest.skip("no /usr/bin/chromium; as root: apt-get install -y chromium")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
            subprocess.run(cmd, check=True, capture_output=True, env=env, timeout=900)
    return CHROMIUM


@pytest.fixture(scope="module")
def server(board_home, tmp_path_factory):
    """`harness serve` on a free port; a SIGTERM to it must stop the server as well."""
    port, log = free_port(), tmp_path_factory.mktemp("serve") / "serve.log"
    cmd = [sys.executable, "-m", "harness.cli", "serve", "--port", str(port)]
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "HARNESS_HOME": str(board_home)},
            start_new_session=True,  # its own process group, so nothing outlives the test
        )
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while not answers(port):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield base
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) is not None
        assert not answers(port), "the Streamlit server outlived `harness serve`"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def idle(page, text: str) -> None:
    """Waits until the app has run and shows `text` in a heading."""
    page.get_by_role("heading", name=text, exact=True).wait_for(timeout=30_000)
    page.wait_for_selector(IDLE, timeout=30_000)


def grid(page, n: int = 0) -> list[list[str]]:
    """The cells of the n-th dataframe (the grid paints a canvas; its table is for a11y)."""
    table = page.locator('[data-testid="stDataFrame"]').nth(n).locator("table[role=grid] tbody")
    return table.evaluate(
        "b => [...b.rows].map(r => [...r.cells].map(c => c.textContent))", timeout=10_000
    )


def drawn(page, charts: int) -> list[int]:
    """Waits for `charts` charts drawn by Vega (each mounts lazily); their line and point marks."""
    page.wait_for_function(
        f"n => {{ const cs = [...document.querySelectorAll('{CHART}')];"
        " return cs.length === n && cs.every(c => c.querySelector('svg.marks')) }",
        arg=charts,
    )
    return page.locator(CHART).evaluate_all(
        "cs => cs.map(c => c.querySelectorAll('.mark-line path, .mark-symbol path').length)"
    )


def pick(page, n: int, row: int) -> None:
    """Clicks a row's selection box in the n-th dataframe, as a member picks it."""
    box = page.locator('[data-testid="stDataFrame"]').nth(n).bounding_box()
    header = row_height = 35  # Streamlit's grid: a 35 px header, 35 px rows
    page.mouse.click(box["x"] + 16, box["y"] + header + row_height * row + row_height / 2)


def sign_in(page, server: str, token: str, lands: str = "Competitions") -> None:
    """The board's login form, as a member fills it in; back on the board, signed in."""
    page.goto(server + "login")
    page.get_by_label("Your token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    idle(page, lands)
    assert token not in page.evaluate("location.href")
    assert "harness_session" not in page.evaluate("document.cookie")  # httpOnly: no script


def shot(page, path: Path) -> Path:
    """A screenshot of the whole page (Streamlit scrolls inside its main block)."""
    height = page.evaluate("document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": max(900, height)})
    page.wait_for_timeout(500)  # charts follow the new width
    page.screenshot(path=path)
    page.set_viewport_size({"width": 1400, "height": 900})
    print(f"screenshot: {path}")
    return path


def test_pages_render_in_chromium(server, chromium, board_home, ids, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    board = json.loads(done(harness(board_home, "leaderboard", "titanic", "--json")))
    token = done(harness(board_home, "member", "add", "oz", "--organiser", "--json"))["token"]
    sub = ids["bob_fastai"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        dialogs, errors = [], []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda e: errors.append(str(e)))

        # an anonymous visitor: bob's score and figures, not his code; then a sign-in
        page.goto(server + f"?submission={sub}")
        idle(page, f"Submission {sub}")
        page.get_by_text(f"submission {sub} is bob's: its code, log and diagnostics").wait_for()
        assert page.locator('[data-testid="stCode"]').count() == 0
        assert "tabular_learner" not in page.locator('[data-testid="stMain"]').inner_text()
        sign_in(page, server, token)
        page.get_by_text("Signed in as oz (organiser)").wait_for()

        page.goto(server + "?competition=titanic")
        idle(page, "titanic")
        rows = grid(page)
        assert [r[:2] for r in rows] == [[str(r["rank"]), r["user"]] for r in board]
        assert HOSTILE in [r[1] for r in rows]  # as text: no alert below
        assert all(drawn(page, 2))  # best over time, score against time
        shot(page, tmp_path / "leaderboard.png")

        # the sidebar: type an id, pick the view; the URL follows, to be shared
        number = page.locator('[data-testid="stNumberInput"] input').first
        number.fill(str(sub))
        number.press("Enter")
        page.wait_for_selector(IDLE)
        page.locator('[data-testid="stRadio"] label').filter(has_text="Submission").click()
        idle(page, f"Submission {sub}")
        assert page.evaluate("location.search") == f"?submission={sub}"
        assert "tabular_learner(dls" in page.locator('[data-testid="stCode"]').first.inner_text()
        assert all(drawn(page, 2))  # losses and metrics per epoch
        image = page.locator('[data-testid="stImage"] img').first
        image.wait_for()
        assert image.evaluate("i => i.complete && i.naturalWidth") > 100  # the confusion matrix
        shot(page, tmp_path / "submission.png")

        page.goto(server + f"?compare={sub}&with={ids['ann_women']}")
        idle(page, "Compare")
        assert all(drawn(page, 1))  # both runs' curves on one chart
        page.get_by_role("heading", name="Predictions, public rows").wait_for()
        assert page.get_by_text("public rows changed their prediction").count() == 1
        shot(page, tmp_path / "compare.png")

        page.goto(server)
        idle(page, "Competitions")
        names = [r[0] for r in grid(page)]
        assert "titanic" in names
        shot(page, tmp_path / "overview.png")
        # picking rows: the overview's titanic row, then the board's leader
        pick(page, 0, names.index("titanic"))
        idle(page, "titanic")
        pick(page, 0, 0)
        idle(page, f"Submission {board[0]['submission_id']}")
        assert page.evaluate("location.search") == f"?submission={board[0]['submission_id']}"
        browser.close()
    assert not dialogs and not errors


def test_the_private_board_and_its_shake_up_in_chromium(server, chromium, board_home, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    done(harness(board_home, "reveal", "titanic"))
    try:
        private = json.loads(
            done(harness(board_home, "leaderboard", "titanic", "--private", "--json"))
        )
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 3000})  # every chart shown
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server + "?competition=titanic")
            idle(page, "titanic")
            page.get_by_role("heading", name="Private leaderboard").wait_for()
            marks = drawn(page, 4)  # best over time, score against time, shake-up, scores
            # the shake-up: a line and two points per member; the scores: three points each
            assert marks[2] >= 3 * len(private) and marks[3] >= 4 * len(private)
            rows = grid(page, 1)
            assert [r[1] for r in rows] == [r["user"] for r in private]
            shot(page, tmp_path / "private.png")
            browser.close()
    finally:
        done(harness(board_home, "reveal", "titanic", "--hide"))
    assert not errors


def test_a_member_submits_in_chromium_and_sees_the_run_scored(
    server, chromium, board_home, tmp_path
):
    """Last in this file: its submission joins the board the other tests read."""
    sync_api = pytest.importorskip("playwright.sync_api")
    token = done(harness(board_home, "member", "add", "eve", "--json"))["token"]
    sample = board_home / "data" / "titanic" / "current" / "files" / "sample_submission.csv"
    csv = tmp_path / "nobody.csv"
    csv.write_bytes(sample.read_bytes())  # every Survived is 0
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(page, server, token)
        page.locator('[data-testid="stRadio"] label').filter(has_text="Submit").click()
        idle(page, "Submit")
        assert page.evaluate("location.search") == "?view=submit"
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Submit to").click()
        page.get_by_role("option", name="titanic", exact=True).click()
        page.locator('[data-testid="stFileUploader"] input[type=file]').set_input_files(csv)
        page.wait_for_function(UPLOADED, arg="nobody.csv")
        page.get_by_label("Message").fill("nobody survives, from the browser")
        page.get_by_role("button", name="Submit", exact=True).click()
        scored = page.get_by_text(re.compile(r"^#\d+ scored: public accuracy "))
        scored.wait_for(timeout=60_000)
        sub = int(re.match(r"#(\d+)", scored.inner_text()).group(1))
        assert token not in page.evaluate("location.href")
        shot(page, tmp_path / "submit.png")
        page.get_by_role("button", name=f"Open submission {sub}").click()
        page.get_by_role("heading", name="Submit", exact=True).wait_for(state="detached")
        idle(page, f"Submission {sub}")
        assert page.evaluate("location.search") == f"?submission={sub}"
        browser.close()
    assert not errors
    shown = done(harness(board_home, "show", str(sub), "--json"))
    assert (shown["status"], shown["user"], shown["filename"]) == ("scored", "eve", "nobody.csv")
    assert shown["message"] == "nobody survives, from the browser"


def test_a_notebook_from_the_submit_page_shows_cell_by_cell(server, chromium, board_home, tmp_path):
    """A course notebook uploaded in the browser with its answer named; its page shows the
    executed cells: code, printed text and the plot, as text and an image."""
    from tests.run.test_notebooks import WOMEN, make

    sync_api = pytest.importorskip("playwright.sync_api")
    token = done(harness(board_home, "member", "add", "fay", "--json"))["token"]
    nb = make(
        tmp_path / "course.ipynb",
        "import pandas as pd, matplotlib.pyplot as plt\n"
        "df = pd.read_csv('../input/titanic/train.csv')\ntst = pd.read_csv('../input/titanic/test.csv')\n"
        "df.Age.hist(); plt.show()\nprint('passengers:', len(df))",
        "tst.assign(Survived=0)[['PassengerId', 'Survived']].to_csv('all_die.csv', index=False)",
        WOMEN.format(name="women.csv"),
        title="# <b>Women</b> first, from a notebook",
    )
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(page, server, token)
        page.goto(server + "?view=submit")
        idle(page, "Submit")
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Submit to").click()
        page.get_by_role("option", name="titanic", exact=True).click()
        page.locator('[data-testid="stFileUploader"] input[type=file]').set_input_files(nb)
        page.wait_for_function(UPLOADED, arg="course.ipynb")
        page.get_by_role("textbox", name="Answer CSV (notebooks and scripts)").fill("women.csv")
        page.get_by_role("button", name="Submit", exact=True).click()
        scored = page.get_by_text(re.compile(r"^#\d+ scored: public accuracy "))
        scored.wait_for(timeout=90_000)
        sub = int(re.match(r"#(\d+)", scored.inner_text()).group(1))
        page.goto(server + f"?submission={sub}")
        idle(page, f"Submission {sub}")
        page.get_by_role("heading", name="Notebook", exact=True).wait_for()
        page.wait_for_selector(IDLE)
        page.locator('[data-testid="stCode"]', has_text="df.Age.hist()").first.wait_for()
        assert page.locator('[data-testid="stText"]', has_text="passengers: 891").count() == 1
        # the plot the cell drew, as an image; the title as text, its HTML not rendered
        images = page.locator('[data-testid="stImage"] img')
        images.first.wait_for()
        assert images.first.evaluate("i => i.complete && i.naturalWidth") > 100
        assert page.get_by_text("# <b>Women</b> first, from a notebook").count() >= 1
        assert page.locator("b", has_text="Women").count() == 0
        shot(page, tmp_path / "notebook.png")
        browser.close()
    assert not errors
    shown = done(harness(board_home, "show", str(sub), "--json"))
    assert (shown["entry"], shown["output"], shown["user"]) == ("notebook", "women.csv", "fay")


def test_the_demo_board_shows_the_first_row_while_later_baselines_run(ready, chromium, tmp_path):
    """`harness demo titanic`, the board open in Chromium: a baseline's row lands on the
    open page by itself (no click, no reload) while the demo still trains the next ones;
    a Ctrl-C then stops the demo and its server."""
    sync_api = pytest.importorskip("playwright.sync_api")
    psutil = pytest.importorskip("psutil")
    port, log = free_port(), tmp_path / "demo.log"
    cmd = [sys.executable, "-m", "harness.cli", "demo", "titanic", "--port", str(port)]
    with open(log, "w") as out:
        demo = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "HARNESS_HOME": str(ready)},
            start_new_session=True,  # a Ctrl-C for it alone; nothing outlives the test
            # SIGINT as at a terminal (a background job starts its children ignoring it)
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    base = f"http://127.0.0.1:{port}/"
    # the board's own table (its key, "board"): rows as the grid's a11y table holds them
    rows = "document.querySelector('.st-key-board table[role=grid] tbody')?.rows.length ?? 0"
    try:
        deadline = time.monotonic() + 120
        while f"[demo] the board: {base} (open it" not in log.read_text():
            assert demo.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert log.read_text().startswith(f"[demo] the board: {base}")  # the first line
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(base + "?competition=titanic")
            idle(page, "titanic")
            before = page.evaluate(rows)  # 0, or 1 where the first baseline was quicker
            page.wait_for_function(f"({rows}) > {before}", timeout=60_000)  # rerun by itself
            said = log.read_text()
            assert demo.poll() is None and "[demo] done" not in said, said
            assert "gender_rule" in [r[1] for r in grid(page)]
            browser.close()
        demo.send_signal(signal.SIGINT)  # Ctrl-C, in the middle of a run
        assert demo.wait(timeout=60) == 130, log.read_text()
        assert not answers(port), "the demo's server outlived the demo"
        assert not [
            p.pid
            for p in psutil.process_iter(["cmdline"])
            if str(port) in (p.info["cmdline"] or [])
        ]
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
