"""A control group per run: the kernel holds its memory, its processes and its CPU.

Memory counts what the process tree's RSS does not: tmpfs and shared memory (a run's
/tmp, /dev/shm and its size-capped folders, harness.run.space) are charged to the group
that wrote them, so filling them is using memory. Over the limit the kernel's OOM killer
ends the run inside its group, and the group's OOM count says so afterwards.

Each controller comes from where the host has it: cgroup v2 when its unified hierarchy
offers the controller, else the v1 hierarchy mounted for it (this is how many containers
mount them: v1 controllers and a v2 hierarchy beside them). A run's group is made under
the harness's own group of each hierarchy (a child: whatever holds the harness holds its
runs too), named `harness-run-<harness pid>-<random>` so that one a crashed harness left
can be told apart and removed at the next run. Without a writable hierarchy (not root,
nothing delegated) `find()` says why, and the runner keeps its own watch of the tree's
memory, as before.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "harness-run-"
STALE = re.compile(rf"{PREFIX}(\d+)-[0-9a-f]+")
CPU_PERIOD_US = 100_000
# the shell that moves itself into the run's groups, then becomes the sandbox's command:
# every process the run starts is born inside them (none is moved after it has forked)
ENTER = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@"'
ENTER_FAILED = 125
WANTED = ("memory", "pids", "cpu")


@dataclass(frozen=True)
class Hierarchy:
    """Where one controller's groups live for this harness: its own group's folder."""

    controller: str
    parent: Path
    v2: bool


@dataclass
class Group:
    """One run's groups: a folder per hierarchy (v2: one for every controller)."""

    hierarchies: list[Hierarchy]
    name: str
    memory_bytes: int
    cores: float | None = None  # CPU time it may use, in cores (None: no cap)
    folders: dict[str, Path] = field(default_factory=dict)  # controller -> its folder

    def procs_files(self) -> list[str]:
        """The cgroup.procs the runner's shell writes itself into (each folder once)."""
        return sorted({str(f / "cgroup.procs") for f in self.folders.values()})

    def memory_file(self, v1: str, v2: str) -> Path:
        h = next(h for h in self.hierarchies if h.controller == "memory")
        return self.folders["memory"] / (v2 if h.v2 else v1)

    def peak_bytes(self) -> int:
        """The group's peak memory, tmpfs and shared memory included (0: unknown).

        Read from memory.max_usage_in_bytes (v1) or memory.peak (v2, Linux 5.19+).
        """
        try:
            return int(self.memory_file("memory.max_usage_in_bytes", "memory.peak").read_text())
        except (OSError, ValueError):
            return 0

    def oom_kills(self) -> int:
        """How many processes the kernel killed for the group's memory limit.

        Read from memory.oom_control (v1) or memory.events (v2): their `oom_kill` line.
        """
        try:
            text = self.memory_file("memory.oom_control", "memory.events").read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0

    def describe(self) -> str:
        """One line for the run's log: the limits the kernel holds."""
        kinds = sorted({"v2" if h.v2 else "v1" for h in self.hierarchies})
        held = [f"memory {self.memory_bytes // 2**20} MiB (tmpfs and shared memory included)"]
        for h in self.hierarchies:
            if h.controller == "pids":
                held.append("processes")
            elif h.controller == "cpu" and self.cores:
                held.append(f"CPU {self.cores:g} core(s)")
        return f"cgroup {'+'.join(kinds)}: {', '.join(held)}"

    def remove(self) -> None:
        """Kills whatever is left in the groups and removes them."""
        for folder in self.folders.values():
            _remove(folder)


def mountinfo() -> list[tuple[Path, str, str, set[str]]]:
    """What is mounted here: (mount point, filesystem type, source, super options), from
    /proc/self/mountinfo (empty when it cannot be read)."""
    out = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        if len(fields) < 5 or len(rest) < 3:
            continue
        point = Path(fields[4].replace("\\040", " "))
        out.append((point, rest[0], rest[1], set(rest[2].split(","))))
    return out


def _mounts() -> list[tuple[Path, str, set[str]]]:
    """The cgroup hierarchies mounted here: (mount point, "cgroup" or "cgroup2", options)."""
    return [(p, kind, opts) for p, kind, _, opts in mountinfo() if kind in ("cgroup", "cgroup2")]


def _own() -> dict[str, str]:
    """This process's group in each hierarchy: {"memory": "/a/b", ..., "": "/x" (v2)}."""
    own = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return own
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(",") if controllers else [""]:
            own[c] = path
    return own


def _writable(folder: Path) -> bool:
    return folder.is_dir() and os.access(folder, os.W_OK)


def _hierarchies() -> tuple[list[Hierarchy], str]:
    """The hierarchy for each wanted controller, or [] and why there is none for memory."""
    mounts, own = _mounts(), _own()
    found: dict[str, Hierarchy] = {}
    why_not_v2 = ""
    v2 = next((m for m in mounts if m[1] == "cgroup2"), None)
    if v2 is not None and "" in own:
        parent = v2[0] / own[""].lstrip("/")
        try:
            offered = set((parent / "cgroup.controllers").read_text().split())
        except OSError:
            offered = set()
        wanted = [c for c in WANTED if c in offered]
        if wanted and _writable(parent) and _enable(parent, wanted):
            found.update({c: Hierarchy(c, parent, True) for c in wanted})
        elif "memory" in wanted:
            why_not_v2 = (
                f"; cgroup v2: {parent} cannot give its children the memory controller "
                "(it holds processes itself, or is not this user's): start the harness in "
                "a group of its own with nothing else in it"
            )
    for point, kind, options in mounts:
        for c in WANTED:
            if kind == "cgroup" and c in options and c not in found and c in own:
                parent = point / own[c].lstrip("/")
                if _writable(parent):
                    found[c] = Hierarchy(c, parent, False)
    if "memory" not in found:
        if os.geteuid() != 0:
            return [], "no cgroup to hold a run's memory: not root, and none delegated to this user"
        return [], f"no writable cgroup memory controller on this host{why_not_v2}"
    return [found[c] for c in WANTED if c in found], ""


def _enable(parent: Path, controllers: list[str]) -> bool:
    """v2: the controllers on for the parent's children (refused in a non-root group
    that holds processes itself: then v1, or nothing)."""
    control = parent / "cgroup.subtree_control"
    try:
        on = set(control.read_text().split())
        missing = [c for c in controllers if c not in on]
        if missing:
            control.write_text(" ".join(f"+{c}" for c in missing))
        return True
    except OSError:
        return False


_probe: tuple[list[Hierarchy], str] | None = None


def find() -> tuple[list[Hierarchy], str]:
    """The hierarchies runs' groups are made in, or [] and the one line saying why not
    (probed once)."""
    global _probe
    if _probe is None:
        _probe = _hierarchies()
    return _probe


def make(memory_mb: float, tasks: int, cores: float | None) -> Group | None:
    """A new group for one run, its limits set; None where cgroups are not available.

    Groups a crashed harness left under the same parents are removed first.

    Args:
        memory_mb: the run's memory, tmpfs and shared memory included; swap is not extra.
        tasks: processes and threads.
        cores: CPU time, in cores (None: no cap).
    """
    hierarchies, _ = find()
    if not hierarchies:
        return None
    for parent in {h.parent for h in hierarchies}:
        clean_stale(parent)
    name = f"{PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    group = Group(hierarchies, name, int(memory_mb * 2**20), cores)
    try:
        for h in hierarchies:
            folder = h.parent / group.name
            if not folder.exists():
                folder.mkdir()
            group.folders[h.controller] = folder
            _limit(h, folder, group.memory_bytes, tasks, cores)
    except OSError:
        group.remove()
        raise
    return group


def _limit(h: Hierarchy, folder: Path, memory: int, tasks: int, cores: float | None) -> None:
    def put(name: str, value: str) -> None:
        (folder / name).write_text(value)

    if h.controller == "memory" and h.v2:
        put("memory.max", str(memory))
        if (folder / "memory.swap.max").exists():
            put("memory.swap.max", "0")
        if (folder / "memory.oom.group").exists():
            put("memory.oom.group", "1")  # the run ends as one, never half of it
    elif h.controller == "memory":
        put("memory.limit_in_bytes", str(memory))
        if (folder / "memory.memsw.limit_in_bytes").exists():  # swap is not more memory
            put("memory.memsw.limit_in_bytes", str(memory))
    elif h.controller == "pids":
        put("pids.max", str(tasks))
    elif h.controller == "cpu":
        # a group weighs as one task against the processes outside it, however many
        # threads it runs: weighed as its cores, it gets what its threads would get outside
        # one (a plain script's). Left at the default one task's weight, torch's threads in
        # a run on a busy 2-core machine got 1.5x less CPU than a plain script's.
        weight = cores or os.cpu_count() or 1
        if h.v2:
            put("cpu.weight", str(min(10_000, max(1, round(100 * weight)))))
        else:
            put("cpu.shares", str(min(262_144, max(2, round(1024 * weight)))))
        if cores:
            quota = max(1000, int(cores * CPU_PERIOD_US))
            if h.v2:
                put("cpu.max", f"{quota} {CPU_PERIOD_US}")
            else:
                put("cpu.cfs_period_us", str(CPU_PERIOD_US))
                put("cpu.cfs_quota_us", str(quota))


def entering(group: Group, argv: list[str]) -> list[str]:
    """`argv` run by a shell that first moves itself into the group (exit 125 if it can't)."""
    files = group.procs_files()
    return ["/bin/sh", "-c", ENTER, "harness-enter", str(len(files)), *files, *argv]


def _procs(folder: Path) -> list[int]:
    try:
        return [int(p) for p in (folder / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _remove(folder: Path) -> None:
    """Kills a group's processes (and its children groups') and removes it, within ~5 s."""
    if not folder.is_dir():
        return
    for child in [p for p in folder.iterdir() if p.is_dir()]:
        _remove(child)
    deadline = time.monotonic() + 5
    while True:
        if (folder / "cgroup.kill").exists():
            try:
                (folder / "cgroup.kill").write_text("1")
            except OSError:
                pass
        for pid in _procs(folder):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() > deadline:
                return  # left for the next run's clean_stale
            time.sleep(0.05)


def alive(pid: int) -> bool:
    """Whether a process of this pid exists (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(parent: Path) -> list[str]:
    """Removes the groups under `parent` whose harness has ended; returns their names."""
    gone = []
    try:
        names = [p.name for p in parent.iterdir()]
    except OSError:
        return gone
    for name in names:
        m = STALE.fullmatch(name)
        if m and not alive(int(m.group(1))):
            _remove(parent / name)
            gone.append(name)
    return gone
