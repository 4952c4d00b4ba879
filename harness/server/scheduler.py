"""Runs the server's queue: worker threads that claim queued work in turn and run it
through the same pipeline as `harness submit`, in the sandbox.

Nothing is left `queued` or `running` with nobody working on it: at start, work that
was running when the server stopped (a crash, `kill -9`) goes back in line once, and is
recorded `failed` the second time. Work whose run could not even start (its data gone,
a bug of ours) is recorded `failed` with the reason, never dropped.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import threading
from pathlib import Path

from harness.competition import registry
from harness.errors import HarnessError
from harness.run import pipeline
from harness.run.ray_executor import NodeLost
from harness.run.runner import LocalExecutor
from harness.server import intake
from harness.store import db, queue, rules, submissions

ATTEMPTS = 2  # a run cut off by the server's end is run once more, then failed
POLL_SECONDS = 2.0  # besides being woken by an upload
# a served run's time limit unless the competition's rules set one: a member's sleeping
# run holds a worker, and everyone queued behind it, for no longer than this
SERVE_TIMEOUT = 900.0
STOPPED = "the server stopped during this run"
EPOCH_LINE = re.compile(r"\[run\] fit (\d+) epoch (\d+)/(\d+)")  # the worker's, in the run


def log(msg: str) -> None:
    print(f"harness serve: {msg}", file=sys.stderr, flush=True)


class Scheduler:
    """The queue's workers.

    Attributes:
        turns: when each member was last served (the queue's fairness).
        progress: what each running id has done so far: epochs and its last line.
        timeout: a run's seconds where the competition's rules set none.
    """

    def __init__(
        self,
        workers: int = 1,
        sandboxed: bool | None = True,
        executor: str = "local",
        ray_address: str | None = None,
        timeout: float = SERVE_TIMEOUT,
        portable: bool = True,
    ):
        self.workers = workers
        self.timeout = timeout
        self.portable = portable  # portable numerics (harness.run.repro.PORTABLE)
        self.sandboxed = sandboxed
        self.executor, self.ray_address = executor, ray_address
        # several runs at once share the cores: each gets its share of threads
        self.share = None if workers == 1 else max(1, (os.cpu_count() or 1) // workers)
        self.turns: dict[str, int] = {}
        self.progress: dict[int, dict] = {}
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        self.recover()
        for i in range(self.workers):
            t = threading.Thread(target=self.loop, name=f"harness-worker-{i}", daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        self.stopping.set()
        intake.woken.set()

    def place(self, sub_id: int) -> int | None:
        return queue.place(sub_id, self.turns)

    def recover(self) -> None:
        """Work a stopped server left running goes back in line, or fails the second time;
        uploads no queued work owns are removed."""
        rows = queue.items()
        for r in rows:
            if r["state"] != "running":
                continue
            if r["attempts"] >= ATTEMPTS:
                log(f"submission {r['id']}: {STOPPED} ({r['attempts']} attempts): failed")
                give_up(r, f"{STOPPED} ({r['attempts']} attempts)")
            else:
                log(f"submission {r['id']}: {STOPPED}; queued to run once more")
                queue.requeue(r["id"])
        owned = {Path(r["upload"]).parent.name for r in queue.items()}
        if intake.uploads_dir().exists():
            for folder in intake.uploads_dir().iterdir():
                if folder.name not in owned:
                    shutil.rmtree(folder, ignore_errors=True)

    def loop(self) -> None:
        while not self.stopping.is_set():
            try:
                item = queue.claim(self.turns)
            except HarnessError as e:  # the store was busy past its wait: try again later
                log(f"cannot read the queue: {e}")
                item = None
            if item is None:
                intake.woken.wait(POLL_SECONDS)
                intake.woken.clear()
                continue
            try:
                self.run(item)
            except Exception as e:  # not even recorded failed: the next start retries it
                log(f"submission {item['id']}: could not be recorded ({pipeline.one_line(e)})")

    def run(self, item: dict) -> None:
        sub_id = item["id"]
        seen = {"epochs": 0, "line": None}
        self.progress[sub_id] = seen

        def on_output(line: str) -> None:
            if m := EPOCH_LINE.match(line):
                seen["epochs"] += 1
                seen["epoch_of"] = int(m.group(3))
            if line.startswith(("[harness]", "[run]")):
                seen["line"] = line

        log(f"submission {sub_id} ({item['user_name']}, {item['filename']}): running")
        again = False
        try:
            with db.connect(read_only=True) as con:
                in_force = rules.current(con, item["competition"])
            limits = pipeline.Limits(
                seed=item["seed"],
                output=item.get("output"),
                timeout=in_force.timeout_seconds or self.timeout,
                portable=self.portable,
            )
            row = pipeline.submit(
                item["competition"],
                Path(item["upload"]),
                item["user_name"],
                item["message"],
                limits,
                on_output=on_output,
                log=lambda msg: log(f"submission {sub_id}: {msg}"),
                queued=sub_id,
                executor=self.runner(item),
                submitted_at=item["queued_at"],
            )
            log(f"submission {sub_id}: {row['status']}")
        except NodeLost as e:  # the machine running it dropped out: once more, in line
            log(f"submission {sub_id}: {e}; queued to run once more")
            queue.requeue(sub_id)
            again = True
        except Exception as e:  # it could not run at all: recorded failed, the server goes on
            log(f"submission {sub_id}: could not run: {e}")
            give_up(item, pipeline.one_line(e) if not isinstance(e, HarnessError) else str(e))
        finally:
            self.progress.pop(sub_id, None)
            if not again:
                shutil.rmtree(Path(item["upload"]).parent, ignore_errors=True)

    def runner(self, item: dict):
        """The executor for one run: local, or a Ray task (lost once: re-queued)."""
        if self.executor == "ray":
            from harness.run.ray_executor import RayExecutor

            return RayExecutor(
                self.ray_address,
                sandboxed=self.sandboxed,
                threads=self.share,
                requeue=item["attempts"] < ATTEMPTS,
            )
        return LocalExecutor(sandboxed=self.sandboxed, threads=self.share)


def give_up(item: dict, error: str) -> None:
    """Records queued work as failed without a run (it leaves the queue)."""
    path = Path(item["upload"])
    try:
        content = path.read_bytes()
    except OSError:
        content = b""
    try:
        comp = registry.get(item["competition"])
        version, metric, higher = comp.spec.version, comp.spec.metric, comp.metric.higher_is_better
    except HarnessError:
        version, metric, higher = 0, "unknown", True
    code = path.suffix == ".py"
    row = {
        "competition": item["competition"],
        "competition_version": version,
        "user_name": item["user_name"],
        "message": item["message"],
        "kind": "code" if code else "csv",
        "filename": item["filename"],
        "content": content.decode("utf-8", errors="replace") if code else None,
        "file_sha256": hashlib.sha256(content).hexdigest(),
        "status": "failed",
        "error": error,
        "metric": metric,
        "higher_is_better": higher,
        "seed": item["seed"],
        "submitted_at": item["queued_at"],
    }
    submissions.insert_submission(row, [], queued=item["id"])
