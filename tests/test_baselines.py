"""The README's score tables against what the baselines score now.

`test_every_baseline_has_a_readme_figure` (fast, in CI) reads the tables of README.md's
"Measured" section and checks that they and `submissions/` name the same files.
`test_a_baseline_scores_what_the_readme_says` (slow: `./run test --slow`, about 28
minutes) trains every baseline through the real `harness submit` on offline data, on the
CPU the figures were measured on, and checks that each score rounds to the printed figure.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.cli.demo import baselines
from harness.competition import registry
from tests.conftest import REPO, cli

README = REPO / "README.md"
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


def section(text: str, title: str) -> str:
    """A `## title` section of a markdown text, without its heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no '## {title}' section"
    return match.group(1)


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


def _named_cells(comp: str) -> dict[tuple[str, int], str]:
    """Files named by the cells of a competition README's tables, by (row label, column).

    The main README's Rossmann table prints figures by model and inputs; its README's
    table with the same rows and columns names the file in each cell.
    """
    text = (REPO / "competitions" / comp / "README.md").read_text()
    named = {}
    for table in tables(text):
        for row in table[1:]:
            for j, cell in enumerate(row[1:], 1):
                if figures_in(cell) and (name := file_in(cell)):
                    named[(row[0].strip("*_ "), j)] = name
    return named


def readme_figures(text: str | None = None) -> list[Figure]:
    """The baselines' scores printed in the tables of README.md's "Measured" section.

    A table belongs to the competition its first header cell starts with. A row names its
    file in its first cell, or (Rossmann) in the cell of the competition README's table
    with the same row label and column. A cell holds "public" or "public / private"; a
    column headed with one of the competition's `also` metrics holds that metric's public
    figure; wall-time columns hold no figure.
    """
    comps = registry.discover()
    out = []
    for table in tables(section(text or README.read_text(), "Measured")):
        header = table[0]
        comp = header[0].split(" ")[0]
        if comp not in comps:
            continue
        also = set(comps[comp].spec.also)
        named = None
        for row in table[1:]:
            for j, cell in enumerate(row[1:], 1):
                found = figures_in(cell)
                if not found:
                    continue
                name = file_in(row[0]) or file_in(cell)
                if name is None:
                    named = named if named is not None else _named_cells(comp)
                    labels = [k for k, c in named if c == j and k and row[0].startswith(k)]
                    name = named[(max(labels, key=len), j)] if labels else None
                assert name, f"README.md, {comp}: no file for '{row[0]}', column {j}"
                column = header[j].lower() if j < len(header) else ""
                if column in also:
                    assert len(found) == 1, f"{comp} {name}: one {column} figure, got {cell!r}"
                    out.append(Figure(comp, name, column, found[0]))
                else:
                    assert len(found) in (1, 2), f"{comp} {name}: public [/ private]: {cell!r}"
                    for score, fig in zip(("public", "private"), found, strict=False):
                        out.append(Figure(comp, name, score, fig))
    return out


def baseline_files() -> list[tuple[str, Path]]:
    """Every baseline the demo runs, competition by competition."""
    return [(name, path) for name in registry.discover() for path in baselines(name)]


# --- the figures and the files agree (fast) ---------------------------------------------


def test_every_baseline_has_a_readme_figure():
    figures = readme_figures()
    printed = {(f.competition, f.file) for f in figures}
    files = {(name, path.name) for name, path in baseline_files()}
    assert files - printed == set(), "baselines without a figure in README.md's Measured tables"
    assert printed - files == set(), "README.md figures of files that are not baselines"
    public = {(f.competition, f.file) for f in figures if f.score == "public"}
    assert public == files, "every baseline has a public figure"
    keys = [(f.competition, f.file, f.score) for f in figures]
    assert len(keys) == len(set(keys)), "a score printed twice"


def test_the_readme_parser_reads_each_kind_of_table():
    figures = {(f.competition, f.file, f.score): f.text for f in readme_figures()}
    assert figures[("titanic", "gender_rule.py", "public")] == "0.770"
    assert figures[("movielens", "blend.py", "mse")] == "0.787"
    assert figures[("mnist", "simple_cnn.py", "private")] == "0.982"
    assert figures[("rossmann", "gbt_embeddings.py", "public")] == "0.0787"
    assert figures[("rossmann", "fastai_onehot.py", "private")] == "0.0889"
    assert figures[("pets", "resnet34.py", "public")] == "0.535"
    assert ("titanic", "gender_rule.py", "private") not in figures  # 0.766 is Kaggle's
    made_up = "## Measured\n\n| titanic (accuracy) | public | wall |\n|---|---|---|\n"
    made_up += "| `x.py` (about 0.75) | 0.812 | 3 s |\n\n## Next\n| titanic | 0.1 |\n"
    # the first cell's "0.75" is a remark, the wall time no score, "## Next" not measured
    assert readme_figures(made_up) == [Figure("titanic", "x.py", "public", "0.812")]


def test_rossmann_figures_match_its_own_readme():
    """The main README's Rossmann table copies the competition README's: same figures."""
    text = (REPO / "competitions" / "rossmann" / "README.md").read_text()
    own = {}
    for table in tables(text):
        for row in table[1:]:
            for cell in row[1:]:
                if (name := file_in(cell)) and (found := figures_in(cell)):
                    own[name] = found
    main = {}
    for f in readme_figures():
        if f.competition == "rossmann":
            main.setdefault(f.file, []).append(f.text)
    assert main == own


def test_a_score_matches_at_the_printed_precision():
    fig = Figure("titanic", "x.py", "public", "0.794")
    assert fig.matches(0.79433) and fig.matches(0.79351) and not fig.matches(0.7949)
    assert Figure("rossmann", "x.py", "public", "0.0786").matches(0.078649)
    assert not Figure("rossmann", "x.py", "public", "0.0786").matches(0.07866)


# --- the baselines score what the README says (slow) -----------------------------------


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
    expected = [f for f in readme_figures() if (f.competition, f.file) == (comp, path.name)]
    assert expected, f"README.md prints no figure for {comp}/{path.name}"
    home = homes(comp)
    # the figures were measured on the CPU: a GPU gives other (also reproducible) scores
    args = ("submit", comp, str(path), "--user", path.stem, "--device", "cpu")
    proc = cli(*args, "--timeout", "3600", "--json", home=home, timeout=3700)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr[-3000:]}"
    sub_id = json.loads(proc.stdout)["id"]
    monkeypatch.setenv("HARNESS_HOME", str(home))
    from harness.store import db

    row = db.submission(sub_id)
    got = {"public": row["public_score"], "private": row["private_score"]}
    got.update({k: v["public"] for k, v in (row["extra_scores"] or {}).items()})
    wrong = [
        f"{f.score} {f.text} in README.md, {got.get(f.score)!r} now"
        for f in expected
        if got.get(f.score) is None or not f.matches(got[f.score])
    ]
    assert not wrong, f"{comp}/{path.name} (submission {sub_id}): " + "; ".join(wrong)
