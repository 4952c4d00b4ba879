"""The documentation stays true: its links reach something, its commands exist.

Read: README.md, docs/*.md, and every competition's README (the template's too). Every
relative link names a file that is there, and, with an anchor, a heading of that file (as
GitHub makes anchors). Every command shown in a fenced code block exists: a `harness`
command is parsed by the real parser (subcommands, flags and their arguments), a
`./run` job is one `run` knows, a `bench/` script is there with every flag shown. Commands
quoted in the prose (`harness rules NAME --open-code`) name placeholders rather than
values, so for them the subcommands and flags must exist (and a quoted `./run` job). A
repository path quoted (`harness/run/sandbox.py`) is there: a module moved leaves no
stale name behind in the docs; nor does a module quoted by its dotted name
(`harness.store.leaderboards`).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import importlib.util
import io
import re
import shlex
from pathlib import Path

import pytest

from harness.cli import main
from tests.conftest import REPO

DOCS = sorted(
    [
        REPO / "README.md",
        *(REPO / "docs").glob("*.md"),
        *(REPO / "competitions").glob("*/README.md"),
        *(REPO / "docs" / "template").glob("*/README.md"),
    ]
)
IDS = [str(p.relative_to(REPO)) for p in DOCS]
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
INLINE = re.compile(r"``(.+?)``|`([^`\n]+)`")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
COMMAND = re.compile(r"^(?:\$ )?((?:\w+=\S+ )*(?:harness|\./run|(?:\.venv/bin/)?python) .*)$")


@functools.cache
def parser() -> argparse.ArgumentParser:
    """The real `harness` parser, built once: parsing leaves it as it was."""
    return main.parser()


def prose(text: str) -> str:
    """The text without its code: fenced blocks and inline spans."""
    return INLINE.sub("", FENCE.sub("", text))


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor in a markdown file, the second of a name with its -1."""
    seen: dict[str, int] = {}
    out = set()
    for line in FENCE.sub("", path.read_text()).splitlines():
        if m := re.match(r"#{1,6} (.+)", line):
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def commands(text: str) -> list[str]:
    """The command lines of a text's fenced code blocks (a `$ ` prompt dropped)."""
    return [
        m.group(1)
        for block in FENCE.findall(text)
        for m in map(COMMAND.match, block.splitlines())
        if m
    ]


def words(line: str) -> list[str]:
    """A command line's words, its `# comment` and `VAR=value` prefixes dropped."""
    out = shlex.split(line, comments=True)
    while out and re.fullmatch(r"\w+=\S*", out[0]):
        out.pop(0)
    return out


def parses(args: list[str]) -> str | None:
    """None when the real `harness` parser takes these arguments, else what it said."""
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said), contextlib.redirect_stdout(io.StringIO()):
            parser().parse_args(args)
    except SystemExit as e:
        return None if e.code == 0 else said.getvalue().strip().splitlines()[-1]
    return None


def subparser(p: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser | None:
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.get(name)
    return None


def names_exist(args: list[str]) -> str | None:
    """None when the subcommands and flags named exist (the values may be placeholders)."""
    p = parser()
    rest = list(args)
    while rest and not rest[0].startswith("-") and (sub := subparser(p, rest[0])):
        p = sub
        rest.pop(0)
    if not args or p is parser():
        return f"no harness command {args[:1]}"
    flags = {s for a in p._actions for s in a.option_strings}
    unknown = [w.split("=")[0] for w in rest if w.startswith("--") and w.split("=")[0] not in flags]
    return f"{p.prog}: no flag {', '.join(unknown)}" if unknown else None


def run_jobs() -> set[str]:
    """The jobs of the `run` script: the words of its `case` branches."""
    text = (REPO / "run").read_text()
    return set(re.findall(r"^\s{4}(\w+)\)", text, re.M))


def check(line: str) -> str | None:
    """Why a command shown in the docs would not run as written; None when it would."""
    args = words(line)
    if args[0] == "harness" or args[0].endswith("/harness"):
        return parses(args[1:])
    if args[0] == "./run":
        job = args[1] if len(args) > 1 else ""
        if job not in run_jobs():
            return f"./run has no job {job!r}"
        if job == "demo":
            return parses(args[1:])
        if job == "harness":
            return parses(args[2:])
        return None  # test: pytest's own arguments pass on
    script = next((a for a in args[1:] if a.endswith(".py")), None)
    if script is None or not script.startswith(("bench/", "docs/")):
        return None  # another python command (a one-liner): nothing of ours to check
    path = REPO / script
    if not path.is_file():
        return f"no {script}"
    source = path.read_text()
    missing = [a for a in args if a.startswith("--") and f'"{a.split("=")[0]}"' not in source]
    return f"{script} has no flag {', '.join(missing)}" if missing else None


@pytest.mark.parametrize("doc", DOCS, ids=IDS)
def test_every_relative_link_reaches_its_file_and_heading(doc):
    broken = []
    for target in LINK.findall(prose(doc.read_text())):
        if re.match(r"[a-z]+:", target):  # https:, mailto:: not ours to check offline
            continue
        file, _, anchor = target.partition("#")
        path = (doc.parent / file).resolve() if file else doc
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(f"{target}: no heading #{anchor} in {path.name}")
    assert not broken, f"{doc.relative_to(REPO)}: " + "; ".join(broken)


@pytest.mark.parametrize("doc", DOCS, ids=IDS)
def test_every_command_shown_exists(doc):
    wrong = [f"{line}  <- {why}" for line in commands(doc.read_text()) if (why := check(line))]
    assert not wrong, f"{doc.relative_to(REPO)}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("doc", DOCS, ids=IDS)
def test_every_command_quoted_in_the_prose_exists(doc):
    text = FENCE.sub("", doc.read_text())
    quoted = [a or b for a, b in INLINE.findall(text)]
    wrong = []
    for span in quoted:
        if span.startswith("./run ") and span.split()[1] not in run_jobs():
            wrong.append(f"`{span}`  <- ./run has no job {span.split()[1]!r}")
        if not re.match(r"(?:\w+=\S+ )*harness [a-z]", span):
            continue
        try:
            args = words(span.replace("...", ""))
        except ValueError:  # an unbalanced quote inside a quoted error message
            continue
        if why := names_exist(args[1:]):
            wrong.append(f"`{span}`  <- {why}")
    assert not wrong, f"{doc.relative_to(REPO)}:\n" + "\n".join(wrong)


def test_every_repository_path_quoted_is_there():
    """A path quoted in the docs (`harness/run/sandbox.py`, `tests/kaggle/`) names a file
    or folder of the repository (or of the template, which mirrors its layout)."""
    quoted = re.compile(
        r"`((?:harness|leaderboard|tests|bench|competitions|submissions|docs)/[\w./-]*)`"
    )
    missing = [
        f"{d.relative_to(REPO)}: {path}"
        for d in DOCS
        for path in quoted.findall(d.read_text())
        if not any((root / path).exists() for root in (REPO, REPO / "docs" / "template"))
    ]
    assert missing == []


def resolves(name: str) -> bool:
    """Whether a dotted name (`harness.competition.classification.report`) is a module, or
    an attribute of one, as the docs quote it."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_every_module_quoted_is_there():
    """`harness.store.leaderboards` and the like name what the code has; `harness.duckdb`
    (a file) is no module of ours and is left alone."""
    missing = [
        f"{d.relative_to(REPO)}: {name}"
        for d in DOCS
        for name in re.findall(r"`(harness(?:\.\w+)+)`", d.read_text())
        if importlib.util.find_spec(f"harness.{name.split('.')[1]}") and not resolves(name)
    ]
    assert missing == []


def test_every_bench_script_named_is_there():
    named = set()
    for doc in DOCS:
        named |= set(re.findall(r"\bbench/[\w.-]+\.py", doc.read_text()))
    assert named, "the docs name the benchmarks"
    assert sorted(n for n in named if not (REPO / n).is_file()) == []


def test_the_checks_catch_what_they_are_for(tmp_path):
    """A wrong flag, a missing job, a missing script and a missing heading are caught."""
    assert check("harness submit titanic m.py --user ann") is None
    assert "--speed" in check("harness submit titanic m.py --speed 2")
    assert check("harness nothing") is not None
    assert check("./run deploy") == "./run has no job 'deploy'"
    assert check("./run demo --all") is None
    assert check("python bench/nowhere.py") == "no bench/nowhere.py"
    assert names_exist(["rules", "NAME", "--open-code"]) is None
    assert "--opened" in names_exist(["rules", "NAME", "--opened"])
    assert resolves("harness.competition.classification.report")
    assert not resolves("harness.store.nowhere") and not resolves("harness.metrics.nothing")
    assert slug("Baselines (`submissions/titanic/`)") == "baselines-submissionstitanic"
    page = tmp_path / "page.md"
    page.write_text("# A page\n\n## Results: public / private\n\n```\n# not a heading\n```\n")
    assert anchors(page) == {"a-page", "results-public--private"}
