"""A run's log, written by the host alone.

The run's standard output and error reach the log through a pipe and a thread of the host
(`Relay`), never as an open file of the run's: a run can neither seek back over the host's
lines nor truncate them. `[harness]` starts the host's lines only (what it gave the run,
what it measured); a line of the run that would start with it, after spaces, control
characters or terminal escapes, is kept as `[run] [harness] ...`. The harness's own
worker runs beside the member's code, so its lines are the run's too: they start `[run]`.
"""

from __future__ import annotations

import os
import re
import select
import threading
import time
from collections.abc import Callable
from typing import BinaryIO

HOST = "[harness]"  # the host's lines only
RUN = "[run]"  # what the run says of itself (the worker's lines)
CHUNK = 64 * 2**10  # bytes read at once; and a line longer than this is written in parts
DRAIN_SECONDS = 1.0  # after the run's end: what is still in the pipe, then no more
# what may stand before a forged mark and still show it at a line's start: spaces,
# control characters (a carriage return too), terminal escapes (CSI, OSC and two-byte
# ones), and Unicode spaces and format characters (no-break, zero-width, bidi, BOM)
_LEAD = (
    rb"(?:\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -~]?"
    rb"|[\x00-\x20\x7f]|\xc2[\x80-\xa0]|\xe2\x80[\x80-\x8f\xa8-\xaf]|\xe2\x81[\x9f-\xaf]"
    rb"|\xe3\x80\x80|\xef\xbb\xbf)*"
)
_FORGED = re.compile(rb"((?:^|\r)" + _LEAD + rb")(?=\[harness\])", re.M | re.I)


def escape(data: bytes, at_start: bool = True) -> bytes:
    """The run's output with every `[harness]` that would start a line (or follow a
    carriage return) turned into `[run] [harness]`.

    Args:
        data: whole lines, or the first part of one (`at_start`) or a later part.
        at_start: whether `data` begins a line.
    """
    if not at_start:  # a line's later part: its first byte starts no line
        return escape(b"x" + data)[1:]
    return _FORGED.sub(rb"\1" + RUN.encode() + rb" ", data)


class Relay(threading.Thread):
    """Copies the run's output from a pipe into its log: escaped (`escape`), handed line by
    line to `emit`, at most a little over `cap` bytes written (then read and dropped, so
    the run never blocks: the runner stops a run whose log passed its cap).

    Args:
        fd: the pipe's end to read; the relay closes it.
        log: the log file, open for binary writing; the relay and `host` write it.
        cap: the bytes the log may hold.
        emit: called with each line, as text, as it is written.
    """

    def __init__(self, fd: int, log: BinaryIO, cap: int, emit: Callable[[str], None] | None = None):
        super().__init__(daemon=True)
        self.fd, self.log, self.cap, self.emit = fd, log, cap, emit
        self.written, self.shown = 0, b""
        # at a line's start for escaping (a carriage return counts), and for the host's lines
        self.at_start, self.newline = True, True
        self.lock, self.ending = threading.Lock(), threading.Event()

    def host(self, line: str) -> None:
        """One line of the host's own, on a line of its own."""
        with self.lock:
            if not self.newline:
                self._write(b"\n")
            self._write(f"{line}\n".encode())

    def stop(self) -> None:
        """The run has ended: read what the pipe still holds (for a moment), then end."""
        self.ending.set()
        self.join()

    def run(self) -> None:
        buf, until = b"", None
        try:
            while True:
                if self.ending.is_set() and until is None:
                    # whatever the run left running outside its sandbox may hold the pipe
                    until = time.monotonic() + DRAIN_SECONDS
                if until is not None and time.monotonic() > until:
                    break
                ready, _, _ = select.select([self.fd], [], [], 0.1)
                if not ready:
                    continue
                chunk = os.read(self.fd, CHUNK)
                if not chunk:
                    break
                buf += chunk
                cut = max(buf.rfind(b"\n"), buf.rfind(b"\r")) + 1
                if cut == 0 and len(buf) >= CHUNK:
                    cut = len(buf)  # one very long line: its parts, escaped at its start only
                if cut:
                    self._relay(buf[:cut])
                    buf = buf[cut:]
            if buf:
                self._relay(buf)
        finally:
            os.close(self.fd)
            with self.lock:
                if not self.newline:  # the run's last line, ended here
                    self._write(b"\n")

    def _relay(self, data: bytes) -> None:
        with self.lock:
            self._write(escape(data, self.at_start))

    def _write(self, data: bytes) -> None:
        """Writes under the lock (the cap counted), and hands whole lines to `emit`."""
        self.at_start = data.endswith((b"\n", b"\r"))
        self.newline = data.endswith(b"\n")
        if self.written > self.cap:
            return
        self.log.write(data)
        self.log.flush()
        self.written += len(data)
        if self.emit:
            *lines, self.shown = (self.shown + data).split(b"\n")
            if len(self.shown) >= CHUNK:  # a line without end: shown in parts
                lines, self.shown = [*lines, self.shown], b""
            for line in lines:
                self.emit(line.decode("utf-8", errors="replace"))
