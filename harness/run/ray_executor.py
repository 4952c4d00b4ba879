"""Runs code submissions on a Ray cluster: one Ray task per run, on whichever node has
what the run asks for (its CPUs, its memory, a GPU for a CUDA run).

The task runs the same sandboxed worker as `LocalExecutor`, on the node it lands on,
under the same time and memory limits. Its inputs (the submission and the train, valid
and test features) travel through Ray's object store, and its outputs (predictions,
epochs, artifacts, the log) come back the same way: the machines share no disk. The
hidden labels never leave the host: scoring and the store stay there.

Ray is imported only when this executor is used (`pip install 'harness[cluster]'`).
With RAY_ADDRESS (or an address given) the harness joins that cluster; without one it
starts a local Ray for the command's life, on 127.0.0.1, and stops it at exit.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from harness.errors import HarnessError
from harness.run.runner import Job, LocalExecutor, RunResult, run_threads
from harness.store import submissions

LOST = "the Ray node running it was lost"
SHIPPED_BACK = ("out", "artifacts")  # the run's folders that come back to the host
# what travels: the job's settings out, the run's outcome back (the files apart)
JOB_FIELDS = ("competition", "entry", "seed", "device", "timeout", "memory_mb", "slug", "output")
JOB_FIELDS += ("portable",)
RESULT_FIELDS = (
    "ok",
    "error",
    "result",
    "epochs",
    "log",
    "wall_seconds",
    "peak_memory_mb",
    "sandboxed",
    "device",  # what the node gave the run and measured of it, not what the run says
    "versions",
    "seconds",
)
_started: dict[str, object] = {}


class NodeLost(HarnessError):
    """The node (or the Ray worker) running a task died before it answered."""


class RayUnavailable(HarnessError):
    """Ray is not installed, or the cluster cannot be reached."""


def connect(address: str | None = None):
    """The `ray` module, joined to the cluster (`address`, else RAY_ADDRESS) or to a local
    Ray started now for this process's life.

    Raises:
        RayUnavailable: ray is not installed, or the cluster does not answer.
    """
    try:
        import ray
    except ImportError:
        raise RayUnavailable(
            "the Ray executor needs ray: pip install 'harness[cluster]' (or pip install ray)"
        ) from None
    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS") or None
    try:
        if address:
            ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        else:  # a Ray of our own on this machine: started now, stopped at exit
            ray.init(
                include_dashboard=False,
                logging_level="ERROR",
                log_to_driver=False,
                _node_ip_address="127.0.0.1",
            )
            atexit.register(ray.shutdown)
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = address or "a local Ray"
        raise RayUnavailable(f"cannot start or join {where}: {' '.join(str(e).split())}") from e
    _started["address"] = address or "local"
    return ray


def _files(root: Path, folders: tuple[str, ...]) -> dict[str, bytes]:
    """Every regular file under `root`'s `folders`, by its path relative to `root`."""
    out = {}
    for name in folders:
        top = root / name
        if not top.is_dir() or top.is_symlink():
            continue
        for folder, _, files in os.walk(top, followlinks=False):
            for f in files:
                p = Path(folder) / f
                if p.is_file() and not p.is_symlink():
                    out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def _place(root: Path, files: dict[str, bytes]) -> None:
    """Writes files by relative path under `root`; a path that leaves it is refused."""
    for rel, data in files.items():
        parts = PurePosixPath(rel).parts
        if PurePosixPath(rel).is_absolute() or ".." in parts or not parts:
            raise HarnessError(f"a Ray task sent back a file outside its run folder: {rel!r}")
        dest = root.joinpath(*parts)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)


def run_on_node(
    inputs: dict[str, bytes], spec: dict, sandboxed: bool | None, threads: int | None
) -> dict:
    """The Ray task: the run in a private folder of the node, through `LocalExecutor`
    (sandboxed, limited), and what came back; the folder is removed after."""
    root = Path(tempfile.mkdtemp(prefix="harness-ray-"))
    try:
        _place(root, inputs)
        job = Job(run_dir=root, submission=root / spec["submission"], **spec["job"])
        res = LocalExecutor(sandboxed=sandboxed, threads=threads).run(job)
        return {
            **{k: getattr(res, k) for k in RESULT_FIELDS},
            "node": socket.gethostname(),
            "gpu": res.gpu,  # the GPU the node gave the run (its nvidia-smi's name), if any
            "files": _files(root, SHIPPED_BACK) | {"log.txt": job.log_path.read_bytes()},
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def gpu_resource(nodes: list[dict], gpu: str | None) -> str | None:
    """The Ray resource of the GPU model `gpu` (nvidia-smi's name, as runs record it) where
    a live node has it: `accelerator_type:H100` for "NVIDIA H100 80GB HBM3"; else None."""
    if not gpu:
        return None
    try:  # Ray's own naming (private): another Ray without it runs on any GPU
        from ray._private.accelerators.nvidia_gpu import NvidiaGPUAcceleratorManager

        name = NvidiaGPUAcceleratorManager._gpu_name_to_accelerator_type(gpu)
    except (ImportError, AttributeError):
        return None
    kind = f"accelerator_type:{name}"
    return kind if any(n.get(kind) for n in nodes) else None


class RayExecutor:
    """Runs each job as one Ray task (`run_on_node`) and brings its outputs home.

    Args:
        address: the cluster to join (default: RAY_ADDRESS, else a local Ray).
        sandboxed, threads: as for `LocalExecutor`, on the node.
        requeue: the server re-queues work whose node was lost: `run` then raises
            NodeLost instead of returning a failed run.
        node: a Ray node id (`ray.nodes()`): every run on that node only (from Python: an
            organiser's script comparing two machines; no command takes it); None:
            wherever the run fits.
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        sandboxed: bool | None = None,
        threads: int | None = None,
        requeue: bool = False,
        node: str | None = None,
    ):
        self.address, self.sandboxed, self.threads = address, sandboxed, threads
        self.requeue, self.node = requeue, node

    def run(self, job: Job, on_output: Callable[[str], None] | None = None) -> RunResult:
        ray = connect(self.address)
        from ray import exceptions as rex

        inputs = _files(job.run_dir, ("inputs",))
        inputs[job.submission.name] = job.submission.read_bytes()
        spec = {
            "submission": job.submission.name,
            "job": {k: getattr(job, k) for k in JOB_FIELDS},
        }
        alive = [n for n in ray.nodes() if n.get("Alive")]
        nodes = [n["Resources"] for n in alive]
        gpus = any(n.get("GPU", 0) >= 1 for n in nodes)
        # a CUDA run needs a GPU; "auto" gets one where the cluster has any, as locally
        cuda = job.device.startswith("cuda") or (job.device == "auto" and gpus)
        if cuda and not gpus:
            error = "no node of the Ray cluster has a GPU for this CUDA run"
            return RunResult(ok=False, error=error, predictions=None, log=f"[harness] {error}\n")
        wants: dict = {"max_retries": 0}  # a lost run is the server's to re-queue, once
        fits = nodes  # the nodes the run may land on
        if cuda:
            wants["num_gpus"] = 1
            fits = [n for n in fits if n.get("GPU", 0) >= 1]
            # the competition's GPU model where a node has it: its runs' scores compare with
            # each other's, another model's may differ in the last digits (it waits for it)
            if kind := gpu_resource(fits, submissions.usual_gpu(job.competition)):
                wants["resources"] = {kind: 0.001}
                fits = [n for n in fits if n.get(kind)]
        if self.node:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            wants["scheduling_strategy"] = NodeAffinitySchedulingStrategy(self.node, soft=False)
            fits = [n["Resources"] for n in alive if n["NodeID"] == self.node] or fits
        # never more than the largest of those nodes offers: Ray would wait for it forever
        threads = run_threads(job, self.threads) or 1
        biggest = max((n.get("memory", 0) for n in fits), default=0)
        wants["num_cpus"] = min(threads, max((n.get("CPU", 1) for n in fits), default=1))
        wants["memory"] = int(min(job.memory_mb * 2**20, biggest)) or None
        task = ray.remote(run_on_node).options(**wants)
        ref = task.remote(ray.put(inputs), spec, self.sandboxed, self.threads)
        lost = (
            rex.WorkerCrashedError,
            rex.NodeDiedError,
            rex.ObjectLostError,
            rex.OwnerDiedError,
            rex.RaySystemError,
            rex.ActorDiedError,
        )
        try:
            got = ray.get(ref, timeout=job.timeout + 600)  # the node enforces the limit
        except lost as e:
            if self.requeue:
                raise NodeLost(f"{LOST} ({type(e).__name__})") from e
            return RunResult(ok=False, error=LOST, predictions=None, log=f"[harness] {LOST}\n")
        except rex.TaskUnschedulableError as e:  # the node asked for cannot take it
            error = f"the Ray node asked for cannot run it: {' '.join(str(e).split())[:300]}"
            return RunResult(ok=False, error=error, predictions=None, log=f"[harness] {error}\n")
        except rex.GetTimeoutError:
            ray.cancel(ref, force=True)
            return RunResult(ok=False, error=LOST, predictions=None, log=f"[harness] {LOST}\n")
        _place(job.run_dir, got["files"])
        shutil.rmtree(job.inputs, ignore_errors=True)
        if on_output:  # the run's lines, once it has ended
            for line in got["log"].splitlines():
                on_output(line)
        return RunResult(
            predictions=job.out / "predictions.csv" if got["ok"] else None,
            node=got["node"],
            gpu=got["gpu"],
            **{k: got[k] for k in RESULT_FIELDS},
        )
