"""fastai's `untar_data` inside a run: the competition's own data, offline, as the course has it.

A run has no network, and the folders `harness data path` prints do not exist inside it,
so course code such as `path = untar_data(URLs.PETS)` would fail with a download error.
Instead, a competition declares in its `course_data()` which of fastai's datasets it
stands in for, each with a function that turns its train and valid frames into the files
of that dataset's folder (Pets' `oxford-iiit-pet/images/<breed>_<n>.jpg`). `install(job)`,
called by every process that runs member code (`worker.prepare_process`), replaces
`fastdownload.FastDownload.get` (what `untar_data` calls) the moment fastdownload is
imported: a declared URL is laid out on its first call where fastai would have extracted
the archive (`$FASTAI_HOME/data/<name>`, a folder of the run's own), any other URL fails
in one line. The hidden test is never read, so it never appears in a layout; a run that
never calls `untar_data` pays nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

# beside each folder laid out here: whose it is, so nothing else is ever taken for it
MARKER = ".{name}.harness.json"
INPUTS = ("train", "valid")  # the frames a layout may read; never test
FRAMES = "in the frames the harness passes to train(dls) and fit_predict(train, valid, test)"
_elsewhere: dict[Path, Path] = {}  # a folder that was not ours -> this process's own copy


class NoNetwork(RuntimeError):
    """untar_data was asked for a dataset that only a download could give."""


def install(job: dict) -> None:
    """fastai's untar_data finds the competition's course data, once fastdownload is imported.

    Args:
        job: the run's job fields; `competition` and `inputs` (the folder of
            train.parquet and valid.parquet, as this process sees it) are read.
    """
    from harness.run import repro

    repro.after_import("fastdownload", lambda module: _patch(module.FastDownload, job))


def _patch(cls, job: dict) -> None:
    def get(self, url, extract_key="data", force=False):
        from fastcore.net import urlclean

        # where fastdownload would extract the archive: <data>/<archive name less .tgz>
        dest = self.data_path(extract_key, Path(urlclean(Path(url).name)))
        return lay_out(job, url, Path(dest), force)

    get.__doc__ = "The run's own copy of `url`'s dataset, laid out from the competition's data."
    cls.get = get


def layouts(comp) -> dict:
    """{fastai URL: (URLs attribute name, files(train, valid))} the competition declares."""
    declare = comp.hook("course_data")
    if declare is None:
        return {}
    from fastai.data.external import URLs

    return {getattr(URLs, name): (name, files) for name, files in declare().items()}


def lay_out(job: dict, url: str, dest: Path, force: bool = False) -> Path:
    """The folder of `url`'s dataset made from the run's train and valid, made at most once.

    A folder already at `dest` that this module did not make for these inputs (a real
    download in a shared FASTAI_HOME) is neither read nor replaced: the layout goes to a
    private temporary folder instead, so a run never sees more than train and valid.

    Raises:
        NoNetwork: the competition declares no layout for `url`; the message says where
            its data is.
    """
    from harness.competition.registry import get

    comp = get(job["competition"])
    declared = layouts(comp)
    if url not in declared:
        raise NoNetwork(unavailable(url, comp, declared))
    name, files = declared[url]
    inputs = Path(job["inputs"])
    key = {"competition": comp.name, "dataset": name, "inputs": fingerprint(inputs)}
    marker = dest.parent / MARKER.format(name=dest.name)
    if dest.exists() and not marker.is_file():  # not ours: neither read nor replaced
        if dest in _elsewhere and not force:
            return _elsewhere[dest]
        private = Path(tempfile.mkdtemp(prefix="harness-untar-")) / dest.name
        _elsewhere[dest] = dest = private
        marker = dest.parent / MARKER.format(name=dest.name)
    elif dest.exists() and _read(marker) == key and not force:
        return dest
    from harness.competition.data import read_parquet

    train, valid = (read_parquet(inputs / f"{k}.parquet") for k in INPUTS)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    count = 0
    try:
        for rel, data in files(train, valid).items():
            if Path(rel).is_absolute() or ".." in Path(rel).parts:
                raise ValueError(f"{comp.name}: course_data names a file outside its folder: {rel}")
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            count += 1
        tmp.chmod(0o755)  # mkdtemp's 0700, opened as an extracted archive's folder is
        if dest.exists():  # a stale or forced layout of ours
            shutil.rmtree(dest)
        with contextlib.suppress(OSError):  # another process of the run laid it out first
            tmp.rename(dest)
        marker.write_text(json.dumps(key))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"[run] untar_data(URLs.{name}): {count:,} files made from the competition's "
        f"train and valid (no network in a run; never the hidden test) in {dest}",
        flush=True,
    )
    return dest


def unavailable(url: str, comp, declared: dict) -> str:
    """The one line a run reads when untar_data asks for a download."""
    places = [f"untar_data(URLs.{name})" for name, _ in declared.values()]
    kaggle = Path("/kaggle/input")
    if kaggle.is_dir():  # notebook and script runs see the competition's files there
        places += [f"{p}/" for p in sorted(map(str, kaggle.iterdir()))]
    where = f"at {', '.join(places)}" if places else FRAMES
    return (
        f"untar_data cannot download {url} inside a run (no network); "
        f"this competition's data is {where}"
    )


def fingerprint(inputs: Path) -> dict:
    """What identifies the inputs a layout was made from: their folder and files' sizes."""
    sizes = {k: os.stat(inputs / f"{k}.parquet").st_size for k in INPUTS}
    return {"folder": str(inputs), **sizes}


def _read(marker: Path) -> dict | None:
    try:
        return json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
