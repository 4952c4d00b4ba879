"""Where the harness keeps its files: one home folder, overridable with HARNESS_HOME; and
where it finds its competitions, baselines and board: the checkout or the installed package."""

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE.parent  # the checkout, when the harness runs from one
# An installed wheel carries the checkout's competitions/, submissions/ and leaderboard/
# here (setup.py copies them in); a checkout, an editable install included, has no such
# folder and uses its own, so an edit to a competition shows without a reinstall.
SHIPPED = PACKAGE / "shipped"


def installed() -> bool:
    """Whether the harness runs from an installed wheel rather than from a checkout."""
    return SHIPPED.is_dir()


def project_root() -> Path:
    """Where competitions/, submissions/ and leaderboard/ are: inside the installed
    package, else the checkout beside it."""
    return SHIPPED if installed() else REPO_ROOT


def home() -> Path:
    """The harness home: $HARNESS_HOME, else a per-user data folder."""
    if env := os.environ.get("HARNESS_HOME"):
        return Path(env).expanduser().resolve()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "harness"


def private(path: Path, mode: int) -> None:
    """Sets `mode` on `path` when group or others have any access to it (a home, a store
    or labels an older harness made 0755/0644); a path gone or not ours is left alone."""
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(mode)
    except OSError:
        pass


def private_home() -> Path:
    """The harness home, made (or tightened to) 0700: it holds the store, the hidden
    labels and members' uploads and code, which no other user of the machine may read.
    A run's sandbox still sees its own folders: they are bound into it, not walked to."""
    h = home()
    h.mkdir(mode=0o700, parents=True, exist_ok=True)
    private(h, 0o700)
    return h


def db_path() -> Path:
    """The DuckDB file every command shares."""
    return home() / "harness.duckdb"


def data_dir(competition: str) -> Path:
    """Raw and prepared data of one competition."""
    return home() / "data" / competition


def runs_dir() -> Path:
    """One folder per run: its log, predictions and artifacts."""
    return home() / "runs"


def cache_dir() -> Path:
    """Downloads worth keeping across homes (wheels); $HARNESS_CACHE overrides."""
    if env := os.environ.get("HARNESS_CACHE"):
        return Path(env).expanduser().resolve()
    return home() / "cache"


def competitions_dir() -> Path:
    """The folder scanned for competitions; $HARNESS_COMPETITIONS overrides (tests)."""
    return Path(os.environ.get("HARNESS_COMPETITIONS", project_root() / "competitions"))


def submissions_dir() -> Path:
    """Example submissions and the course baselines: `submissions/` beside the competitions
    folder ($HARNESS_COMPETITIONS's sibling where it has one, as docs/template has), else
    the project's."""
    if os.environ.get("HARNESS_COMPETITIONS"):
        beside = competitions_dir().resolve().parent / "submissions"
        if beside.is_dir():
            return beside
    return project_root() / "submissions"


def board_app() -> Path:
    """The leaderboard's Streamlit script, which `harness serve` runs."""
    return project_root() / "leaderboard" / "app.py"
