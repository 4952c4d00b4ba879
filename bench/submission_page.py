"""The dearest page the board can be asked for: one submission with everything at the
harness's caps, rendered by Streamlit as its member sees it (private parts shown).

    .venv/bin/python bench/submission_page.py [--artifacts N] [--artifact-mb MB]
        [--epochs N] [--repeat N]

In a fresh harness home one Titanic notebook submission is recorded with what the caps
let a run leave: the notebook as sent (`submission.CODE_LIMIT` of it is stored), its
executed copy at `notebook.SHOWN_CAP` (`MAX_CELLS` cells, each output at `TEXT_CAP`,
`MAX_IMAGES` images), `output.MAX_EPOCHS` epochs, the log at `runner.LOG_LIMIT`,
`output.MAX_WARNINGS` warnings, and artifacts at `artifacts.FILE_CAP` each, as many as
`runner.DISK_CAP` lets a run leave (at most `artifacts.MAX_ENTRIES`), PNG, CSV and JSON in
turn. `--artifacts` and `--artifact-mb` scale them down on a small machine.

The page runs in a child process (Streamlit's AppTest, the app's own script, signed in as
the member): the time of its script, the CPU seconds of the whole process (every thread)
and its peak resident memory over what the same process held after a small page. The
last line printed is every figure as one JSON object.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

MEMBER = "ann"
TIMED = """
import runpy, time
import streamlit as st
t0 = time.perf_counter()
runpy.run_path({app!r})
st.session_state["seconds"] = time.perf_counter() - t0
"""


def noise_png(nbytes: int) -> bytes:
    """A PNG of random pixels of about `nbytes` (noise does not compress)."""
    import numpy as np
    from PIL import Image

    side = max(8, int((0.98 * nbytes / 3) ** 0.5))  # a PNG's own bytes stay under
    pixels = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def table_csv(nbytes: int) -> bytes:
    """A numeric table of about `nbytes` as CSV."""
    import numpy as np
    import pandas as pd

    rows = max(1, nbytes // 90)  # 8 columns of ~10 characters
    values = np.random.default_rng(0).random((rows, 8)).round(8)
    return pd.DataFrame(values, columns=[f"c{i}" for i in range(8)]).to_csv(index=False).encode()


def curve_json(nbytes: int) -> bytes:
    """A list of floats of about `nbytes` as JSON (an lr_find curve, at length)."""
    import numpy as np

    n = max(1, nbytes // 22)  # ", 0.xxxxxxxxxxxxxxxxx"
    return json.dumps(np.random.default_rng(0).random(n).tolist()).encode()


def executed_notebook(cap: int) -> tuple[bytes, dict]:
    """A notebook at the board's caps: every cell with an output at TEXT_CAP, images
    up to MAX_IMAGES, the whole under `cap` bytes."""
    from harness.run import notebook

    text = ("x" * 99 + "\n") * (notebook.TEXT_CAP // 100)
    image = base64.b64encode(noise_png(300_000)).decode()
    cells, size, images = [], 200, 0
    for i in range(notebook.MAX_CELLS):
        outputs = [{"output_type": "stream", "name": "stdout", "text": text}]
        if images < notebook.MAX_IMAGES:
            outputs.append(
                {"output_type": "display_data", "data": {"image/png": image}, "metadata": {}}
            )
        cell = {
            "cell_type": "code",
            "execution_count": i + 1,
            "metadata": {},
            "source": f"print('cell {i}')\n" + "# a comment line of the cell\n" * 30,
            "outputs": outputs,
        }
        grown = len(json.dumps(cell)) + 2
        if size + grown > cap:
            break
        cells.append(cell)
        size += grown
        images += len(outputs) - 1
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb).encode(), {"cells": len(cells), "images": images}


def record(home: Path, n_artifacts: int, artifact_bytes: int, n_epochs: int) -> tuple[int, dict]:
    """The submission recorded at the caps; its id and what it holds."""
    from harness.competition import artifacts
    from harness.run import notebook, output, runner, submission
    from harness.store import members, submissions

    members.add(MEMBER)
    run_dir = home / "runs" / "bench-page"
    (run_dir / "out").mkdir(parents=True)
    (run_dir / "artifacts").mkdir()
    executed, shape = executed_notebook(notebook.SHOWN_CAP)
    (run_dir / "out" / notebook.EXECUTED).write_bytes(executed)
    makers = {"png": noise_png, "csv": table_csv, "json": curve_json}
    contents = {kind: make(artifact_bytes) for kind, make in makers.items()}
    listed = []
    for i in range(n_artifacts):
        kind = list(makers)[i % 3]
        name = f"diagnostic_{i:03d}.{kind}"
        path = run_dir / "artifacts" / name
        assert len(contents[kind]) <= artifacts.FILE_CAP, (kind, len(contents[kind]))
        path.write_bytes(contents[kind])
        title = f"Diagnostic {i}: " + "a long title " * 20
        listed.append({"name": name, "kind": kind, "title": title[: artifacts.MAX_TITLE]})
    (run_dir / "artifacts" / artifacts.INDEX).write_text(json.dumps(listed))
    listed = [{**a, "path": str(run_dir / "artifacts" / a["name"])} for a in listed]
    stored_nb = json.dumps(
        {"cells": [{"cell_type": "code", "source": "x = 1\n" * 10, "outputs": []}] * 5000}
    )[: submission.CODE_LIMIT]
    epochs = [
        {
            "fit": 1 + e // 1000,
            "epoch": e % 1000,
            "seconds": 0.5,
            "train_loss": 1 / (e + 1),
            "valid_loss": 1.1 / (e + 1),
            "accuracy": 0.6 + 0.3 * e / n_epochs,
        }
        for e in range(n_epochs)
    ]
    log_line = "[harness] epoch line of a long run, with some words in it ......\n"
    row = {
        "competition": "titanic",
        "competition_version": 1,
        "data_source": "offline",
        "data_fingerprint": "f" * 64,
        "user_name": MEMBER,
        "message": "m" * 1000,
        "kind": "code",
        "entry": "notebook",
        "filename": "notebook.ipynb",
        "content": stored_nb,
        "file_sha256": "0" * 64,
        "docstring": "A notebook at every cap. " * 40,
        "config": {f"key{i}": "v" * 100 for i in range(5000)},  # about RESULT_CAP
        "status": "scored",
        "metric": "accuracy",
        "higher_is_better": True,
        "public_score": 0.8,
        "private_score": 0.79,
        "seed": 42,
        "device": "cpu",
        "versions": {f"package{i}": "1.0.0" for i in range(300)},
        "wall_seconds": 123.0,
        "peak_memory_mb": 2048.0,
        "seconds": {"setup": 1.0, "train_predict": 120.0},
        "log": (log_line * (runner.LOG_LIMIT // len(log_line) + 1))[: runner.LOG_LIMIT],
        "run_dir": str(run_dir),
        "warnings": [f"warning {i}: " + "w" * 300 for i in range(output.MAX_WARNINGS)],
        "decisions": {
            f"role{k}": [f"column_{k}_{j}" for j in range(output.MAX_NAMES)]
            for k in range(output.MAX_DECISIONS)
        },
        "sandboxed": True,
    }
    sub_id = submissions.insert_submission(row, epochs, listed)
    disk = sum(p.stat().st_size for p in run_dir.rglob("*") if p.is_file())
    held = {
        "executed_notebook_bytes": len(executed),
        **{f"executed_{k}": v for k, v in shape.items()},
        "artifacts": n_artifacts,
        "artifact_bytes": artifact_bytes,
        "run_dir_bytes": disk,
        "epochs": n_epochs,
        "log_chars": len(row["log"]),
        "config_bytes": len(json.dumps(row["config"])),
    }
    return sub_id, held


def rss_mb() -> float:
    """This process's resident memory now, MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def render(sub_id: int, repeat: int) -> dict:
    """In this (child) process: a small page first (imports, the first open), then the
    submission's page `repeat` times."""
    from streamlit.testing.v1 import AppTest

    def page(which: int) -> tuple[float, float, float, int]:
        at = AppTest.from_string(TIMED.format(app=str(REPO / "leaderboard" / "app.py")))
        at.session_state["_member"] = MEMBER  # app.SIGNED_IN: the member's own page
        at.query_params["submission"] = str(which)
        c0, t0 = cpu_seconds(), time.perf_counter()
        at.run(timeout=600)
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        assert not at.exception, at.exception
        return at.session_state["seconds"], wall, cpu, len(at.exception) + len(at.warning)

    page(999_999_999)  # no such submission: the app's imports and its first store open
    page(999_999_999)
    before = rss_mb()
    runs = [page(sub_id) for _ in range(repeat)]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    best = min(runs)
    return {
        "script_s": round(best[0], 2),
        "run_s": round(best[1], 2),
        "cpu_s": round(best[2], 2),
        "warnings_shown": best[3],
        "rss_before_mb": round(before),
        "peak_rss_mb": round(peak),
        "peak_over_small_page_mb": round(peak - before),
        "repeat": repeat,
    }


def main() -> None:
    from harness.competition import artifacts
    from harness.run import output, runner

    at_cap = min(artifacts.MAX_ENTRIES, runner.DISK_CAP // artifacts.FILE_CAP - 1)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--artifacts", type=int, default=at_cap, help=f"default {at_cap}")
    ap.add_argument("--artifact-mb", type=float, default=artifacts.FILE_CAP / 2**20)
    ap.add_argument("--epochs", type=int, default=output.MAX_EPOCHS)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--render", type=int, help=argparse.SUPPRESS)  # the child's part
    args = ap.parse_args()
    if args.render is not None:
        print(json.dumps(render(args.render, args.repeat)))
        return

    home = Path(tempfile.mkdtemp(prefix="bench-page-"))
    os.environ["HARNESS_HOME"] = str(home)
    print(f"harness home {home} (removed at the end)")
    t0 = time.perf_counter()
    sub_id, held = record(home, args.artifacts, int(args.artifact_mb * 2**20), args.epochs)
    print(
        f"recorded submission {sub_id} in {time.perf_counter() - t0:.1f} s: "
        f"{held['artifacts']} artifacts of {args.artifact_mb:g} MiB, an executed notebook "
        f"of {held['executed_notebook_bytes'] / 2**20:.1f} MiB ({held['executed_cells']} "
        f"cells, {held['executed_images']} images), {held['epochs']:,} epochs, "
        f"a log of {held['log_chars']:,} characters; {held['run_dir_bytes'] / 2**20:,.0f} MiB "
        "in its run folder"
    )
    try:
        child = subprocess.run(
            [sys.executable, __file__, "--render", str(sub_id), "--repeat", str(args.repeat)],
            capture_output=True,
            text=True,
            env={**os.environ, "HARNESS_HOME": str(home)},
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)  # about 2 GiB at the caps
    if child.returncode != 0:
        raise SystemExit(f"the page failed:\n{child.stdout[-3000:]}\n{child.stderr[-3000:]}")
    page = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        f"the submission page as its member sees it, best of {args.repeat}: script "
        f"{page['script_s']:.2f} s, {page['cpu_s']:.1f} CPU s, peak memory {page['peak_rss_mb']:,} "
        f"MiB ({page['peak_over_small_page_mb']:,} MiB over a small page)"
    )
    print(json.dumps({"held": held, "page": page}))


if __name__ == "__main__":
    main()
