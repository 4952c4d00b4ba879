"""The competition READMEs' score tables against what the baselines score now.

`test_every_baseline_has_a_readme_figure` (fast, in CI) reads the score tables of each
`competitions/<name>/README.md` and checks that they and `submissions/<name>/` name the
same files. `test_a_baseline_scores_what_the_readme_says` (slow: `./run test --slow`, about
28 minutes) trains every baseline through the real `harness submit` on offline data, with
portable numerics on the CPU (the same bits on any x86-64 machine with AVX2), and checks
that each score rounds to the printed figure.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.cli.demo import baselines
from harness.competition import registry
from tests.conftest import cli

FIGURE = re.compile(r"(?<![\d.])0\.\d+(?![\d.])")  # every score here lies in [0, 1)
FILE = re.compile(r"`([\w.-]+\.(?:py|csv))`")


@dataclass(frozen=True)
class Figure:
    competition: str
    file: str
    score: str  # "public", "private", or an `also` metric (its public part)
    text: str  # as printed: "0.794"

    def matches(self, value: float) -> bool:
        """True when value, printed at this figure's precision, is this figure."""
        decimals = len(self.text.split(".")[1])
        return f"{value:.{decimals}f}" == self.text


def tables(text: str) -> list[list[list[str]]]:
    """Every markdown table of a text: its rows (header first, no |---| rule) of cells."""
    found, rows = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                rows.append(cells)
        elif rows:
            found.append(rows)
            rows = []
    return found


def figures_in(cell: str) -> list[str]:
    """The scores printed in a cell: "0.972 / 0.988" gives both, "**0.0786**" one."""
    return FIGURE.findall(cell.replace("*", ""))


def file_in(cell: str) -> str | None:
    names = FILE.findall(cell)
    return names[0] if names else None


def scores_of(column: str, also: set[str]) -> tuple[str, ...]:
    """What a column's cells print, by its header: "public / private ..." both, "public
    ..." or "private ..." one, an `also` metric its public figure; other columns none."""
    column = column.lower()
    if column.startswith("public / private"):
        return ("public", "private")
    for score in ("public", "private", *also):
        if column == score or column.startswith(f"{score} "):
            return (score,)
    return ()


def readme(comp: str) -> Path:
    return registry.get(comp).path.parent / "README.md"


def readme_figures(comp: str, text: str | None = None) -> list[Figure]:
    """The baselines' scores printed in the tables of a competition's README.

    A column holds scores when its header says so (`scores_of`); wall-time and
    description columns hold none. A row names its file in its first cell, or (Rossmann's
    table by model and inputs) in the score's own cell; a row in italics is a remark (the
    paper's figures), not a baseline's.
    """
    also = set(registry.get(comp).spec.also)
    out = []
    for table in tables(text if text is not None else readme(comp).read_text()):
        kinds = [scores_of(column, also) for column in table[0]]
        for row in table[1:]:
            if re.match(r"\*[^*]", row[0]):
                continue
            for j, cell in enumerate(row[1:], 1):
                kind = kinds[j] if j < len(kinds) else ()
                found = figures_in(cell)
                if not kind or not found:
                    continue
                name = file_in(row[0]) or file_in(cell)
                assert name, f"{readme(comp)}: no file for '{row[0]}', column {j}"
                assert len(found) == len(kind), f"{comp} {name}: {'/'.join(kind)}: {cell!r}"
                out += [Figure(comp, name, k, f) for k, f in zip(kind, found, strict=True)]
    return out


def baseline_files() -> list[tuple[str, Path]]:
    """Every baseline the demo runs, competition by competition."""
    return [(name, path) for name in registry.discover() for path in baselines(name)]


# --- the figures and the files agree (fast) ---------------------------------------------


def test_every_baseline_has_a_readme_figure():
    figures = [f for name in registry.discover() for f in readme_figures(name)]
    printed = {(f.competition, f.file) for f in figures}
    files = {(name, path.name) for name, path in baseline_files()}
    assert files - printed == set(), "baselines without a figure in their competition's README"
    assert printed - files == set(), "README figures of files that are not baselines"
    public = {(f.competition, f.file) for f in figures if f.score == "public"}
    assert public == files, "every baseline has a public figure"
    keys = [(f.competition, f.file, f.score) for f in figures]
    assert len(keys) == len(set(keys)), "a score printed twice"


def test_the_readme_parser_reads_each_kind_of_table():
    figures = {
        (f.competition, f.file, f.score): f.text
        for name in registry.discover()
        for f in readme_figures(name)
    }
    assert figures[("titanic", "gender_rule.py", "public")] == "0.770"
    assert figures[("movielens", "blend.py", "mse")] == "0.785"
    assert figures[("mnist", "simple_cnn.py", "private")] == "0.986"
    assert figures[("rossmann", "gbt_embeddings.py", "public")] == "0.0814"
    assert figures[("rossmann", "fastai_onehot.py", "private")] == "0.0900"
    assert figures[("pets", "resnet34.py", "public")] == "0.557"
    assert ("titanic", "gender_rule.py", "private") not in figures  # 0.766 is Kaggle's
    made_up = "| | |\n|---|---|\n| quality target | about 0.77 |\n\n"
    made_up += "| file | what | public | wall |\n|---|---|---|---|\n"
    made_up += "| `x.py` | about 0.75 | 0.812 | 3 s |\n\n"
    made_up += "| model | public / private, plain |\n|---|---|\n"
    made_up += "| net | 0.81 / 0.79 (`y.py`) |\n| *a paper* | *0.7 / 0.6* |\n"
    # a table without score columns, a description, a wall time and a remark: no scores
    assert readme_figures("titanic", made_up) == [
        Figure("titanic", "x.py", "public", "0.812"),
        Figure("titanic", "y.py", "public", "0.81"),
        Figure("titanic", "y.py", "private", "0.79"),
    ]


def test_a_score_matches_at_the_printed_precision():
    fig = Figure("titanic", "x.py", "public", "0.794")
    assert fig.matches(0.79433) and fig.matches(0.79351) and not fig.matches(0.7949)
    assert Figure("rossmann", "x.py", "public", "0.0786").matches(0.078649)
    assert not Figure("rossmann", "x.py", "public", "0.0786").matches(0.07866)


# --- the baselines score what their README says (slow) -----------------------------------


@pytest.fixture(scope="module")
def homes(tmp_path_factory, cache_dir):
    """One harness home per competition, its offline data fetched on first use."""
    made: dict[str, Path] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_CACHE", str(cache_dir))

        def home(comp: str) -> Path:
            if comp not in made:
                h = tmp_path_factory.mktemp(f"baselines-{comp}")
                proc = cli("data", "fetch", comp, "--source", "offline", home=h, timeout=1800)
                assert proc.returncode == 0, proc.stderr[-3000:]
                made[comp] = h
            return made[comp]

        yield home


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize(
    ("comp", "path"), baseline_files(), ids=[f"{c}/{p.name}" for c, p in baseline_files()]
)
def test_a_baseline_scores_what_the_readme_says(comp, path, homes, monkeypatch):
    expected = [f for f in readme_figures(comp) if f.file == path.name]
    assert expected, f"{readme(comp)} prints no figure for {path.name}"
    home = homes(comp)
    # the figures are the CPU's portable ones (a group's server's): the same on any x86-64
    # machine with AVX2; a GPU gives other (also reproducible) scores
    args = ("submit", comp, str(path), "--user", path.stem, "--device", "cpu")
    args += ("--numerics", "portable")
    proc = cli(*args, "--timeout", "3600", "--json", home=home, timeout=3700)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr[-3000:]}"
    sub_id = json.loads(proc.stdout)["id"]
    monkeypatch.setenv("HARNESS_HOME", str(home))
    from harness.store import submissions

    row = submissions.submission(sub_id)
    got = {"public": row["public_score"], "private": row["private_score"]}
    got.update({k: v["public"] for k, v in (row["extra_scores"] or {}).items()})
    wrong = [
        f"{f.score} {f.text} in its README, {got.get(f.score)!r} now"
        for f in expected
        if got.get(f.score) is None or not f.matches(got[f.score])
    ]
    assert not wrong, f"{comp}/{path.name} (submission {sub_id}): " + "; ".join(wrong)
