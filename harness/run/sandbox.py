"""The sandbox every code run goes through: bubblewrap, an unprivileged uid, no network.

A worker sees a private root: the Python environment, the harness package and the
competitions folder read-only, its own inputs read-only at /job/inputs, the host's
pretrained-weights cache read-only at /weights (harness.run.weights), and writes only
/job/out, /job/artifacts, /job/work (in root mode on a size-capped tmpfs of their own:
harness.run.space) and a size-capped /tmp and /dev/shm. Its memory (those tmpfs
included), processes and CPU are held by a cgroup (harness.run.cgroups). It has its own
PID, network, IPC, UTS and mount namespaces (so /proc shows only its own processes and
127.0.0.1 is its own), a cleared environment, and dies with the harness. A seccomp
filter (harness.run.seccomp) keeps it from making namespaces or mounts of its own, and
RLIMIT_FSIZE from writing, or fallocating, a file larger than the runner's disk cap.

Two modes, chosen by who runs the harness:
- root: bwrap runs as root and `setpriv` drops to a fresh unprivileged uid per run
  (never the harness's own), with no capabilities and no_new_privs; the run's writable
  folders are handed to that uid for the run and taken back after.
- userns (not root): bwrap makes a user namespace (`--unshare-user`); inside it the run
  is uid 65534 without capabilities, outside it is the organiser's uid, confined by the
  same mounts. This needs unprivileged user namespaces, which some distributions turn off
  (`kernel.unprivileged_userns_clone=0`, Ubuntu's AppArmor restriction).

`HARNESS_SANDBOX` chooses: `auto` (default: sandbox when one works, else run without
and say so), `off` (never; for benchmarks and hosts where the organiser accepts the risk)
or `require` (refuse to run code without one).
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.paths import home
from harness.run import kaggle_way, seccomp, weights
from harness.run.repro import NUMERICS_CAPS

JOB = Path("/job")  # where the run's folder appears inside the sandbox
SETTING = "HARNESS_SANDBOX"
UID_BASE, UID_SPAN = 200_000, 800_000  # root mode: one uid per run from this range
USERNS_UID = 65534
NPROC = 1024  # tasks (processes and threads) of the sandbox's uid
TMP_MAX_MB = 2048  # /tmp and /dev/shm each: a quarter of the memory limit, at most this
# variables passed through when the harness has them; everything else is dropped
PASS_ENV = (
    "TZ",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES",
    "NVIDIA_VISIBLE_DEVICES",
    "NVIDIA_DRIVER_CAPABILITIES",
    # the machine's numerics as its organiser capped them: torch's CPU kernels, oneDNN's
    # and MKL's instruction sets; recorded with the run (repro.numerics_caps)
    *NUMERICS_CAPS,
)
# what the dynamic loader, the C library and matplotlib may read from /etc
ETC = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "timezone",
    "nsswitch.conf",
    "fonts",
    "mime.types",
)


class SandboxUnavailable(HarnessError):
    """HARNESS_SANDBOX=require, and no sandbox works on this host."""

    exit_code = 1


@dataclass(frozen=True)
class Sandbox:
    mode: str  # "root" or "userns"
    bwrap: str
    setpriv: str | None
    prlimit: str | None
    filtered: bool = False  # the seccomp filter (harness.run.seccomp) is in force

    def describe(self, uid: int) -> str:
        """One line for the run's log: the mode in force, as the organiser reads it."""
        if self.mode == "root":
            return f"bubblewrap, root mode: the run's own uid {uid}, no capabilities; {self.guard}"
        return (
            f"bubblewrap, user-namespace mode: uid {USERNS_UID} inside, {uid} outside; {self.guard}"
        )

    @property
    def guard(self) -> str:
        """What the seccomp filter keeps a run from, or why there is none (one line)."""
        if self.filtered:
            return "seccomp: no namespaces or mounts of its own"
        return seccomp.unsupported() or "no seccomp filter"


_probe: tuple[Sandbox | None, str] | None = None


def setting() -> str:
    value = (os.environ.get(SETTING) or "auto").strip().lower()
    return value if value in ("auto", "off", "require") else "auto"


def find() -> tuple[Sandbox | None, str]:
    """The sandbox this host offers and its mode, or None and why not (probed once)."""
    global _probe
    if _probe is None:
        _probe = _find()
    return _probe


def _find() -> tuple[Sandbox | None, str]:
    if sys.platform != "linux":
        return None, f"bubblewrap sandboxes need Linux, this is {sys.platform}"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None, "bubblewrap is not installed (apt-get install bubblewrap)"
    root = os.geteuid() == 0
    setpriv = shutil.which("setpriv")
    if root and setpriv is None:
        return None, "setpriv (util-linux) is missing"
    mode = "root" if root else "userns"
    filtered = seccomp.unsupported() is None
    sb = Sandbox(mode, bwrap, setpriv, shutil.which("prlimit"), filtered)
    fd = filter_pipe(sb)
    argv = [*_base(sb, [], 16, fd), *_drop(sb, UID_BASE + UID_SPAN - 1, 2**30), "/bin/true"]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=30, pass_fds=() if fd is None else (fd,)
        )
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"bubblewrap failed its self-test ({e})"
    finally:
        if fd is not None:
            os.close(fd)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        hint = "" if root else "; unprivileged user namespaces may be turned off"
        return None, f"bubblewrap failed its self-test ({why}{hint})"
    return sb, sb.mode


def choose() -> tuple[Sandbox | None, str]:
    """The sandbox to run under now, or None and the one line that says why not.

    Raises:
        SandboxUnavailable: HARNESS_SANDBOX=require and none works.
    """
    if setting() == "off":
        return None, f"{SETTING}=off"
    sb, why = find()
    if sb is None and setting() == "require":
        raise SandboxUnavailable(f"no sandbox for code runs: {why} ({SETTING}=require)")
    return sb, why


def new_uid(sb: Sandbox) -> int:
    return UID_BASE + secrets.randbelow(UID_SPAN - 1) if sb.mode == "root" else os.getuid()


def _ancestors(path: Path) -> list[Path]:
    return [p for p in reversed(path.parents) if p != Path("/")]


def filter_pipe(sb: Sandbox) -> int | None:
    """A pipe's read end holding the seccomp program for bwrap, or None without one.

    The caller hands it to bwrap (`pass_fds`) and closes it once bwrap has started.
    """
    if not sb.filtered:
        return None
    r, w = os.pipe()
    os.write(w, seccomp.program())  # a few hundred bytes: well inside a pipe's buffer
    os.close(w)
    return r


def _base(
    sb: Sandbox, binds: list[tuple[str, Path, Path]], tmp_mb: int, seccomp_fd: int | None
) -> list[str]:
    """bwrap's arguments: namespaces, the seccomp filter, the system read-only, the binds."""
    args = [sb.bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    args += ["--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    if seccomp_fd is not None:  # applied by bwrap to the command it execs, and all after
        args += ["--seccomp", str(seccomp_fd)]
    if sb.mode == "userns":
        args += ["--unshare-user", "--uid", str(USERNS_UID), "--gid", str(USERNS_UID)]
        args += ["--disable-userns"]
    else:
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        args += ["--cap-add", "CAP_SETPCAP"]
    args += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        top = Path("/") / name
        if top.is_symlink():
            args += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            args += ["--ro-bind", str(top), str(top)]
    args += ["--perms", "0755", "--dir", "/etc"]  # else made 0700: closed to the run's uid
    for name in ETC:
        if (Path("/etc") / name).exists():
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    args += ["--proc", "/proc", "--dev", "/dev"]
    size = str(tmp_mb * 2**20)
    args += ["--perms", "1777", "--size", size, "--tmpfs", "/tmp"]
    args += ["--perms", "1777", "--size", size, "--tmpfs", "/dev/shm"]
    for dev in sorted(glob.glob("/dev/nvidia*")):  # a GPU: its device nodes, and /sys
        args += ["--dev-bind", dev, dev]
    if glob.glob("/dev/nvidia*") and Path("/sys").is_dir():
        args += ["--ro-bind", "/sys", "/sys"]
    # the folders above each bind, made 0755 so the run's uid can pass through them
    made: set[Path] = {Path("/tmp"), Path("/dev"), Path("/proc"), Path("/etc")}
    bound: list[Path] = [Path("/usr")]
    for kind, src, dest in sorted(binds, key=lambda b: len(b[2].parts)):
        for parent in _ancestors(dest):
            inside = any(b == parent or b in parent.parents for b in bound)
            if parent not in made and not inside:
                args += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        args += [kind, str(src), str(dest)]
        bound.append(dest)
    return args


def _drop(sb: Sandbox, uid: int, file_cap: int) -> list[str]:
    """What runs inside, before the command: the task and file limits, then the uid drop."""
    args = ["--"]
    if sb.prlimit:
        # --fsize: a write or fallocate past file_cap fails at once (EFBIG), where the
        # runner's disk check, every two seconds, would stop the run only after the host
        # lost the space; each file is capped, not their sum, which that check still keeps
        fsize = f"--fsize={file_cap}:{file_cap}"
        args += [sb.prlimit, f"--nproc={NPROC}:{NPROC}", fsize, "--core=0", "--"]
    if sb.mode == "root":
        args += [sb.setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        args += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    return args


def python_paths() -> list[Path]:
    """What the worker's interpreter needs: its prefix, the venv, the harness package (an
    installed one holds the competitions too: harness.paths.SHIPPED), and the folders the
    venv's .pth files add."""
    import harness

    paths = [
        Path(os.path.realpath(sys.base_prefix)),
        Path(sys.prefix),
        Path(harness.__file__).resolve().parent,
        *pth_folders(),
    ]
    out: list[Path] = []
    for p in paths:
        if not any(q == p or q in p.parents for q in out) and not str(p).startswith("/usr/"):
            out = [q for q in out if p not in q.parents] + [p]
    return out


def pth_folders() -> list[Path]:
    """The folders the environment's .pth files put on sys.path (a venv that borrows
    another environment's packages): the worker's interpreter reads the same .pth files
    and finds nothing there unless they are bound. A folder holding the harness home or
    the user's home (their ~/.kaggle) is left out: an old-style editable install names
    the checkout, which may hold the harness home."""
    import site

    private = (home(), Path.home().resolve())
    out = []
    for site_dir in site.getsitepackages():
        for pth in sorted(Path(site_dir).glob("*.pth")):
            try:
                lines = pth.read_text().splitlines()
            except (OSError, UnicodeDecodeError):
                continue
            for line in lines:  # as site.addpackage reads them: a line to run is no folder
                if not line.strip() or line.startswith(("#", "import ", "import\t")):
                    continue
                folder = (Path(site_dir) / line.rstrip()).resolve()
                if folder.is_dir() and not any(folder in (p, *p.parents) for p in private):
                    out.append(folder)
    return out


def argv(
    sb: Sandbox,
    uid: int,
    run_dir: Path,
    submission: Path,
    competitions: Path,
    memory_mb: float,
    worker: dict[str, str],
    slug: str | None = None,
    *,
    seccomp_fd: int | None,
    file_cap: int,
    writable: Path | None = None,
) -> list[str]:
    """The full command line of one sandboxed worker (its job file is /job/job.json).

    Args:
        slug: a run in Kaggle's way: the competition's files read-only at
            /kaggle/input/<slug>/, and /kaggle/working (its scratch folder) the working
            directory, so that Kaggle's paths and `../input/<slug>/` both work.
        seccomp_fd: filter_pipe(sb)'s read end, which the caller passes to bwrap.
        file_cap: the largest file the run may write, in bytes (RLIMIT_FSIZE).
        writable: the folder holding the run's out, artifacts and work folders (default
            `run_dir`; the runner's size-capped tmpfs, harness.run.space, in root mode).
    """
    binds = [("--ro-bind", p, p) for p in python_paths()]
    binds.append(("--ro-bind", competitions.resolve(), competitions.resolve()))
    work = JOB / "work" if slug is None else kaggle_way.WORKING
    binds += [
        ("--ro-bind", run_dir / "inputs", JOB / "inputs"),
        ("--ro-bind", run_dir / "job.sandbox.json", JOB / "job.json"),
        ("--ro-bind", submission, JOB / submission.name),
        ("--bind", (writable or run_dir) / "out", JOB / "out"),
        ("--bind", (writable or run_dir) / "artifacts", JOB / "artifacts"),
        ("--bind", (writable or run_dir) / "work", work),
    ]
    if slug is not None:
        files = run_dir / "inputs" / kaggle_way.FILES
        binds.append(("--ro-bind", files, kaggle_way.INPUT / slug))
    if (cache := weights.root()).is_dir():  # the host's pretrained weights (env: where)
        binds.append(("--ro-bind", cache.resolve(), weights.SANDBOX_ROOT))
    tmp_mb = int(max(64, min(TMP_MAX_MB, memory_mb / 4)))
    args = _base(sb, binds, tmp_mb, seccomp_fd)
    args += ["--chdir", str(work), "--clearenv"]
    for k, v in env(worker).items():
        args += ["--setenv", k, v]
    py = str(Path(sys.prefix) / "bin" / "python")
    worker_argv = [py, "-m", "harness.run.worker", str(JOB / "job.json")]
    return [*args, *_drop(sb, uid, file_cap), *worker_argv]


def env(worker: dict[str, str]) -> dict[str, str]:
    """The worker's whole environment: a known list, the seeds, nothing of the harness's."""
    venv_bin = str(Path(sys.prefix) / "bin")
    out = {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "USER": "harness-run",
        "LOGNAME": "harness-run",
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "XDG_CACHE_HOME": "/tmp/.cache",
        # TORCH_HOME and HF_HOME: the host's weights cache, read-only, the hub offline
        **weights.run_env(weights.SANDBOX_ROOT),
        # fastai's ~/.fastai: untar_data lays the competition's data out under data/
        # (harness.run.course_data), in the run's own /tmp
        "FASTAI_HOME": "/tmp/.fastai",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
    }
    out.update({k: os.environ[k] for k in PASS_ENV if k in os.environ})
    if comps := os.environ.get("HARNESS_COMPETITIONS"):
        out["HARNESS_COMPETITIONS"] = str(Path(comps).resolve())
    out.update(worker)  # the run's own: seed, OpenMP's waiting and threads
    return out


def hand_over(paths: list[Path], uid: int) -> None:
    """Gives the run's writable folders to its uid (root mode)."""
    for p in paths:
        os.chown(p, uid, uid)
        os.chmod(p, 0o755)


def take_back(paths: list[Path]) -> None:
    """Everything in the run's writable folders back to the harness's uid, links untouched."""
    me, group = os.getuid(), os.getgid()
    for top in paths:
        if not top.exists() or top.is_symlink():
            continue
        os.lchown(top, me, group)
        for folder, dirs, files in os.walk(top, followlinks=False):
            for name in dirs + files:
                try:
                    os.lchown(os.path.join(folder, name), me, group)
                except OSError:
                    pass
