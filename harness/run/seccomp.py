"""The seccomp filter every sandboxed run gets: no namespaces and no mounts of its own.

bubblewrap loads it (`--seccomp FD`) just before it execs the run's command, so bwrap's
own setup is unaffected and everything after it (prlimit, setpriv, the worker, whatever
the submission starts) is bound by it. Without it a run in root mode could make a user
namespace (`unshare -rm`), mount a tmpfs there and fill host memory that no process's
RSS shows, out of the memory watch's sight.

The program is classic BPF written out here rather than built with libseccomp: about 30
instructions, no library to find at run time. It refuses with EPERM `unshare`, `clone`
with any CLONE_NEW* flag, `setns`, `mount`, `umount2`, `pivot_root` and the new mount API
(`fsopen`, `fsconfig`, `fsmount`, `fspick`, `open_tree`, `open_tree_attr`, `move_mount`,
`mount_setattr`); `clone3` gets ENOSYS, because its flags sit in memory a filter cannot
read, and glibc then falls back to `clone`, whose flags it can. Everything else is allowed.
"""

from __future__ import annotations

import errno
import platform
import struct

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
NR, ARCH, ARG0_LOW = 0, 4, 16  # offsets; x86-64 is little-endian, flags sit in the low word
AUDIT_ARCH_X86_64 = 0xC000003E
X32_BIT = 0x40000000  # x32 ABI calls carry this bit in their number

# x86-64 numbers (asm/unistd_64.h)
CLONE, UNSHARE, CLONE3 = 56, 272, 435
REFUSED = {
    "pivot_root": 155,
    "mount": 165,
    "umount2": 166,
    "setns": 308,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
    "open_tree_attr": 467,
}
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
CLONE_NEW = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000
CLONE_NEW |= 0x40000000
CLONE_NEWTIME = 0x80  # unshare only: in clone's flags these bits are the exit signal

# classic BPF opcodes
LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
JEQ, JGE, JSET = 0x15, 0x35, 0x45  # BPF_JMP | BPF_K with JEQ, JGE, JSET
RET = 0x06  # BPF_RET | BPF_K
ALLOW = 0x7FFF0000  # SECCOMP_RET_ALLOW
ERRNO = 0x00050000  # SECCOMP_RET_ERRNO, the errno in the low 16 bits


def unsupported() -> str | None:
    """Why this host gets no filter (one line), or None where it does."""
    machine = platform.machine()
    if machine in ("x86_64", "AMD64"):
        return None
    return f"no seccomp filter on {machine}: only x86-64's system call numbers are written out"


def program() -> bytes:
    """The compiled filter, as bwrap's --seccomp reads it (struct sock_filter, in order)."""
    # (code, jump-if-true label, jump-if-false label, k); None: fall through
    code: list[tuple[int, str | None, str | None, int] | str] = [
        (LD_W_ABS, None, None, ARCH),
        # a 32-bit call (int 0x80) from inside would slip past the x86-64 numbers below
        (JEQ, None, "foreign", AUDIT_ARCH_X86_64),
        (LD_W_ABS, None, None, NR),
        (JGE, "foreign", None, X32_BIT),
        *((JEQ, "eperm", None, nr) for nr in REFUSED.values()),
        (JEQ, "enosys", None, CLONE3),
        (JEQ, "clone", None, CLONE),
        (JEQ, "unshare", None, UNSHARE),
        (RET, None, None, ALLOW),
        "clone",
        (LD_W_ABS, None, None, ARG0_LOW),
        (JSET, "eperm", None, CLONE_NEW),
        (RET, None, None, ALLOW),
        "unshare",
        (LD_W_ABS, None, None, ARG0_LOW),
        (JSET, "eperm", None, CLONE_NEW | CLONE_NEWTIME),
        (RET, None, None, ALLOW),
        "eperm",
        (RET, None, None, ERRNO | errno.EPERM),
        "enosys",
        (RET, None, None, ERRNO | errno.ENOSYS),
        "foreign",  # another ABI's calls: as if the kernel had none
        (RET, None, None, ERRNO | errno.ENOSYS),
    ]
    labels, at = {}, 0
    for item in code:
        if isinstance(item, str):
            labels[item] = at
        else:
            at += 1
    out, at = [], 0
    for item in code:
        if isinstance(item, str):
            continue
        op, yes, no, k = item
        # jumps are counted from the next instruction, forward only
        jt = labels[yes] - at - 1 if yes else 0
        jf = labels[no] - at - 1 if no else 0
        out.append(struct.pack("<HBBI", op, jt, jf, k))
        at += 1
    return b"".join(out)
