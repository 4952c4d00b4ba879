"""Diagnostic artifacts of a run: plots and tables written beside its log, indexed.

Competitions write them with these helpers: in the worker (`diagnose(learn, out)`: what
a model learned, e.g. embeddings) and in the scorer (`report(...)`: what needs the hidden
labels, e.g. a confusion matrix). Each file is listed in `artifacts.json` with a title,
so the store and the leaderboard can show them without knowing the competition.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

INDEX = "artifacts.json"


def _add(folder: Path, name: str, kind: str, title: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    index = folder / INDEX
    entries = json.loads(index.read_text()) if index.exists() else []
    entries = [e for e in entries if e["name"] != name] + [
        {"name": name, "kind": kind, "title": title}
    ]
    index.write_text(json.dumps(entries, indent=1))
    return folder / name


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
    """The artifacts of a run folder, with their absolute paths."""
    index = Path(folder) / INDEX
    if not index.exists():
        return []
    return [{**e, "path": str(Path(folder) / e["name"])} for e in json.loads(index.read_text())]


def pyplot():
    """matplotlib's pyplot on the Agg backend: no display in a worker or a server."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
