"""Runs a code submission in a worker process, under a time and a memory limit.

The worker gets its own process group, so a timeout or a memory overrun kills it and
anything it started. The executor is behind a small interface (`Executor.run`) so that a
group that outgrows one machine can run workers elsewhere and keep one store.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import psutil

from harness.run.repro import worker_env

POLL_SECONDS = 0.1
LOG_LIMIT = 1_000_000  # characters of log kept in the database; the file keeps all
# variables a worker must not inherit: they lead to the harness home and its labels
PRIVATE_ENV = ("HARNESS_HOME", "HARNESS_CACHE", "XDG_DATA_HOME")


@dataclass
class Job:
    """One run of a code submission; every path lies inside `run_dir`."""

    run_dir: Path
    submission: Path  # the copy inside run_dir the worker imports
    competition: str
    entry: str  # "train" or "fit_predict"
    seed: int
    device: str
    timeout: float
    memory_mb: float

    @property
    def inputs(self) -> Path:
        return self.run_dir / "inputs"

    @property
    def out(self) -> Path:
        return self.run_dir / "out"

    @property
    def artifacts(self) -> Path:
        return self.run_dir / "artifacts"

    @property
    def log_path(self) -> Path:
        return self.run_dir / "log.txt"


@dataclass
class RunResult:
    """What came back from a worker."""

    ok: bool
    error: str | None
    predictions: Path | None
    result: dict = field(default_factory=dict)
    epochs: list[dict] = field(default_factory=list)
    log: str = ""
    wall_seconds: float = 0.0
    peak_memory_mb: float = 0.0


class Executor(Protocol):
    def run(self, job: Job, on_output: Callable[[str], None] | None = None) -> RunResult: ...


def tree_rss(proc: psutil.Process) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass  # a child that ended between listing and reading
    return total


def kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def read_log(path: Path) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    if len(text) <= LOG_LIMIT:
        return text
    head = LOG_LIMIT // 10
    return (
        text[:head]
        + "\n[... log cut here; the full log is in the run folder ...]\n"
        + text[-(LOG_LIMIT - head) :]
    )


class Tail(threading.Thread):
    """Follows a growing log file and hands each new line to a callback."""

    def __init__(self, path: Path, emit: Callable[[str], None]):
        super().__init__(daemon=True)
        self.path, self.emit, self.stopped = path, emit, threading.Event()

    def run(self) -> None:
        pos, buf = 0, ""
        while True:
            stopping = self.stopped.is_set()
            if self.path.exists():
                with open(self.path, errors="replace") as f:
                    f.seek(pos)
                    chunk = f.read()
                    pos = f.tell()
                buf += chunk
                *lines, buf = buf.split("\n")
                for line in lines:
                    self.emit(line)
            if stopping:
                if buf:
                    self.emit(buf)
                return
            self.stopped.wait(0.2)


class LocalExecutor:
    """Runs the worker as a child process of this one."""

    def run(self, job: Job, on_output: Callable[[str], None] | None = None) -> RunResult:
        job.out.mkdir(parents=True, exist_ok=True)
        work = job.run_dir / "work"
        work.mkdir(exist_ok=True)
        job_file = job.run_dir / "job.json"
        job_file.write_text(
            json.dumps(
                {
                    "submission": str(job.submission),
                    "competition": job.competition,
                    "entry": job.entry,
                    "inputs": str(job.inputs),
                    "out": str(job.out),
                    "artifacts": str(job.artifacts),
                    "seed": job.seed,
                    "device": job.device,
                },
                indent=1,
            )
        )
        env = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV}
        env.update(worker_env(job.seed), PYTHONUNBUFFERED="1")
        tail = Tail(job.log_path, on_output) if on_output else None
        reason, peak = None, 0
        t0 = time.monotonic()
        with open(job.log_path, "w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "harness.run.worker", str(job_file)],
                cwd=work,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, killed as one
            )
            if tail:
                tail.start()
            watched = psutil.Process(proc.pid)
            try:
                while proc.poll() is None:
                    rss = tree_rss(watched)
                    peak = max(peak, rss)
                    if rss > job.memory_mb * 2**20:
                        reason = (
                            f"used {rss / 2**20:.0f} MiB, over the memory limit of "
                            f"{job.memory_mb:.0f} MiB; the run was stopped"
                        )
                    elif time.monotonic() - t0 > job.timeout:
                        reason = f"timed out after {job.timeout:g} s; the run was stopped"
                    if reason:
                        kill_group(proc.pid)
                        proc.wait()
                        break
                    time.sleep(POLL_SECONDS)
            finally:
                kill_group(proc.pid)  # whatever the submission left running goes too
                if proc.poll() is None:
                    proc.wait()
            wall = time.monotonic() - t0
        if tail:
            tail.stopped.set()
            tail.join()
        return collect(job, proc.returncode, reason, wall, peak)


def collect(job: Job, returncode: int, reason: str | None, wall: float, peak: int) -> RunResult:
    """Turns the worker's files and exit status into a RunResult."""
    out = job.out
    result = json.loads((out / "result.json").read_text()) if (out / "result.json").exists() else {}
    epochs = []
    if (out / "epochs.jsonl").exists():
        epochs = [json.loads(x) for x in (out / "epochs.jsonl").read_text().splitlines() if x]
    peak_mb = max(peak / 2**20, result.get("worker_peak_rss_mb", 0.0))
    predictions = out / "predictions.csv"
    error = reason
    if error is None and (out / "error.json").exists():
        error = json.loads((out / "error.json").read_text())["message"]
    if error is None and returncode < 0:
        name = signal.Signals(-returncode).name
        error = f"the worker was killed by {name}"
        if name == "SIGKILL":
            error += " (out of memory? the system may have stopped it)"
    if error is None and returncode != 0:
        error = f"the worker exited with code {returncode}"
    if error is None and not predictions.exists():
        error = "the worker ended without writing predictions"
    shutil.rmtree(job.inputs, ignore_errors=True)  # copies of the data; the log stays
    return RunResult(
        ok=error is None,
        error=error,
        predictions=predictions if error is None else None,
        result=result,
        epochs=epochs,
        log=read_log(job.log_path),
        wall_seconds=wall,
        peak_memory_mb=peak_mb,
    )
