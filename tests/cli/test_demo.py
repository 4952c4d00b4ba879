"""The README's demo: every Titanic baseline trains, is scored and lands on the board."""

from tests.conftest import cli, cli_json


def test_demo_fills_the_titanic_board_with_the_baselines(ready):
    proc = cli("demo", "titanic", home=ready, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "[demo] done in" in proc.stderr and "rank" in proc.stdout
    code, board = cli_json("leaderboard", "titanic", home=ready)
    scores = {r["user"]: r["score"] for r in board}
    assert set(scores) == {"gender_rule", "nn_from_scratch", "fastai_tabular", "random_forest"}
    assert all(r["is_baseline"] for r in board)
    # plausible: the gender rule near Kaggle's 0.766, nothing absurd
    assert 0.72 < scores["gender_rule"] < 0.82
    assert all(0.72 < s < 0.9 for s in scores.values())
    again = cli("demo", "titanic", home=ready, timeout=300)
    assert again.returncode == 0 and again.stderr.count("already scored as submission") == 4


def test_the_default_demo_is_every_competitions_quick_baselines_within_its_budget():
    from harness.cli import demo
    from harness.competition import registry

    quick = {n: demo.plan(n, everything=False) for n in registry.discover()}
    every = {n: demo.plan(n, everything=True) for n in registry.discover()}
    assert all(quick.values())  # every board gets something
    for name, steps in every.items():  # --all: each baseline once
        assert sorted(s.path.name for s in steps) == [p.name for p in demo.baselines(name)]
    # the expected training time leaves room for the data and the workers' start-up
    assert sum(s.seconds for steps in quick.values() for s in steps) <= 480
    assert "resnet34.py" in [s.path.name for s in quick["pets"]]  # lesson 1's model
