"""`harness doctor`: what this machine has and lacks, one line a check, each with its fix.

A check ends `ok`, `warn` (the harness runs, something is missing: the sandbox, what the
course's notebooks import, the browser tests' Chromium, Kaggle credentials) or `FAIL` (submissions cannot run until it is
fixed). Nothing here changes the machine, contacts a network or imports the kaggle
package (which signs in on import); the store is opened read-only.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.errors import EXIT_FAILED, EXIT_OK
from harness.paths import db_path, home

LIBRARIES = ("torch", "torchvision", "fastai", "timm", "duckdb", "streamlit", "pandas")
DISK_FAIL, DISK_WARN = 10**9, 5 * 10**9  # bytes free under the home
# what course22's and fastbook's notebooks import at the top, and a notebook's kernel
COURSE = ("fastbook", "matplotlib", "ipywidgets", "sympy", "graphviz", "seaborn")
COURSE += ("sentencepiece", "ipykernel", "nbclient", "nbformat")
FASTBOOK = "0.0.29"  # installed without its NLP dependencies (docs/members.md, What a run has)


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok", "warn" or "fail"
    detail: str
    fix: str = ""  # what to do, when the status is not ok


def python() -> Check:
    v = sys.version_info
    detail = f"{v.major}.{v.minor}.{v.micro} ({sys.executable})"
    if (v.major, v.minor) != (3, 11):
        return Check("python", "fail", detail, "the harness needs Python 3.11 (pyproject.toml)")
    return Check("python", "ok", detail)


def files() -> Check:
    """Where the competitions, the demo's baselines and the board were found: the checkout
    beside the package, or the copies an installed wheel carries (harness.paths)."""
    from harness.paths import board_app, competitions_dir, installed, project_root, submissions_dir

    root = project_root()
    comps, baselines, app = competitions_dir(), submissions_dir(), board_app()

    def show(path: Path) -> str:  # inside the root by its relative name, else in full
        name = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        return name + "/" if path.is_dir() else name

    names = [p.parent.name for p in comps.glob("*/competition.py")]
    names = [n for n in names if not n.startswith(("_", "."))]  # as registry.discover skips
    where = f"the installed package's {root}" if installed() else f"the checkout {root}"
    detail = (
        f"{where}: {len(names)} competitions in {show(comps)}, baselines in "
        f"{show(baselines)}, the board {show(app)}"
    )
    fix = (
        "reinstall the harness (pip install . in a checkout: its wheel carries them)"
        if installed()
        else "restore them from git (git status shows what went)"
    )
    if not names:
        if os.environ.get("HARNESS_COMPETITIONS"):
            fix = "point HARNESS_COMPETITIONS at a folder of competitions, or unset it"
        return Check("files", "fail", f"{where}: no competition in {comps}", fix)
    missing = [str(p) for p in (baselines, app) if not p.exists()]
    if missing:
        return Check("files", "warn", f"{detail}; missing {', '.join(missing)}", fix)
    return Check("files", "ok", detail)


def libraries() -> Check:
    from importlib import metadata  # not at import: `harness --help` reads this module

    found, missing = [], []
    for name in (*LIBRARIES, "kaggle"):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            missing.append(name)
    detail = ", ".join(found)
    if set(missing) - {"kaggle"}:
        return Check(
            "libraries", "fail", f"missing {', '.join(missing)}", "./run (it installs them)"
        )
    if missing:
        return Check("libraries", "warn", detail, "pip install kaggle (only the Kaggle path)")
    return Check("libraries", "ok", detail)


def course() -> Check:
    """What a run offers the course's notebooks: the libraries course22's and fastbook's
    import at the top, graphviz's `dot` where a run looks for it, pandas 2 (the course's and
    Kaggle's) and an IPython kernel for notebooks. Found, not imported: a run imports them."""
    import importlib.util
    from importlib import metadata

    pandas = metadata.version("pandas")
    found, fixes = [f"pandas {pandas}"], []
    missing = [name for name in COURSE if importlib.util.find_spec(name) is None]
    for name in COURSE:
        if name not in missing:
            found.append(f"{name} {metadata.version(name)}")
    if "fastbook" in missing:
        fixes.append(f"pip install --no-deps fastbook=={FASTBOOK} (./run does)")
        missing.remove("fastbook")
    if missing:
        fixes.append(f"pip install {' '.join(missing)} (./run installs them)")
    if not pandas.startswith("2."):
        fixes.append(f"pip install 'pandas>=2,<3' (pandas {pandas}: the course's code needs 2)")
    dot = shutil.which("dot", path=run_path())
    if dot is None:
        fixes.append("apt-get install graphviz (its dot draws graphviz.Source in a run)")
    else:
        said = subprocess.run([dot, "-V"], capture_output=True, text=True, timeout=30).stderr
        version = re.search(r"version (\S+)", said)  # "dot - graphviz version 2.43.0 (0)"
        found.append(f"dot {version.group(1) if version else '(version unknown)'} ({dot})")
    detail = ", ".join(found)
    return Check("course", "warn" if fixes else "ok", detail, "; ".join(fixes))


def run_path() -> str:
    """The PATH a run looks for programs on: the sandbox's own, else the harness's."""
    from harness.run import sandbox

    sb = None if sandbox.setting() == "off" else sandbox.find()[0]
    return sandbox.env({})["PATH"] if sb is not None else os.environ.get("PATH", "")


def device() -> Check:
    import torch

    if torch.cuda.is_available():
        gpus = []
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            gpus.append(f"{p.name} ({p.total_memory / 2**30:.0f} GiB)")
        return Check("device", "ok", f"CUDA {torch.version.cuda}: {', '.join(gpus)}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return Check("device", "ok", f"CPU only: torch sees no CUDA device; {cores} cores train")


def numerics() -> Check:
    """Whether this machine computes the group's portable numerics, and its CPU's units."""
    import platform

    from harness.run import repro

    cpu = repro.cpu_model() or "an unnamed CPU"
    units = repro.cpu_features() or "none of " + " ".join(repro.CPU_FEATURES)
    caps = repro.numerics_caps()
    detail = f"{cpu}: {units}; caps set here: {caps}"
    if platform.machine() != "x86_64":
        return Check(
            "numerics",
            "warn",
            detail,
            "portable numerics are x86-64's (AVX2): this machine's scores can differ from "
            "the group's x86-64 machines; run the group's code on one",
        )
    if "avx2" not in units.split():
        return Check(
            "numerics",
            "warn",
            detail,
            "portable numerics (a group's server, Ray) need AVX2, which this CPU lacks; "
            "give this machine's runs --numerics native, or another machine",
        )
    portable = f"portable numerics: AVX2 kernels and {repro.PORTABLE_THREADS} threads, as any node"
    return Check("numerics", "ok", f"{detail} ({portable})")


def sandbox_check() -> Check:
    from harness.run import sandbox

    if sandbox.setting() == "off":
        return Check("sandbox", "warn", f"{sandbox.SETTING}=off: code runs unsandboxed", "unset it")
    sb, why = sandbox.find()
    if sb is not None:
        return Check("sandbox", "ok", f"bubblewrap, {sb.mode} mode; {sb.guard}")
    fix = "apt-get install bubblewrap (docs/sandbox.md)"
    if sandbox.setting() == "require":
        return Check("sandbox", "fail", f"{why}; {sandbox.SETTING}=require", fix)
    return Check("sandbox", "warn", f"{why}: code runs unsandboxed", fix)


def cgroups_check() -> Check:
    """Whether the kernel holds a run's memory (tmpfs included), processes and CPU."""
    from harness.run import cgroups

    found, why = cgroups.find()
    if found:
        held = ", ".join(f"{h.controller} (v{2 if h.v2 else 1})" for h in found)
        return Check("cgroups", "ok", f"a cgroup per run holds its {held}")
    return Check(
        "cgroups",
        "warn",
        f"{why}: a run's memory is watched as its processes' RSS (tmpfs not counted)",
        "run the harness as root, or in a cgroup delegated to its user",
    )


def chromium() -> Check:
    path = shutil.which("chromium")
    if path is None and os.path.exists("/usr/bin/chromium"):
        path = "/usr/bin/chromium"
    if path:
        return Check("chromium", "ok", f"{path} (the leaderboard's browser tests)")
    return Check(
        "chromium",
        "warn",
        "not found: only the leaderboard's browser tests need it",
        "apt-get install chromium",
    )


def kaggle() -> Check:
    """Where the kaggle client would find credentials (not whether Kaggle accepts them),
    and its version beside the one the group's server is tested with (kaggle-cli)."""
    from importlib import metadata

    from harness.cli.kaggle_group import TESTED

    have = {}
    for name in TESTED:
        try:
            have[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            have[name] = "missing"
    tested = ", ".join(f"{k} {v}" for k, v in TESTED.items())
    versions = (
        f"client {tested}, as the group's server is tested with"
        if have == TESTED
        else f"client {', '.join(f'{k} {v}' for k, v in have.items())}; the group's server "
        f"is tested with {tested}"
    )
    config = Path(os.environ.get("KAGGLE_CONFIG_DIR") or Path.home() / ".kaggle")
    if os.environ.get("KAGGLE_API_TOKEN"):
        where = "KAGGLE_API_TOKEN"
    elif os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        where = "KAGGLE_USERNAME and KAGGLE_KEY"
    elif (config / "access_token").is_file():
        where = str(config / "access_token")
    elif (config / "kaggle.json").is_file():
        where = str(config / "kaggle.json")
    else:
        from harness.kaggle_client import CREDENTIALS_HELP

        return Check(
            "kaggle",
            "warn",
            f"no credentials: only `harness kaggle ...` and `--source kaggle` need them; {versions}",
            CREDENTIALS_HELP,
        )
    return Check("kaggle", "ok", f"credentials in {where} (Kaggle asked at first use); {versions}")


def store() -> Check:
    from harness.store import db, migrations

    path = db_path()
    if not path.exists():
        return Check("store", "ok", f"{path}: none yet, made by the first submission")
    try:
        with db.connect(read_only=True, path=path) as con:
            version = migrations.stored_version(con)
            runs = con.execute("SELECT count(*) FROM submissions").fetchone()[0]
    except Exception as e:  # unreadable, locked, not DuckDB, no submissions table
        return Check("store", "fail", f"{path}: {e}".splitlines()[0], "see the error; a backup?")
    if version > migrations.SCHEMA_VERSION:
        return Check(
            "store",
            "fail",
            f"{path}: schema {version}, newer than this harness's {migrations.SCHEMA_VERSION}",
            "update the harness (git pull, ./run)",
        )
    behind = (
        ""
        if version == migrations.SCHEMA_VERSION
        else f", migrated to {migrations.SCHEMA_VERSION} next write"
    )
    return Check("store", "ok", f"{path}: schema {version}{behind}, {runs} submissions")


def weights_check() -> Check:
    """The pretrained-weights cache every run reads: what it holds (no file is hashed)."""
    from harness.run import weights

    folder = weights.root()
    rows = weights.listing(folder, hashes=False) if folder.is_dir() else []
    if not rows:
        return Check(
            "weights",
            "warn",
            f"{folder}: none yet; a run that asks for pretrained weights fails",
            "harness weights fetch resnet34 resnet18 (the course's lesson 1 and 3 models)",
        )
    held = {}
    for r in rows:
        held.setdefault(r["name"], set()).add(r["library"])
    names = ", ".join(f"{n} ({', '.join(sorted(libs))})" for n, libs in held.items())
    size = sum(r["size"] for r in rows) / 1e6
    return Check("weights", "ok", f"{folder}: {len(rows)} files, {size:,.0f} MB: {names}")


def disk() -> Check:
    where = home()
    while not where.exists():
        where = where.parent
    free = shutil.disk_usage(where).free
    detail = f"{free / 10**9:.1f} GB free under {where}"
    fix = "free some space, or point HARNESS_HOME elsewhere"
    if free < DISK_FAIL:
        return Check("disk", "fail", detail, fix)
    if free < DISK_WARN:
        return Check("disk", "warn", detail, fix)
    return Check("disk", "ok", detail)


CHECKS = (
    python,
    files,
    libraries,
    course,
    device,
    numerics,
    sandbox_check,
    cgroups_check,
    chromium,
    kaggle,
)
CHECKS += (store,)
CHECKS += (weights_check, disk)


def run_checks() -> list[Check]:
    out = []
    for check in CHECKS:
        try:
            out.append(check())
        except Exception as e:  # a check that breaks is itself a finding
            name = check.__name__.removesuffix("_check")
            out.append(Check(name, "fail", f"the check broke: {type(e).__name__}: {e}"))
    return out


def can_run(checks: list[Check]) -> bool:
    """Submissions can run here: no check failed."""
    return all(c.status != "fail" for c in checks)


def report(checks: list[Check]) -> dict:
    return {
        "home": str(home()),
        "can_run": can_run(checks),
        "checks": [asdict(c) for c in checks],
    }


def print_report(checks: list[Check]) -> None:
    print(f"harness doctor: {home()}")
    width = max(len(c.name) for c in checks)
    for c in checks:
        status = "FAIL" if c.status == "fail" else c.status
        fix = f" -> {c.fix}" if c.fix and c.status != "ok" else ""
        print(f"{status:<4}  {c.name:<{width}}  {c.detail}{fix}")
    if can_run(checks):
        print("harness can run submissions here")
    else:
        print("harness cannot run submissions here: fix the FAIL lines")


def exit_code(checks: list[Check]) -> int:
    return EXIT_OK if can_run(checks) else EXIT_FAILED


def cmd_doctor(args) -> int:
    from harness.cli.console import dump

    checks = run_checks()
    if args.json:
        dump(report(checks))
    else:
        print_report(checks)
    return exit_code(checks)


def add_parser(sub) -> None:
    """`harness doctor`, on the command line's subparsers."""
    s = sub.add_parser("doctor", help="what this machine has and lacks, a line a check")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_doctor)
