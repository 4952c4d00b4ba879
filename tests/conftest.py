"""Shared fixtures: a harness home per test, offline data prepared once per session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
KAGGLE_TITANIC = SHARED / "data" / "kaggle-titanic"


@pytest.fixture(scope="session", autouse=True)
def published_data():
    """The whole session prepares the published data (`HARNESS_SECRET=public`): the same
    fingerprints in every test home, and the README's measured figures. Tests of the
    secret set their own with monkeypatch."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_SECRET", "public")
        yield


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    """Downloaded wheels, kept between sessions (each is checked against its sha256 when
    read); HARNESS_TEST_CACHE moves them."""
    default = Path.home() / ".cache" / "harness-tests"
    path = Path(os.environ.get("HARNESS_TEST_CACHE") or default)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def data_root(tmp_path_factory, cache_dir) -> Path:
    """A harness home whose offline data is prepared once for all competitions."""
    root = tmp_path_factory.mktemp("prepared")
    env = {"HARNESS_HOME": str(root), "HARNESS_CACHE": str(cache_dir)}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        from harness.competition import data, registry

        for comp in registry.discover().values():
            data.fetch_and_prepare(comp, "offline", log=lambda *_: None)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return root / "data"


@pytest.fixture
def home(tmp_path, monkeypatch, cache_dir) -> Path:
    """An empty harness home for one test (no data, no database)."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HARNESS_HOME", str(h))
    monkeypatch.setenv("HARNESS_CACHE", str(cache_dir))
    return h


@pytest.fixture
def ready(home, data_root) -> Path:
    """A harness home with the session's prepared offline data and an empty database."""
    (home / "data").symlink_to(data_root, target_is_directory=True)
    return home


def cli(*args: str, home: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs the real `harness` command in a subprocess."""
    env = dict(os.environ)
    if home is not None:
        env["HARNESS_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def cli_json(*args: str, home: Path | None = None) -> tuple[int, object]:
    """Runs `harness ... --json` and parses stdout, which must be exactly one JSON value."""
    proc = cli(*args, "--json", home=home)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"stdout is not one JSON value:\n{proc.stdout}\nstderr:\n{proc.stderr}")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
