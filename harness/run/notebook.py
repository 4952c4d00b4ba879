"""A notebook submission, executed headless on a real IPython kernel (nbclient).

The worker runs it top to bottom in the run's sandbox, limits and working directory;
the kernel is a child of the worker, so it is seeded and instrumented as the worker is
(`worker.kernel_setup`, run silently before the first cell). `!cmd`, `%magics` and `display`
behave as in Jupyter. The executed notebook, with its outputs, is kept as
out/notebook.ipynb; a failing cell fails the run in one line: the cell's number, its
first line and the error.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tempfile
from pathlib import Path

EXECUTED = "notebook.ipynb"  # in out/: the notebook with the run's outputs
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")  # IPython colours its tracebacks


class CellFailed(Exception):
    """A cell raised; str() is the one line the run records."""


def first_line(source: str) -> str:
    """A cell's first line of code, for the error that names it."""
    for line in source.splitlines():
        if line.strip():
            return line.strip()[:120]
    return ""


def execute(path: Path, job: dict, out: Path, working: Path, log=print) -> None:
    """Runs every cell of the notebook at `path` in a fresh kernel, in `working`.

    Raises:
        CellFailed: a cell raised (the notebook so far is kept all the same).
    """
    import nbformat
    from jupyter_client.manager import AsyncKernelManager
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    # the kernel's sockets are files in its private /tmp, not TCP ports
    # (absolute: a relative socket path would be taken from each process's own cwd)
    sockets = Path(tempfile.mkdtemp(prefix="kernel-")) / "ipc"
    km = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=str(sockets))
    client = _client(
        nb,
        km=km,
        timeout=None,  # the runner's limit applies to the whole run
        kernel_name="python3",
        allow_errors=False,
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(working)}},
    )
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    try:
        with client.setup_kernel(cwd=str(working)):
            args = f"__import__('json').loads({json.dumps(json.dumps(job))})"
            setup = f"from harness.run.worker import kernel_setup as _k\n_k({args})\ndel _k"
            reply = client.wait_for_reply(client.kc.execute(setup, silent=True))
            if reply is None or reply["content"].get("status") != "ok":
                why = (reply or {}).get("content", {}).get("evalue", "no reply")
                raise CellFailed(f"the notebook's kernel could not be set up: {why}")
            try:
                for n, index in enumerate(code, start=1):
                    cell = nb.cells[index]
                    log(f"[run] cell {n}/{len(code)}: {first_line(cell.source)}")
                    try:
                        client.execute_cell(cell, index)
                    except CellExecutionError as e:
                        error = f"{e.ename}: {ANSI.sub('', str(e.evalue))}".strip().rstrip(":")
                        raise CellFailed(
                            f"cell {n} ({first_line(cell.source)}) failed: "
                            + " ".join(error.split())
                        ) from None
                    except DeadKernelError:
                        raise CellFailed(
                            f"cell {n} ({first_line(cell.source)}) ended the notebook's kernel "
                            "(out of memory, or the code exited it)"
                        ) from None
            finally:  # what the kernel knew (versions, device, warnings, weights), however it ended
                facts = f"from harness.run.worker import write_kernel_facts as _w\n_w({args})"
                with contextlib.suppress(Exception):  # a dead kernel knows nothing more
                    client.wait_for_reply(client.kc.execute(facts, silent=True))
    finally:
        nbformat.write(nb, out / EXECUTED)
        shutil.rmtree(sockets.parent, ignore_errors=True)


def _client(nb, **kwargs):
    """nbclient's NotebookClient, its streamed output also written to the run's log."""
    from nbclient import NotebookClient

    class Client(NotebookClient):
        def output(self, outs, msg, display_id, cell_index):
            if msg["msg_type"] == "stream":
                print(msg["content"].get("text", ""), end="", flush=True)
            elif msg["msg_type"] == "error":
                print("\n".join(ANSI.sub("", t) for t in msg["content"]["traceback"]))
            return super().output(outs, msg, display_id, cell_index)

    return Client(nb, **kwargs)


# What the board shows of an executed notebook: text and images only, each capped. The
# notebook is the run's output, hostile input: never its HTML, JavaScript or markdown.
SHOWN_CAP = 32 * 2**20  # bytes of executed notebook read back
MAX_CELLS = 500
TEXT_CAP = 20_000  # characters of one output shown
IMAGE_CAP = 4 * 2**20  # bytes of one image
MAX_IMAGES = 60
MAX_PIXELS = 25_000_000  # a plot is far smaller; a decompression bomb is far larger
IMAGE_MIMES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}


def _joined(v) -> str:
    """A notebook text field: a string, or a list of strings (nbformat allows both)."""
    if isinstance(v, str):
        return v
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return "".join(v)
    return ""


def _capped(text: str) -> str:
    text = ANSI.sub("", text)
    if len(text) <= TEXT_CAP:
        return text
    return text[:TEXT_CAP] + f"\n[... {len(text) - TEXT_CAP:,} more characters not shown]"


def _pixels(raw: bytes) -> int:
    """An image's pixel count from its header alone (nothing is decoded)."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(raw)) as im:
            return im.size[0] * im.size[1]
    except Exception:  # PIL's DecompressionBombError among others: not shown
        return MAX_PIXELS + 1


def shown_cells(path: Path) -> list[dict]:
    """An executed notebook as the board shows it: per cell its kind ("code",
    "markdown", "raw"), its source, and for code its outputs as ("text", str),
    ("image", bytes) or ("error", str).

    Raises:
        ValueError: a file that is missing, too large, not JSON or not a notebook's shape.
    """
    if path.is_symlink() or not path.is_file():
        raise ValueError(f"{path.name} is not a regular file")
    if path.stat().st_size > SHOWN_CAP:
        raise ValueError(f"{path.name} is over {SHOWN_CAP // 2**20} MiB")
    return shown_cells_of(path.read_bytes(), path.name)


def shown_cells_of(raw: bytes | str, name: str = "the notebook") -> list[dict]:
    """`shown_cells` of a notebook's text (a stored submission's, without outputs).

    Raises:
        ValueError: not JSON, or not a notebook's shape.
    """
    import base64
    import binascii

    try:
        nb = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"{name} is not JSON ({e})") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise ValueError(f"{name} has no list of cells")
    shown, images = [], 0
    for cell in cells[:MAX_CELLS]:
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            continue
        outputs = []
        outs = cell.get("outputs") if cell["cell_type"] == "code" else None
        for o in outs if isinstance(outs, list) else []:
            if not isinstance(o, dict):
                continue
            kind = o.get("output_type")
            if kind == "stream":
                outputs.append(("text", _capped(_joined(o.get("text")))))
            elif kind == "error":
                tb = o.get("traceback")
                text = (
                    "\n".join(t for t in tb if isinstance(t, str)) if isinstance(tb, list) else ""
                )
                outputs.append(("error", _capped(text or f"{o.get('ename')}: {o.get('evalue')}")))
            elif kind in ("execute_result", "display_data") and isinstance(o.get("data"), dict):
                data = o["data"]
                image = next((m for m in IMAGE_MIMES if isinstance(data.get(m), str)), None)
                if image and images < MAX_IMAGES and len(data[image]) <= IMAGE_CAP * 4 // 3 + 4:
                    try:
                        raw = base64.b64decode(data[image], validate=False)
                    except (binascii.Error, ValueError):
                        raw = b""
                    if raw.startswith(IMAGE_MIMES[image]) and _pixels(raw) <= MAX_PIXELS:
                        outputs.append(("image", raw))
                        images += 1
                        continue
                if "text/plain" in data:
                    outputs.append(("text", _capped(_joined(data["text/plain"]))))
        shown.append(
            {
                "kind": cell["cell_type"],
                "source": _capped(_joined(cell.get("source"))),
                "outputs": outputs,
            }
        )
    return shown
