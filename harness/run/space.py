"""A run's writable folders on a filesystem of their own size: no write can overshoot.

In root mode the runner mounts a tmpfs capped at the run's disk cap (bytes and files)
and the sandbox binds the run's out/, artifacts/ and work/ from it: a write or a
`posix_fallocate` past the cap fails at once (ENOSPC), where checking the folders' size
every few seconds would stop the run only after the host lost the space. Its pages are
memory charged to the run's cgroup (harness.run.cgroups), so it is part of the run's
memory limit too. After the run the runner copies what the record needs onto the disk
and unmounts it; a mount a crashed harness left (`space.<pid>`, its source `harness-space`,
its harness gone) is detached at the next run.
"""

from __future__ import annotations

import ctypes
import os
import re
from pathlib import Path

from harness.run import cgroups

MS_NOSUID, MS_NODEV = 2, 4
MNT_DETACH = 2
NAME = re.compile(r"space\.(\d+)")
SOURCE = "harness-space"  # the mounts' source in /proc/self/mountinfo: ours, and only ours

_libc = None


def _c():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)  # this process's own libc (no ldconfig -p)
    return _libc


def mount(folder: Path, size: int, files: int) -> bool:
    """A tmpfs of `size` bytes and `files` inodes at `folder` (made); False where this
    process may not mount (not root), and `folder` is then a plain folder."""
    folder.mkdir(mode=0o755)
    if os.geteuid() != 0:
        return False
    options = f"size={size},nr_inodes={files},mode=0755".encode()
    done = _c().mount(SOURCE.encode(), os.fsencode(folder), b"tmpfs", MS_NOSUID | MS_NODEV, options)
    return done == 0


def unmount(folder: Path) -> None:
    """Detaches the tmpfs at `folder` (its files go with it) and removes the folder."""
    _c().umount2(os.fsencode(folder), MNT_DETACH)
    try:
        folder.rmdir()
    except OSError:
        pass


def folder_for(run_dir: Path) -> Path:
    return run_dir / f"space.{os.getpid()}"


def clean_stale() -> list[str]:
    """Detaches the run folders' tmpfs mounts whose harness has ended; returns them."""
    gone = []
    for point, kind, source, _ in cgroups.mountinfo():
        m = NAME.fullmatch(point.name)
        if kind == "tmpfs" and source == SOURCE and m and not cgroups.alive(int(m.group(1))):
            unmount(point)
            gone.append(str(point))
    return gone
