"""Turns a competition's raw data into prepared, fingerprinted splits on disk.

Layout under `$HARNESS_HOME/data/<name>/`:

    raw/<source>/                 what fetch() brought
    v<version>-<source>-<fingerprint>/   one prepared dataset, never changed once written
        manifest.json             rows, hashes, fingerprint, the secret's sha256 (secret.py)
        inputs/                   train, valid, test features: all a worker ever sees
        hidden/test_labels.parquet   read by the scorer only
        files/                    the user-facing files, as Kaggle gives them
        kaggle/test.csv           Kaggle's own unlabelled test, for uploads (kaggle source)
    current -> v<version>-<source>-<fingerprint>   swapped atomically by each prepare
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from harness.competition import secret
from harness.competition.registry import Competition
from harness.errors import DataError
from harness.paths import data_dir, private, private_home

USAGE_VALUES = {"Public", "Private"}
INPUTS = ("train", "valid", "test")


@dataclass
class Splits:
    """What a competition's prepare() returns.

    Attributes:
        train, valid: labelled rows in the user-facing format.
        test: the hidden test's features; no target column.
        test_labels: id, target and Usage ('Public' or 'Private') of every test row.
        kaggle_test: Kaggle's own unlabelled test features, when the source is Kaggle.
        files: extra user-facing files: name -> frame, written as CSV (movie titles), or
            name -> bytes, written as they are; a name may hold folders (pets' images,
            `images/Abyssinian_1.jpg`).
    """

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    test_labels: pd.DataFrame
    kaggle_test: pd.DataFrame | None = None
    files: dict[str, pd.DataFrame] = field(default_factory=dict)


@dataclass(frozen=True)
class Prepared:
    """A prepared dataset on disk."""

    path: Path
    manifest: dict

    @property
    def fingerprint(self) -> str:
        return self.manifest["fingerprint"]

    @property
    def source(self) -> str:
        return self.manifest["source"]

    @property
    def version(self) -> int:
        return self.manifest["version"]

    @property
    def inputs(self) -> Path:
        return self.path / "inputs"

    @property
    def files(self) -> Path:
        return self.path / "files"

    def load(self, split: str) -> pd.DataFrame:
        """One worker input: train, valid or test."""
        return read_parquet(self.inputs / f"{split}.parquet")

    def test_labels(self) -> pd.DataFrame:
        """The hidden labels; only the scorer calls this."""
        return read_parquet(self.path / "hidden" / "test_labels.parquet")


def read_parquet(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A parquet file as a frame, read on the calling thread. Once pyarrow's thread pool has
    read a file, a process can abort as it exits ("terminate called without an active
    exception", apache/arrow#34314): 7 of 200 short processes here, one a failed CI run."""
    return pd.read_parquet(path, columns=columns, use_threads=False)


def frame_hash(df: pd.DataFrame) -> str:
    """A content hash of a frame that does not depend on the file format's bytes."""
    h = hashlib.sha256()
    h.update(json.dumps([[c, str(t)] for c, t in df.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).values.tobytes())
    return h.hexdigest()


def check_splits(comp: Competition, s: Splits) -> None:
    """Raises DataError when prepare() broke the rules every competition keeps."""
    spec, where = comp.spec, f"{comp.name}: prepare()"
    for col in {spec.target, spec.train_target}:
        if col in s.test.columns:
            raise DataError(f"{where} left the target column {col!r} in the test features")
    if list(s.test_labels.columns) != [spec.id_col, spec.target, "Usage"]:
        raise DataError(
            f"{where}: test_labels must have columns {spec.id_col}, {spec.target}, Usage"
        )
    if not set(s.test_labels["Usage"]) <= USAGE_VALUES:
        raise DataError(f"{where}: Usage must be Public or Private")
    if (
        not s.test[spec.id_col]
        .reset_index(drop=True)
        .equals(s.test_labels[spec.id_col].reset_index(drop=True))
    ):
        raise DataError(f"{where}: test and test_labels must list the same ids in the same order")
    if s.test[spec.id_col].duplicated().any():
        raise DataError(f"{where}: test ids must be unique")
    if spec.id_col in s.train and spec.id_col in s.valid:  # some competitions id test rows only
        ids = [set(s.train[spec.id_col]), set(s.valid[spec.id_col]), set(s.test[spec.id_col])]
        if ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2]:
            raise DataError(f"{where}: train, valid and test share ids")
    if any(len(x) == 0 for x in (s.train, s.valid, s.test)):
        raise DataError(f"{where}: train, valid and test must each have rows")


def user_files(comp: Competition, s: Splits) -> dict[str, pd.DataFrame | bytes]:
    """The files a member downloads, as Kaggle gives them: train, test, sample submission."""
    spec = comp.spec
    train = pd.concat([s.train, s.valid])
    if spec.id_col in train:
        train = train.sort_values(spec.id_col, kind="stable")
    sample = comp.to_submission(s.test, sample_predictions(spec, len(s.test)))
    return {"train.csv": train, "test.csv": s.test, "sample_submission.csv": sample, **s.files}


def sample_predictions(spec, n: int) -> list:
    """The sample submission's value, n times (the first allowed, or the minimum)."""
    fmt = spec.submission
    value = fmt.allowed[0] if fmt.allowed else (fmt.min_value or 0.0)
    return [value] * n


def fingerprint_of(hashes: dict[str, str], secret_sha256: str | None = None) -> str:
    """The data fingerprint: the frames' hashes and, for data made with an installation
    secret, the secret's sha256 (so boards never mix data of two secrets). Data that used
    no secret (public datasets, `HARNESS_SECRET=public`) keeps the published fingerprint."""
    payload = hashes if secret_sha256 is None else {**hashes, "secret_sha256": secret_sha256}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _write(
    comp: Competition, source: str, s: Splits, dest: Path, secret_sha256: str | None = None
) -> dict:
    check_splits(comp, s)
    frames = {"train": s.train, "valid": s.valid, "test": s.test, "test_labels": s.test_labels}
    frames = {k: v.reset_index(drop=True) for k, v in frames.items()}
    hashes = {k: frame_hash(v) for k, v in frames.items()}
    fingerprint = fingerprint_of(hashes, secret_sha256)
    for sub in ("inputs", "hidden", "files"):
        (dest / sub).mkdir(parents=True)
    for k in INPUTS:
        frames[k].to_parquet(dest / "inputs" / f"{k}.parquet", index=False)
    frames["test_labels"].to_parquet(dest / "hidden" / "test_labels.parquet", index=False)
    hide(dest)
    for name, content in user_files(comp, s).items():
        path = dest / "files" / name
        if not path.resolve().is_relative_to((dest / "files").resolve()):
            raise DataError(f"{comp.name}: prepare() names a file outside files/: {name!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            content.to_csv(path, index=False)
    if s.kaggle_test is not None:
        (dest / "kaggle").mkdir()
        s.kaggle_test.to_csv(dest / "kaggle" / "test.csv", index=False)
    usage = frames["test_labels"]["Usage"].value_counts()
    manifest = {
        "competition": comp.name,
        "version": comp.spec.version,
        "source": source,
        "seed": comp.spec.seed,
        # the sha256 of the installation secret mixed into the hidden test (never the
        # secret); None when the data used none (a public dataset, HARNESS_SECRET=public)
        "secret_sha256": secret_sha256,
        "fingerprint": fingerprint,
        "hashes": hashes,
        "rows": {k: len(v) for k, v in frames.items() if k != "test_labels"},
        "public_rows": int(usage.get("Public", 0)),
        "private_rows": int(usage.get("Private", 0)),
        "prepared_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


@contextmanager
def _locked(folder: Path):
    """One prepare at a time per competition, across processes."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def current(comp: Competition) -> Prepared | None:
    """The prepared dataset in use, if any, and if it matches the spec's version."""
    link = data_dir(comp.name) / "current"
    if not (link / "manifest.json").exists():
        return None
    prepared = Prepared(link.resolve(), json.loads((link / "manifest.json").read_text()))
    return prepared if prepared.version == comp.spec.version else None


def by_fingerprint(comp: Competition, fingerprint: str) -> Prepared | None:
    """A prepared dataset by its fingerprint, for reproducing old submissions."""
    for manifest in data_dir(comp.name).glob(f"v*-{fingerprint[:12]}/manifest.json"):
        m = json.loads(manifest.read_text())
        if m["fingerprint"] == fingerprint:
            return Prepared(manifest.parent, m)
    return None


def fetch_and_prepare(comp: Competition, source: str | None = None, log=print) -> Prepared:
    """Fetches raw data from `source` (the spec's default if None) and prepares it.

    Raises:
        DataError: an unknown source, or data that cannot be fetched or prepared.
    """
    source = source or comp.spec.default_source
    if source not in comp.spec.sources:
        raise DataError(
            f"{comp.name} has no source {source!r}; choose one of: {', '.join(comp.spec.sources)}"
        )
    private_home()  # `harness data fetch` may be the first command a home sees
    root = data_dir(comp.name)
    with _locked(root):
        raw = root / "raw" / source
        raw.mkdir(parents=True, exist_ok=True)
        # raw data holds the labels of a test set cut from it (Titanic's train.csv)
        private(root / "raw", 0o700)
        with secret.recording() as secrets_used:  # what secret_seed() mixed in, if any
            log(f"fetching {comp.name} ({source}) into {raw}")
            comp.fetch(source, raw)
            log(f"preparing {comp.name} splits (seed {comp.spec.seed})")
            splits = comp.prepare(source, raw)
        if len(secrets_used) > 1:
            raise DataError(f"{comp.name}: the installation secret changed while preparing")
        secret_sha256 = next(iter(secrets_used), None)
        tmp = root / f".tmp-{uuid.uuid4().hex}"
        try:
            manifest = _write(comp, source, splits, tmp, secret_sha256)
            # the source is in the name: the same data from two sources keeps two manifests
            final = root / f"v{comp.spec.version}-{source}-{manifest['fingerprint'][:12]}"
            if final.exists():
                shutil.rmtree(tmp)  # the same data from the same source: keep the folder
                hide(final)  # as an older harness left it: 0644 labels
            else:
                tmp.rename(final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        link_tmp = root / f".current-{uuid.uuid4().hex}"
        link_tmp.symlink_to(final.name)
        os.replace(link_tmp, root / "current")  # atomic: readers see old or new, never none
    prepared = Prepared(final, json.loads((final / "manifest.json").read_text()))
    rows = prepared.manifest["rows"]
    log(
        f"{comp.name}: {rows['train']} train, {rows['valid']} valid, {rows['test']} hidden test "
        f"({prepared.manifest['public_rows']} public / {prepared.manifest['private_rows']} private);"
        f" fingerprint {prepared.fingerprint[:12]}"
    )
    return prepared


def hide(folder: Path) -> None:
    """The hidden labels of a prepared dataset readable by the harness's user only (the
    scorer runs as that user; a run never sees them)."""
    hidden = folder / "hidden"
    private(hidden, 0o700)
    for p in hidden.iterdir():
        private(p, 0o600)


def ensure(comp: Competition, log=print) -> Prepared:
    """The current prepared data, preparing it from the default source when missing."""
    return current(comp) or fetch_and_prepare(comp, log=log)
