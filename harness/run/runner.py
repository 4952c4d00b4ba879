"""Runs a code submission in a worker process, under a time and a memory limit.

The worker gets its own process group, so a timeout or a memory overrun kills it and
anything it started. The executor is behind a small interface (`Executor.run`) so that a
group that outgrows one machine can run workers elsewhere and keep one store.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import psutil

from harness.paths import competitions_dir
from harness.run import cgroups, kaggle_way, output, runlog, sandbox, space, weights
from harness.run.repro import (
    MODE,
    PORTABLE,
    PORTABLE_THREADS,
    gpu_names,
    numerics_caps,
    versions,
    wait_policy,
    worker_env,
)

POLL_SECONDS = 0.1
LOG_LIMIT = 1_000_000  # characters of log kept in the database; the file keeps all
LOG_FILE_CAP = 64 * 2**20  # bytes of log a run may write
DISK_CAP = 2 * 2**30  # bytes a run may leave in its out, artifacts and work folders
DISK_FILES_CAP = 20_000  # files and folders it may leave there
DISK_CHECK_SECONDS = 2.0
# the line a run's log has where no cgroup holds its memory
RSS_ONLY = "memory is watched as the tree's resident memory (tmpfs and shared memory not counted)"
# variables a worker must not inherit: they lead to the harness home and its labels
PRIVATE_ENV = ("HARNESS_HOME", "HARNESS_CACHE", "HARNESS_SECRET", "XDG_DATA_HOME")


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
    slug: str | None = None  # Kaggle's way (a notebook or script): /kaggle/input/<slug>
    output: str | None = None  # the CSV in /kaggle/working that is the answer (--output)
    portable: bool = False  # portable numerics: repro.PORTABLE's caps, whatever the machine

    @property
    def kaggle_way(self) -> bool:
        return self.slug is not None

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
    sandboxed: bool | None = None  # None: the executor does not say
    node: str | None = None  # the machine it ran on (None: this one)
    gpu: str | None = None  # that machine's GPU, where the executor knows it
    # what the host measured or gave, never what the run says (that is in `result`)
    device: str | None = None  # the device the host gave the run ("cpu", "cuda", "cuda:1")
    versions: dict | None = None  # the environment the host gave it (its packages)
    seconds: dict = field(default_factory=dict)  # the phases the host saw from outside


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
    try:
        with open(path, "rb") as f:
            data = f.read(LOG_FILE_CAP)
    except OSError:
        data = b""
    text = data.decode("utf-8", errors="replace")
    if len(text) <= LOG_LIMIT:
        return text
    head = LOG_LIMIT // 10
    return (
        text[:head]
        + "\n[... log cut here; the full log is in the run folder ...]\n"
        + text[-(LOG_LIMIT - head) :]
    )


class LocalExecutor:
    """Runs the worker as a child process of this one, in the sandbox when there is one.

    `name` is what a submission's row records as its executor.

    Args:
        sandboxed: None (default) follows HARNESS_SANDBOX; False runs without a sandbox;
            True requires one.
        threads: the worker's OpenMP/MKL threads (its share of the cores); None: torch's
            own choice, one per core.
    """

    name = "local"

    def __init__(self, sandboxed: bool | None = None, threads: int | None = None):
        self.sandboxed = sandboxed
        self.threads = threads

    def _sandbox(self) -> tuple[sandbox.Sandbox | None, str]:
        if self.sandboxed is False:
            return None, "the executor was told to run without one"
        sb, why = sandbox.choose()
        if sb is None and self.sandboxed:
            raise sandbox.SandboxUnavailable(f"no sandbox for code runs: {why}")
        if sb is None:
            print(
                f"harness: warning: this run is not sandboxed ({why}); the submission can "
                "read and change what this user can",
                file=sys.stderr,
            )
        return sb, why

    def run(
        self,
        job: Job,
        on_output: Callable[[str], None] | None = None,
        on_taken: Callable[[RunResult, Path], None] | None = None,
    ) -> RunResult:
        """Runs the job to its end.

        Args:
            on_taken: called once, while the run goes on, when the worker says its
                predictions are written (`worker.SIGN` in out/): with what the run is so
                far (its result, epochs, log, the host's figures) and the folder they were
                taken into (`output.take`). The host scores them meanwhile; the ended run
                keeps those files, whatever it writes later.
        """
        sb, why = self._sandbox()
        rw = job.run_dir  # where the run's out, artifacts and work folders are
        if sb is not None and sb.mode == "root":  # a filesystem of their own, capped
            space.clean_stale()
            rw = space.folder_for(job.run_dir)
            if not space.mount(rw, DISK_CAP, DISK_FILES_CAP):
                rw.rmdir()
                rw = job.run_dir
        group, held = None, cgroups.find()[1]
        try:
            group = cgroups.make(job.memory_mb, sandbox.NPROC, self.threads)
            held = group.describe() if group else f"no cgroup: {held}; {RSS_ONLY}"
        except OSError as e:
            held = f"no cgroup: it could not be made ({e.strerror or e}); {RSS_ONLY}"
        if rw != job.run_dir:
            held += f"; out, artifacts and work on a tmpfs of {DISK_CAP // 2**20:,} MiB"
        try:
            return self._run(job, on_output, sb, why, rw, group, held, on_taken)
        finally:  # on every path: the tmpfs and its files go, and the run's groups
            if rw != job.run_dir:
                space.unmount(rw)
            if group is not None:
                group.remove()

    def _run(self, job, on_output, sb, why, rw: Path, group, held: str, on_taken) -> RunResult:
        from harness.run.worker import SIGN  # the worker's word (its module imports pandas)

        began = time.monotonic()
        device, gpu = given_device(job.device)
        writable = [rw / "out", rw / "artifacts", rw / "work"]
        for folder in writable:
            folder.mkdir(parents=True, exist_ok=True)
        spec = {
            "competition": job.competition,
            "entry": job.entry,
            "seed": job.seed,
            "device": job.device,
            "output": job.output,
            "slug": job.slug,
        }
        passive, waiting = wait_policy()
        wenv = worker_env(job.seed, passive)
        threads = run_threads(job, self.threads)
        if job.portable:  # over the machine's own caps and threads, if its organiser set any
            wenv.update(PORTABLE, **{MODE: "portable"})
            waiting += f"; portable numerics (AVX2 kernels, MKL strict, {threads} threads)"
        elif threads:  # its share of the cores, when several runs share a machine
            waiting += f"; {threads} thread(s): its share of the cores"
        if threads:
            for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
                wenv[var] = str(threads)
        if job.kaggle_way:
            wenv.update(kaggle_way.environment())
        job_file = job.run_dir / "job.json"
        paths = {
            "submission": job.submission,
            "inputs": job.inputs,
            "out": job.out,
            "artifacts": job.artifacts,
        }
        if job.kaggle_way and sb is None:  # no /kaggle unsandboxed: ../input/<slug> works
            working = job.run_dir / "work" / "working"
            working.mkdir()
            (job.run_dir / "work" / "input").mkdir()
            (job.run_dir / "work" / "input" / job.slug).symlink_to(job.inputs / kaggle_way.FILES)
            paths["working"] = working
        job_file.write_text(json.dumps({**{k: str(v) for k, v in paths.items()}, **spec}, indent=1))
        if sb is None:
            env = {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV}
            env.update(wenv, PYTHONUNBUFFERED="1")
            env.update(weights.run_env(weights.root()))  # the host's cache, where it lies
            # untar_data's layouts of train and valid (harness.run.course_data): the run's
            # own, never the organiser's ~/.fastai, where they would pass for a download
            env["FASTAI_HOME"] = str(job.run_dir / "fastai")
            argv = [sys.executable, "-m", "harness.run.worker", str(job_file)]
            if setpriv := shutil.which("setpriv"):  # dies with the harness, as bwrap's does
                argv = [setpriv, "--pdeathsig", "KILL", "--", *argv]
            cwd = paths.get("working", job.run_dir / "work")
            pass_fds = ()
            header = f"[harness] NOT sandboxed: {why}"
        else:
            inside = {
                "submission": sandbox.JOB / job.submission.name,
                "inputs": sandbox.JOB / "inputs",
                "out": sandbox.JOB / "out",
                "artifacts": sandbox.JOB / "artifacts",
            }
            if job.kaggle_way:
                inside["working"] = kaggle_way.WORKING
            (job.run_dir / "job.sandbox.json").write_text(
                json.dumps({**{k: str(v) for k, v in inside.items()}, **spec}, indent=1)
            )
            uid = sandbox.new_uid(sb)
            header = f"[harness] sandbox: {sb.describe(uid)}"
            for folder, _, files in os.walk(job.inputs):
                os.chmod(folder, 0o755)
                for f in files:
                    os.chmod(os.path.join(folder, f), 0o644)
            if sb.mode == "root":
                sandbox.hand_over(writable, uid)
            filter_r = sandbox.filter_pipe(sb)
            argv = sandbox.argv(
                sb,
                uid,
                job.run_dir,
                job.submission,
                competitions_dir(),
                job.memory_mb,
                wenv,
                job.slug,
                seccomp_fd=filter_r,
                file_cap=DISK_CAP,
                writable=rw,
            )
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
            cwd = job.run_dir
            # the arguments go through a pipe: the sandbox's pid 1 is bwrap, and its
            # command line, readable inside, must not name the host's folders
            # (the command after `--` stays: it names no host folder)
            cut = argv.index("--")
            args_r, args_w = os.pipe()
            os.write(args_w, b"".join(a.encode() + b"\0" for a in argv[1:cut]))
            os.close(args_w)
            argv = [argv[0], "--args", str(args_r), *argv[cut:]]
            pass_fds = (args_r,) if filter_r is None else (args_r, filter_r)
        if group is not None:  # born inside the run's cgroup, with all it starts
            argv = cgroups.entering(group, argv)
        reason, peak = None, 0
        # the run writes into a pipe, never into its log: the host's relay writes the log
        # (harness.run.runlog), so the run cannot forge or overwrite the host's lines
        log = open(job.log_path, "wb")
        read_end, write_end = os.pipe()
        relay = runlog.Relay(read_end, log, LOG_FILE_CAP, on_output)
        relay.host(header)
        relay.host(f"[harness] {waiting}")
        relay.host(f"[harness] {held}")
        relay.start()
        t0 = time.monotonic()
        try:
            try:
                proc = subprocess.Popen(
                    argv,
                    cwd=cwd,
                    env=env,
                    stdout=write_end,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # its own process group, killed as one
                    pass_fds=pass_fds,
                )
            finally:
                os.close(write_end)  # the run's copy is the pipe's only writer: EOF at its end
            for fd in pass_fds:
                os.close(fd)
            ready = None
            if on_taken is not None:

                def ready(peak: int) -> None:  # the run's predictions are written
                    taken = job.run_dir / output.TAKEN
                    if (written := output.take(rw / "out", taken)) is None:
                        return  # nothing to score yet: the run's end decides
                    now = time.monotonic()
                    so_far = RunResult(
                        ok=True,
                        error=None,
                        predictions=taken / "predictions.csv",
                        result=written.result,
                        epochs=written.epochs,
                        log=read_log(job.log_path),
                        wall_seconds=now - t0,
                        peak_memory_mb=peak / 2**20,
                        sandboxed=sb is not None,
                        device=device,
                        gpu=gpu,
                        versions=environment(job.portable),
                        seconds={"setup": t0 - began, "run": now - t0},
                    )
                    on_taken(so_far, taken)

            reason, peak = watch(proc, job, writable, group, ready, rw / "out" / SIGN)
            wall = time.monotonic() - t0
            relay.stop()
            shown = f"{device} ({gpu})" if gpu else device
            relay.host(
                f"[harness] measured by the host: {wall:.1f} s wall, peak memory "
                f"{peak / 2**20:,.0f} MiB, device {shown}"
            )
        finally:
            relay.stop()
            log.close()
            if sb is not None and sb.mode == "root":
                sandbox.take_back(writable)
        # only what the record needs is kept, on every path (refused files too)
        reason = reason or output.settle(job.run_dir, rw)
        if (job.run_dir / output.TAKEN).is_dir():  # scored while it ran: those files stay
            output.keep_taken(job.run_dir)
        shutil.rmtree(job.run_dir / "fastai", ignore_errors=True)  # unsandboxed untar_data's
        code = proc.returncode
        if sb is not None and 128 < code < 128 + 65:  # bwrap's pid 1 reports a signal so
            code = 128 - code
        t1 = time.monotonic()
        res = collect(job, code, reason, wall, peak)
        res.sandboxed = sb is not None
        res.device, res.gpu, res.versions = device, gpu, environment(job.portable)
        res.seconds = {"setup": t0 - began, "run": wall, "read_back": time.monotonic() - t1}
        return res


@functools.cache
def host_gpus() -> tuple[str, ...]:
    """This machine's GPUs by nvidia-smi's names, asked once per process."""
    return tuple(gpu_names())


def given_device(requested: str) -> tuple[str, str | None]:
    """The device the host gives a run, and its GPU's name as this machine's nvidia-smi
    says: "cpu" where the CPU was asked for or no GPU is visible here.

    The run's own word on the device it used is its report (`RunResult.result`)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [i.strip() for i in (visible or "").split(",") if i.strip()]
    if (
        requested == "cpu"
        or not glob.glob("/dev/nvidia[0-9]*")
        or (visible is not None and (not ids or ids[0] == "-1"))
    ):
        return "cpu", None
    names = list(host_gpus())
    if visible is not None:  # the run sees these, renumbered from 0 (a UUID: unknown)
        names = [names[int(i)] if i.isdigit() and int(i) < len(names) else None for i in ids]
    number = requested.partition(":")[2]
    index = int(number) if number.isdigit() else 0
    name = names[index] if 0 <= index < len(names) else None
    return (requested if requested.startswith("cuda") else "cuda"), name


def run_threads(job: Job, share: int | None) -> int | None:
    """The OpenMP/MKL/OpenBLAS threads a run gets: portable numerics' fixed count, else its
    share of the machine's cores (None: torch's own choice, one per core)."""
    return PORTABLE_THREADS if job.portable else share


def environment(portable: bool = False) -> dict:
    """The Python, platform and packages the host gives a run (the sandbox shows the run
    this installation), read here without importing them; the numerics caps it set."""
    out = versions(seen=False)
    if portable:  # the machine's own caps, PORTABLE's over them, as the run has them
        out["numerics_caps"] = numerics_caps({**os.environ, **PORTABLE})
    return out


def watch(
    proc: subprocess.Popen,
    job: Job,
    writable: list[Path],
    group: cgroups.Group | None = None,
    ready: Callable[[int], None] | None = None,
    sign: Path | None = None,
) -> tuple[str | None, int]:
    """Waits for the worker under the limits; (why it was stopped or None, peak bytes).

    With a cgroup the kernel holds the memory limit, tmpfs and shared memory included, and
    the peak is the group's; without one the tree's resident memory is watched here.
    `ready` is called once (with the peak so far) when `sign` appears, the limits still
    watched before and after it.
    """
    reason, peak, t0, last_disk = None, 0, time.monotonic(), 0.0
    try:
        watched = psutil.Process(proc.pid)
        while proc.poll() is None:
            rss = tree_rss(watched)
            peak = max(peak, rss)
            now = time.monotonic()
            if group is not None and group.oom_kills():
                reason = over_memory(job)
            elif group is None and rss > job.memory_mb * 2**20:
                reason = (
                    f"used {rss / 2**20:.0f} MiB, over the memory limit of "
                    f"{job.memory_mb:.0f} MiB; the run was stopped"
                )
            elif now - t0 > job.timeout:
                reason = f"timed out after {job.timeout:g} s; the run was stopped"
            elif _size(job.log_path) > LOG_FILE_CAP:
                reason = f"wrote more than {LOG_FILE_CAP // 2**20} MiB of log; the run was stopped"
            elif now - last_disk > DISK_CHECK_SECONDS:
                last_disk = now
                reason = disk_problem(writable)
            if reason:
                break
            if ready is not None and os.path.lexists(sign):
                ready(max(peak, group.peak_bytes()) if group is not None else peak)
                ready = None  # once
            with contextlib.suppress(subprocess.TimeoutExpired):  # back at once when it ends
                proc.wait(POLL_SECONDS)
    except psutil.NoSuchProcess:
        pass
    finally:
        kill_tree(proc)  # whatever the submission left running goes too
    if group is not None:
        peak = max(peak, group.peak_bytes())
        if reason is None and group.oom_kills():  # killed by the kernel before a poll saw it
            reason = over_memory(job)
    return reason, peak


def over_memory(job: Job) -> str:
    return (
        f"memory: the run used more than {job.memory_mb:.0f} MiB (tmpfs and shared memory "
        "included); the kernel stopped it"
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def disk_problem(folders: list[Path]) -> str | None:
    """Why the run's writable folders are over their caps, or None."""
    total, count = 0, 0
    for top in folders:
        for folder, dirs, files in os.walk(top, followlinks=False):
            for name in files + dirs:
                count += 1
                try:
                    total += os.lstat(os.path.join(folder, name)).st_size
                except OSError:
                    pass
            if count > DISK_FILES_CAP:
                return f"wrote more than {DISK_FILES_CAP:,} files; the run was stopped"
    if total > DISK_CAP:
        return f"wrote more than {DISK_CAP // 2**20} MiB to its folders; the run was stopped"
    return None


def kill_tree(proc: subprocess.Popen) -> None:
    """Kills the worker, its process group and every descendant, then reaps it.

    In the sandbox the descendants include the namespace's pid 1, whose end takes every
    process inside with it, `setsid` daemons included.
    """
    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        family = []
    kill_group(proc.pid)
    for p in family:
        try:
            p.kill()
        except psutil.Error:
            pass
    try:
        proc.kill()
    except OSError:
        pass
    proc.wait()


def collect(job: Job, returncode: int, reason: str | None, wall: float, peak: int) -> RunResult:
    """Turns the worker's files (checked by `output.read`) and exit status into a RunResult.

    A broken file makes the run failed with one line saying which file and why; the
    host's reason to stop it comes first.
    """
    written = output.read(job.out, job.artifacts)
    error = reason or written.error
    peak_mb = peak / 2**20  # the host's; the worker's own figure is its report
    predictions = job.out / "predictions.csv"
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
        result=written.result,
        epochs=written.epochs,
        log=read_log(job.log_path),
        wall_seconds=wall,
        peak_memory_mb=peak_mb,
    )
