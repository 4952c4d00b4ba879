"""The group's server under load: uploads accepted per second from many clients at once,
how fast its queue scores them, and the leaderboard API's latency over a full store.

    .venv/bin/python bench/server.py [--clients 50] [--uploads-per-client 10]
        [--rows 100000] [--users 500] [--requests 200] [--readers 8]

In a fresh harness home (offline Titanic, prepared; HARNESS_CACHE defaults to
~/.cache/harness-tests), `--rows` scored Titanic submissions from `--users` users are
bulk-inserted into the DuckDB store, one member is added per client, and a real
`harness serve --workers 1` starts on a free port of 127.0.0.1. Then:

Every call is signed in (a member's token, checked as the server checks every call), so
the figures are with the login and the privacy checks in place:

1. the leaderboard: `--requests` sequential GETs of /api/competitions/titanic/leaderboard,
   then as many again shared by `--readers` concurrent readers (p50/p95/max, ms); then,
   with the same readers, someone else's stored submission: its status (the private
   fields blanked) and its record (refused, 403);
2. uploads: each of `--clients` threads POSTs `--uploads-per-client` small CSVs (the
   sample submission, one prediction changed so each file differs) as fast as it can;
   every answer must be 202 with its own id. Figures: uploads/s over the wall time from
   the first request to the last answer, and each upload's accept latency;
3. the queue: polling GET /api/submissions/{id} until none is queued or running (or
   `--drain-timeout`), how long the one worker took to score them all (runs/s).

The server is stopped through its process group (SIGTERM, then SIGKILL). Issue 24's
goals (GOALS: uploads/s, the board's p95 with 8 readers) are said met or not. The last
line printed is every figure as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.cli.demo_board import free_port

COMPETITION = "titanic"
FILL = """
INSERT INTO submissions (competition, competition_version, data_source, data_fingerprint,
    user_name, message, is_baseline, kind, filename, file_sha256, status, metric,
    higher_is_better, public_score, private_score, seed, wall_seconds, created_at)
SELECT ?, ?, ?, ?, 'user' || lpad((i % ?)::VARCHAR, 4, '0'), 'attempt ' || i, false, 'csv',
    'submission.csv', md5(i::VARCHAR), 'scored', ?, ?, 0.6 + 0.25 * random(),
    0.6 + 0.25 * random(), 42, 0.05, TIMESTAMP '2025-01-01' + to_minutes(i::BIGINT)
FROM range(1, ? + 1) t(i) ORDER BY i
"""
DONE = ("scored", "failed", "rejected")
EXCEPTION = re.compile(r"^[\w.]*(Error|Exception|Conflict)\b.*:")
FRAME = re.compile(r'\s*File ".*/(harness/[\w/]+\.py)", line (\d+)')
WORRIES = ("cannot", "could not", "lock", "failed")
# issue 24's: with 100,000 stored submissions, 8 readers and every call signed in
GOALS = {"uploads_per_s": 50, "board_p95_ms": 200}


def together(threads: list[threading.Thread], go) -> tuple[float, float]:
    """Starts the threads, which wait on `go`; (when they were let go, when all ended)."""
    for t in threads:
        t.start()
    go.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return t0, time.perf_counter()


def ms(seconds: list[float]) -> dict:
    """p50, p95 and max of latencies, in milliseconds."""
    if not seconds:
        return {"p50_ms": None, "p95_ms": None, "max_ms": None}
    s = sorted(seconds)
    p95 = s[min(len(s) - 1, max(0, round(0.95 * len(s)) - 1))]
    return {
        "p50_ms": round(statistics.median(s) * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "max_ms": round(s[-1] * 1000, 1),
    }


# --- the harness home ---------------------------------------------------------------------


def prepare(home: Path, rows: int, users: int, clients: int) -> tuple[bytes, dict[str, str]]:
    """Titanic prepared, `rows` scored submissions and one member per client; returns the
    sample submission and each member's token. Every connection is closed on return."""
    env = {**os.environ, "HARNESS_HOME": str(home)}
    subprocess.run(
        [sys.executable, "-m", "harness.cli", "data", "fetch", COMPETITION],
        env=env,
        check=True,
        capture_output=True,
    )
    from harness.competition import data, registry
    from harness.store import db, members

    comp = registry.get(COMPETITION)
    prepared = data.current(comp)
    sample = (prepared.files / "sample_submission.csv").read_bytes()
    if rows:
        t0 = time.perf_counter()
        with db.connect() as con:
            con.execute(
                FILL,
                [
                    comp.name,
                    comp.spec.version,
                    prepared.source,
                    prepared.fingerprint,
                    users,
                    comp.spec.metric,
                    comp.metric.higher_is_better,
                    rows,
                ],
            )
            stored = con.execute("SELECT count(*) FROM submissions").fetchone()[0]
        print(f"stored {stored:,} scored submissions in {time.perf_counter() - t0:.1f} s")
    tokens = {f"client{i:02d}": members.add(f"client{i:02d}") for i in range(clients)}
    return sample, tokens


def variant(sample: bytes, k: int) -> bytes:
    """The sample submission with row k's prediction flipped: every upload differs."""
    lines = sample.decode().splitlines()
    body = lines[1:]
    j = k % len(body)
    pid, survived = body[j].split(",")
    body[j] = f"{pid},{1 - int(survived)}"
    return ("\n".join([lines[0], *body]) + "\n").encode()


# --- the server ---------------------------------------------------------------------------


def start(home: Path, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "HARNESS_HOME": str(home)}
    cmd = [sys.executable, "-m", "harness.cli", "serve", "--port", str(port), "--workers", "1"]
    out = log.open("wb")
    server = subprocess.Popen(
        cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    out.close()
    url = f"http://127.0.0.1:{port}/api/health"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"harness serve exited ({server.returncode}):\n{log.read_text()}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.2)
    stop(server)
    raise SystemExit(f"harness serve did not answer {url} within 180 s")


def stop(server: subprocess.Popen, timeout: float = 20) -> str:
    """SIGTERM to the server's process group, SIGKILL after `timeout`; says which ended it."""
    if server.poll() is not None:
        return f"had exited ({server.returncode})"
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout)
        return "SIGTERM"
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        return "SIGKILL"


# --- the measurements ---------------------------------------------------------------------


def board(base: str, token: str, n: int, readers: int, expect: int) -> dict:
    """Sequential GETs of the leaderboard, then as many shared by concurrent readers."""
    url = f"{base}/api/competitions/{COMPETITION}/leaderboard"
    headers = {"Authorization": f"Bearer {token}"}
    errors: list[str] = []

    def get(session: requests.Session) -> float:
        t0 = time.perf_counter()
        r = session.get(url, headers=headers, timeout=120)
        took = time.perf_counter() - t0
        if r.status_code != 200:
            errors.append(f"{r.status_code} {r.text[:200]}")
        elif len(r.json()) != expect:
            errors.append(f"{len(r.json())} rows, expected {expect}")
        return took

    with requests.Session() as s:
        first = get(s)  # the first read of the store after start is not a typical one
        r = s.get(url, headers=headers, timeout=120)
        size = len(r.content)
        rows = len(r.json()) if r.status_code == 200 else None
        t0 = time.perf_counter()
        seq = [get(s) for _ in range(n)]
        seq_wall = time.perf_counter() - t0

    conc: list[float] = []
    lock = threading.Lock()
    each = [n // readers + (i < n % readers) for i in range(readers)]
    go = threading.Barrier(readers + 1)

    def reader(k: int) -> None:
        with requests.Session() as s:
            go.wait()
            mine = [get(s) for _ in range(k)]
        with lock:
            conc.extend(mine)

    t0, t1 = together([threading.Thread(target=reader, args=(k,)) for k in each], go)
    conc_wall = t1 - t0
    return {
        "rows": rows,
        "bytes": size,
        "first_ms": round(first * 1000, 1),
        "sequential": {"requests": n, **ms(seq), "per_s": round(n / seq_wall, 1)},
        "concurrent": {
            "readers": readers,
            "requests": len(conc),
            **ms(conc),
            "per_s": round(len(conc) / conc_wall, 1),
        },
        "errors": len(errors),
        "error_sample": errors[:3],
    }


def private(base: str, token: str, n: int, readers: int) -> dict:
    """The privacy check under load: a stored submission of someone else's, as the token's
    member may see it (its status, private fields blanked; its record refused, 403), by
    `readers` at once."""
    headers = {"Authorization": f"Bearer {token}"}
    paths = {"/api/submissions/1": 200, "/api/submissions/1/record": 403}
    took: dict[str, list[float]] = {p: [] for p in paths}
    errors: list[str] = []
    lock = threading.Lock()
    go = threading.Barrier(readers + 1)

    def reader(k: int) -> None:
        mine = []
        with requests.Session() as s:
            go.wait()
            for i in range(k):
                path = list(paths)[i % 2]
                t0 = time.perf_counter()
                r = s.get(base + path, headers=headers, timeout=120)
                mine.append((path, time.perf_counter() - t0))
                shown = r.status_code != 200 or (
                    r.json().get("private") and not r.json()["filename"]
                )
                if r.status_code != paths[path] or not shown:
                    errors.append(f"{path}: {r.status_code} {r.text[:160]}")
        with lock:
            for path, t in mine:
                took[path].append(t)

    each = [n // readers + (i < n % readers) for i in range(readers)]
    t0, t1 = together([threading.Thread(target=reader, args=(k,)) for k in each], go)
    return {
        "readers": readers,
        "status": {"requests": len(took["/api/submissions/1"]), **ms(took["/api/submissions/1"])},
        "record_403": {
            "requests": len(took["/api/submissions/1/record"]),
            **ms(took["/api/submissions/1/record"]),
        },
        "per_s": round(n / (t1 - t0), 1),
        "errors": len(errors),
        "error_sample": errors[:3],
    }


def upload(base: str, tokens: dict[str, str], per_client: int, sample: bytes) -> dict:
    """Every client POSTs its uploads back to back; all start together."""
    url = f"{base}/api/competitions/{COMPETITION}/submissions"
    results: list[tuple[float, float, int, int | None, str]] = []  # start, took, code, id, why
    lock = threading.Lock()
    go = threading.Barrier(len(tokens) + 1)

    def client(c: int, token: str) -> None:
        mine = []
        headers = {"Authorization": f"Bearer {token}"}
        files = [variant(sample, c * per_client + i) for i in range(per_client)]
        s = requests.Session()
        go.wait()
        try:
            for i, content in enumerate(files):
                t0 = time.perf_counter()
                try:
                    r = s.post(
                        url,
                        headers=headers,
                        files={"file": ("submission.csv", content, "text/csv")},
                        data={"message": f"bench client {c} upload {i}"},
                        timeout=300,
                    )
                    took = time.perf_counter() - t0
                    body = r.json() if r.headers.get("content-type", "").startswith("app") else {}
                    ok = r.status_code == 202 and body.get("status") == "queued"
                    why = "" if ok else f"{r.status_code} {r.text[:200]}"
                    mine.append((t0, took, r.status_code, body.get("id"), why))
                except requests.RequestException as e:
                    why = f"{type(e).__name__}: {e}"[:200]
                    mine.append((t0, time.perf_counter() - t0, 0, None, why))
                if why:  # the server may close the connection after an error: a fresh one
                    s.close()
                    s = requests.Session()
        finally:
            s.close()
        with lock:
            results.extend(mine)

    threads = [
        threading.Thread(target=client, args=(c, tok)) for c, tok in enumerate(tokens.values())
    ]
    t0, end = together(threads, go)
    ids = [r[3] for r in results if r[2] == 202 and r[3] is not None]
    bad = Counter(r[4][:80] for r in results if r[4])
    return {
        "clients": len(tokens),
        "uploads": len(results),
        "accepted_202": len(ids),
        "distinct_ids": len(set(ids)),
        "all_202_distinct": len(ids) == len(results) == len(set(ids)),
        "wall_s": round(end - t0, 2),
        "answered_per_s": round(len(results) / (end - t0), 1),
        "accepted_per_s": round(len(ids) / (end - t0), 1),
        **ms([r[1] for r in results if r[2] == 202]),  # accepted ones only
        "all_answers": ms([r[1] for r in results]),
        "errors": sum(bad.values()),
        "error_kinds": dict(bad.most_common(5)),
        "_ids": ids,
        "_t0": t0,
        "_end": end,
    }


def drain(base: str, token: str, ids: list[int], t0: float, uploaded: float, limit: float):
    """Waits until no uploaded id is queued or running; one poller, so the checks cost the
    server little: each pending id is asked about until it is done, 0.25 s apart."""
    headers = {"Authorization": f"Bearer {token}"}
    pending = sorted(ids)
    outcome: dict[str, int] = {}
    deadline = time.perf_counter() + limit
    polls = 0
    with requests.Session() as s:
        while pending and time.perf_counter() < deadline:
            sub_id = pending[-1]  # the last accepted runs last (or near it)
            r = s.get(f"{base}/api/submissions/{sub_id}", headers=headers, timeout=120)
            polls += 1
            found = r.json().get("status") if r.status_code == 200 else f"HTTP {r.status_code}"
            if found in DONE or found.startswith("HTTP"):
                outcome[found] = outcome.get(found, 0) + 1
                pending.pop()
            else:
                time.sleep(0.25)
    end = time.perf_counter()
    done = len(ids) - len(pending)
    return {
        "drained": not pending,
        "left": len(pending),
        "outcome": outcome,
        "seconds_from_first_upload": round(end - t0, 1),
        "seconds_after_last_accept": round(end - uploaded, 1),
        "runs_per_s": round(done / (end - t0), 2),
        "polls": polls,
    }


def exceptions(log: str) -> Counter:
    """The server's tracebacks by their last line and the harness frame they came from."""
    found: Counter = Counter()
    where = ""
    for line in log.splitlines():
        if m := FRAME.match(line):
            where = f"{m[1]}:{m[2]}"
        elif EXCEPTION.match(line):
            found[f"{line[:100]} ({where or '?'})"] += 1
            where = ""
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--uploads-per-client", type=int, default=10)
    ap.add_argument("--rows", type=int, default=100_000, help="stored scored submissions")
    ap.add_argument("--users", type=int, default=500, help="the stored submissions' users")
    ap.add_argument("--requests", type=int, default=200, help="leaderboard GETs, per mode")
    ap.add_argument("--readers", type=int, default=8, help="concurrent leaderboard readers")
    ap.add_argument("--drain-timeout", type=float, default=900, help="seconds")
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-server-"))
    os.environ["HARNESS_HOME"] = str(home)
    os.environ.setdefault("HARNESS_CACHE", str(Path.home() / ".cache" / "harness-tests"))
    print(f"harness home {home}")
    sample, tokens = prepare(home, args.rows, args.users, args.clients)
    from harness.store import rules

    # each client's uploads are all queued at once: the rules' queue cap must hold them
    rules.change(COMPETITION, max_queued=max(rules.DEFAULT_MAX_QUEUED, args.uploads_per_client))
    token = next(iter(tokens.values()))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = home / "serve.log"
    t0 = time.perf_counter()
    server = start(home, port, log)
    started = time.perf_counter() - t0
    print(f"harness serve --workers 1 answering on {base} after {started:.1f} s")
    try:
        lb = board(base, token, args.requests, args.readers, min(args.users, args.rows))
        seen = private(base, token, args.requests, args.readers) if args.rows else None
        up = upload(base, tokens, args.uploads_per_client, sample)
        q = drain(base, token, up.pop("_ids"), up.pop("_t0"), up.pop("_end"), args.drain_timeout)
    finally:
        how = stop(server)
    text = log.read_text(errors="replace")
    # the server's exceptions by kind (a traceback's last line), and its complaints
    raised = exceptions(text)
    said = Counter(
        line.split(":", 2)[-1].strip()[:80]
        for line in text.splitlines()
        if line.startswith("harness serve:") and any(w in line for w in WORRIES)
    )

    seq, conc = lb["sequential"], lb["concurrent"]
    print()
    print(
        f"leaderboard API, {args.rows:,} stored submissions, {lb['rows']} rows, {lb['bytes']:,} B"
    )
    print(f"  {'':28s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s} {'req/s':>8s}")
    for name, m in (("sequential", seq), (f"{args.readers} concurrent readers", conc)):
        print(
            f"  {name:28s} {m['p50_ms']:8.1f} {m['p95_ms']:8.1f} {m['max_ms']:8.1f} {m['per_s']:8.1f}"
        )
    print(f"  (first request after start {lb['first_ms']:.0f} ms; errors {lb['errors']})")
    if seen:
        print(
            f"someone else's submission 1, {seen['readers']} readers ({seen['per_s']:.1f} req/s): "
            f"its status p95 {seen['status']['p95_ms']:.1f} ms, its record (403) p95 "
            f"{seen['record_403']['p95_ms']:.1f} ms; errors {seen['errors']}"
        )
        for e in seen["error_sample"]:
            print(f"    privacy: {e}")
    print(f"uploads, {up['clients']} clients x {args.uploads_per_client}")
    print(
        f"  {up['uploads']} uploads in {up['wall_s']:.1f} s: {up['accepted_per_s']:.1f} accepted/s "
        f"({up['answered_per_s']:.1f} answered/s)"
    )
    if up["p50_ms"] is not None:
        print(
            f"  accept latency (202s) p50 {up['p50_ms']:.0f} ms, p95 {up['p95_ms']:.0f} ms, "
            f"max {up['max_ms']:.0f} ms; every answer p95 {up['all_answers']['p95_ms']:.0f} ms"
        )
    print(
        f"  {up['accepted_202']} answered 202, {up['distinct_ids']} distinct ids "
        f"({'all' if up['all_202_distinct'] else 'NOT all'}); errors {up['errors']}"
    )
    for e, n in up["error_kinds"].items():
        print(f"    {n} x {e}")
    for e in lb["error_sample"]:
        print(f"    leaderboard: {e}")
    print("queue, one worker")
    drained = "drained" if q["drained"] else f"NOT drained ({q['left']} left)"
    print(
        f"  {drained} "
        f"{q['seconds_from_first_upload']:.1f} s after the first upload "
        f"({q['seconds_after_last_accept']:.1f} s after the last accept): "
        f"{q['runs_per_s']:.2f} runs/s; outcome {q['outcome']}"
    )
    met = {
        "uploads_per_s": up["accepted_per_s"] >= GOALS["uploads_per_s"],
        "board_p95_ms": conc["p95_ms"] is not None and conc["p95_ms"] <= GOALS["board_p95_ms"],
    }
    print(
        f"goals: at least {GOALS['uploads_per_s']} uploads/s "
        f"({'met' if met['uploads_per_s'] else 'NOT met'}), the board's p95 with "
        f"{args.readers} readers at most {GOALS['board_p95_ms']} ms "
        f"({'met' if met['board_p95_ms'] else 'NOT met'})"
    )
    print(f"server stopped by {how}; its log {log}")
    for kind, n in (raised + said).most_common(8):
        print(f"    {n} x {kind}")
    figures = {
        "server_start_s": round(started, 1),
        "leaderboard": {
            "stored": args.rows,
            **{k: v for k, v in lb.items() if k != "error_sample"},
        },
        "private": seen and {k: v for k, v in seen.items() if k != "error_sample"},
        "uploads": {k: v for k, v in up.items() if k != "error_sample"},
        "queue": q,
        "goals_met": met,
        "stopped_by": how,
        "server_exceptions": dict(raised),
        "server_complaints": sum(said.values()),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
