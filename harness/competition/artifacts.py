"""Diagnostic artifacts of a run: plots and tables written beside its log, indexed.

Competitions write them with these helpers: in the worker (`diagnose(learn, out)`: what
a model learned, e.g. embeddings) and in the scorer (`report(...)`: what needs the hidden
labels, e.g. a confusion matrix). Each file is listed in `artifacts.json` with a title,
so the store and the leaderboard can show them without knowing the competition.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import struct
from pathlib import Path

import pandas as pd

from harness.errors import HarnessError

INDEX = "artifacts.json"
KINDS = ("png", "csv", "json")
# a name is one plain file name: no folders, no leading dot, a known extension
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,119}\.(png|csv|json)")
MAX_ENTRIES = 500
MAX_TITLE = 300
INDEX_CAP = 1 * 2**20  # bytes of artifacts.json
FILE_CAP = 32 * 2**20  # bytes of one artifact
# a plot is far smaller; a PNG of huge dimensions and a tiny file (a decompression
# bomb) is far larger, and decoding it costs a page view seconds and gigabytes
MAX_PIXELS = 25_000_000
RUN_PIXELS = 4 * MAX_PIXELS  # all of a run's images: the host makes their thumbnails
THUMB_SIDE = 1600  # an image wider or taller is shown as a thumbnail of this side
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
THUMBS = "thumbs"  # in the run's folder, beside artifacts/: the host's own, made once


class ArtifactError(HarnessError):
    """An artifact index or file that breaks the rules; str() is one line."""


def check_name(name, kind=None) -> str:
    """A safe artifact file name (matching SAFE_NAME, its extension its kind), or raises."""
    m = SAFE_NAME.fullmatch(name) if isinstance(name, str) else None
    if m is None or ".." in name:
        raise ArtifactError(f"artifact name {str(name)[:60]!r} is not a plain file name")
    if kind is not None and m.group(1) != kind:
        raise ArtifactError(f"artifact {name!r} is not of kind {str(kind)[:10]!r}")
    return name


def safe_path(folder: Path, name: str, cap: int = FILE_CAP) -> Path:
    """The artifact's path: a regular file (no link) inside `folder`, at most `cap` bytes.

    Raises:
        ArtifactError: the name, the place or the file breaks the rules.
    """
    check_name(name)
    folder = Path(folder)
    path = folder / name
    try:
        st = os.lstat(path)
    except OSError:
        raise ArtifactError(f"artifact {name!r} is missing") from None
    if not stat.S_ISREG(st.st_mode):
        raise ArtifactError(f"artifact {name!r} is not a regular file (links are refused)")
    if os.path.realpath(path) != os.path.join(os.path.realpath(folder), name):
        raise ArtifactError(f"artifact {name!r} lies outside its run's folder")
    if st.st_size > cap:
        raise ArtifactError(f"artifact {name!r} is {st.st_size:,} bytes, over {cap:,}")
    return path


def _load_index(folder: Path) -> list:
    index = Path(folder) / INDEX
    if not index.exists() and not index.is_symlink():
        return []
    try:
        raw = safe_path(folder, INDEX, INDEX_CAP).read_bytes()
        entries = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ArtifactError(f"{INDEX} is not JSON ({e})") from None
    if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
        raise ArtifactError(f"{INDEX} must be a list of at most {MAX_ENTRIES} entries")
    for e in entries:
        if not isinstance(e, dict) or e.get("kind") not in KINDS:
            raise ArtifactError(f"{INDEX}: an entry without a kind of {', '.join(KINDS)}")
        check_name(e.get("name"), e["kind"])
        title = e.get("title")
        if title is not None and (not isinstance(title, str) or len(title) > MAX_TITLE):
            raise ArtifactError(f"{INDEX}: the title of {e['name']!r} is not a short text")
    return entries


def _add(folder: Path, name: str, kind: str, title: str) -> Path:
    check_name(name, kind)
    folder.mkdir(parents=True, exist_ok=True)
    index = folder / INDEX
    entries = _load_index(folder)
    entries = [e for e in entries if e["name"] != name] + [
        {"name": name, "kind": kind, "title": title}
    ]
    index.write_text(json.dumps(entries, indent=1))
    path = folder / name
    if path.is_symlink():  # never write through a link someone left here
        path.unlink()
    return path


def save_figure(folder: Path, name: str, fig, title: str) -> Path:
    """A matplotlib figure as PNG; the figure is closed."""
    import matplotlib.pyplot as plt

    path = _add(folder, f"{name}.png", "png", title)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def save_table(folder: Path, name: str, df: pd.DataFrame, title: str) -> Path:
    """A small table as CSV."""
    path = _add(folder, f"{name}.csv", "csv", title)
    df.to_csv(path, index=False)
    return path


def save_json(folder: Path, name: str, obj, title: str) -> Path:
    """Numbers or lists as JSON, e.g. an lr_find curve."""
    path = _add(folder, f"{name}.json", "json", title)
    path.write_text(json.dumps(obj, indent=1, default=float))
    return path


def read_index(folder: Path) -> list[dict]:
    """The artifacts of a run folder, with their absolute paths.

    The index and the files may come from a member's code, so each entry is checked: a
    safe name of its kind, a short text title, a regular file inside the folder.

    Raises:
        ArtifactError: the first entry (or the index itself) that breaks the rules.
    """
    out = []
    for e in _load_index(folder):
        path = safe_path(folder, e["name"])
        out.append(
            {"name": e["name"], "kind": e["kind"], "title": e.get("title"), "path": str(path)}
        )
    return out


def image_size(path: Path, name: str) -> tuple[int, int]:
    """A PNG's width and height, read from its header (nothing is decoded).

    Raises:
        ArtifactError: not a PNG.
    """
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != PNG_SIGNATURE or head[12:16] != b"IHDR":
        raise ArtifactError(f"artifact {name!r} is not a PNG")
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def check_image(path: Path, name: str) -> tuple[int, int]:
    """The PNG's size, at most MAX_PIXELS pixels, or raises ArtifactError."""
    w, h = image_size(path, name)
    if w * h > MAX_PIXELS:
        raise ArtifactError(
            f"artifact {name!r} is {w:,}x{h:,} pixels, over the cap of {MAX_PIXELS:,}"
        )
    return w, h


def keep_declared(folder: Path) -> str | None:
    """A run's artifacts folder once the run has ended: its index and the files the index
    declares, each within its caps (bytes, and pixels for a PNG); everything else is
    deleted. A broken index or entry empties the folder, and its line is returned.
    """
    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        return None
    try:
        found = read_index(folder)
        pixels = 0
        for a in found:
            if a["kind"] == "png":
                w, h = check_image(Path(a["path"]), a["name"])
                pixels += w * h
        if pixels > RUN_PIXELS:  # each one is decoded once, for its thumbnail, on the host
            raise ArtifactError(
                f"its images have {pixels:,} pixels in all, over a run's {RUN_PIXELS:,}"
            )
        kept = {INDEX, *(a["name"] for a in found)}
        problem = None
    except ArtifactError as e:
        kept, problem = set(), str(e)
    for path in folder.iterdir():
        if path.name in kept:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return problem


def thumbnail(folder: Path, name: str) -> Path | None:
    """The PNG artifact's thumbnail (THUMBS beside `folder`), made now if it is wider or
    taller than THUMB_SIDE and has none yet; None for an image small enough as it is.

    Raises:
        ArtifactError: over the pixel cap, or not a PNG.
    """
    from PIL import Image

    path = safe_path(folder, name)
    thumb = Path(folder).parent / THUMBS / name
    if thumb.is_file() and not thumb.is_symlink():
        return thumb
    w, h = check_image(path, name)
    if max(w, h) <= THUMB_SIDE:
        return None
    thumb.parent.mkdir(exist_ok=True)
    try:
        with Image.open(path, formats=["PNG"]) as im:
            im.thumbnail((THUMB_SIDE, THUMB_SIDE))
            part = thumb.with_name(f".{name}.part")
            im.save(part, format="PNG")
            part.replace(thumb)  # whole or not at all: a page never shows half of one
    except Exception as e:
        raise ArtifactError(f"artifact {name!r} cannot be reduced ({type(e).__name__})") from None
    return thumb


def pyplot():
    """matplotlib's pyplot on the Agg backend: no display in a worker or a server."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
