"""The template competition of docs/adding-a-competition.md runs as the guide says.

docs/template/ mirrors the repository: `competitions/iris/` (competition.py, its shipped
data, its README) and `submissions/iris/` (the baseline). The contract suite
(tests/test_competitions.py) checks it beside the real ones; here its baseline goes
through the real `harness data fetch` and `harness submit` to the score its README
prints, and a copy under another name is a competition of that name, as the guide's
first step makes one.
"""

from __future__ import annotations

import shutil

from harness.competition import data, registry
from harness.run.submission import read
from tests.conftest import REPO, harness_here, harness_here_json
from tests.test_baselines import readme_figures

TEMPLATE = REPO / "docs" / "template"
BASELINE = TEMPLATE / "submissions" / "iris" / "nearest_centroid.py"


def test_the_baseline_scores_what_the_template_readme_says(home, monkeypatch):
    monkeypatch.setenv("HARNESS_COMPETITIONS", str(TEMPLATE / "competitions"))
    fetched = harness_here("data", "fetch", "iris")
    assert fetched.returncode == 0, fetched.stderr
    code, row = harness_here_json("submit", "iris", str(BASELINE), "--user", "nearest_centroid")
    assert code == 0 and row["status"] == "scored", row
    assert harness_here("reveal", "iris").returncode == 0  # the private score too
    code, shown = harness_here_json("show", str(row["id"]))
    assert code == 0
    figures = readme_figures("iris")
    assert {f.score for f in figures} == {"public", "private"}
    for f in figures:
        assert f.file == BASELINE.name
        assert f.matches(shown[f"{f.score}_score"]), (f, shown[f"{f.score}_score"])


def test_the_demo_runs_the_templates_baseline_from_beside_its_competitions(home, monkeypatch):
    """`submissions/` beside $HARNESS_COMPETITIONS is where the demo finds the baselines;
    a competition without any is said, not passed over in silence."""
    monkeypatch.setenv("HARNESS_COMPETITIONS", str(TEMPLATE / "competitions"))
    ran = harness_here("demo", "iris", "--no-serve")
    assert ran.returncode == 0, ran.stderr
    assert "1 baseline(s) of 1 competition(s)" in ran.stderr and "public accuracy" in ran.stderr
    bare = home.parent / "bare"
    shutil.copytree(TEMPLATE / "competitions" / "iris", bare / "competitions" / "flowers")
    monkeypatch.setenv("HARNESS_COMPETITIONS", str(bare / "competitions"))
    none = harness_here("demo", "flowers", "--no-serve")
    assert "[demo] flowers has no baselines: put them in " in none.stderr, none.stderr


def test_the_baseline_reads_cleanly():
    sub = read(BASELINE)
    assert sub.problem is None and sub.docstring and sub.entry == "fit_predict"


def test_a_copy_of_the_template_is_a_competition_of_its_folder_name(home, tmp_path):
    comps = tmp_path / "competitions"
    shutil.copytree(TEMPLATE / "competitions" / "iris", comps / "flowers")
    found = registry.discover(comps)
    assert list(found) == ["flowers"]
    prepared = data.fetch_and_prepare(found["flowers"], "offline", log=lambda *_: None)
    assert (prepared.files / "sample_submission.csv").exists()
    assert prepared.path.parent.name == "flowers"  # $HARNESS_HOME/data/flowers/...
