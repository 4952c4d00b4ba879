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
import stat
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


def pyplot():
    """matplotlib's pyplot on the Agg backend: no display in a worker or a server."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
