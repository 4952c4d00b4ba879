"""Discovering competitions and checking their contract."""

import pytest

from harness.competition import registry
from harness.competition.registry import CompetitionError
from tests.conftest import cli, write

GOOD = '''"""A tiny competition."""
from harness.competition.registry import Spec
from harness.validate import Format
SPEC = Spec(version=1, metric="accuracy", submission=Format("id", "y", "int", allowed=(0, 1)))
def fetch(source, raw_dir): pass
def prepare(source, raw_dir): pass
def dls(train, valid, bs=64): pass
def to_submission(test, preds): pass
'''


def discover(root):
    registry._cache.clear()
    try:
        return registry.discover(root)
    finally:
        registry._cache.clear()


def test_real_competitions_are_discovered_by_folder_name():
    comps = registry.discover()
    assert "titanic" in comps
    for name, comp in comps.items():
        assert comp.name == name == comp.path.parent.name
        assert comp.doc and comp.title


def test_a_sound_folder_is_found(tmp_path):
    write(tmp_path / "tiny" / "competition.py", GOOD)
    assert list(discover(tmp_path)) == ["tiny"]


@pytest.mark.parametrize(
    "broken, reason",
    [
        (GOOD.replace('"""A tiny competition."""\n', ""), "missing module docstring"),
        (GOOD.replace("SPEC = Spec", "SPECS = Spec"), "missing SPEC"),
        (
            GOOD.replace('"accuracy"', '"acuracy"'),
            "SPEC.metric: Unknown metric 'acuracy'. Did you mean: accuracy?",
        ),
        (
            GOOD.replace("def dls(train, valid, bs=64)", "def dls(valid, train)"),
            "dls must take (train, valid, ...), got (valid, train)",
        ),
        (GOOD.replace("def dls", "def dataloaders"), "missing function dls"),
        (
            # optional, but a competition that defines it keeps its signature
            GOOD.replace("def to_submission(test, preds)", "def to_submission(preds, test)"),
            "to_submission must take (test, preds, ...), got (preds, test)",
        ),
        (GOOD + "import no_such_module\n", "import failed: ModuleNotFoundError"),
        (GOOD.replace('"int"', '"bool"'), "import failed: ValueError: Format.kind must be one of"),
    ],
)
def test_a_broken_competition_raises_at_discovery_naming_file_and_reason(tmp_path, broken, reason):
    write(tmp_path / "good" / "competition.py", GOOD)
    path = write(tmp_path / "bad" / "competition.py", broken)
    with pytest.raises(CompetitionError) as e:
        discover(tmp_path)
    assert str(path) in str(e.value) and reason in str(e.value)


def test_unknown_name_suggests_the_close_one():
    with pytest.raises(
        CompetitionError, match=r"Unknown competition 'titanc'\. Did you mean: titanic\?"
    ):
        registry.get("titanc")


def test_cli_unknown_competition_is_a_usage_error(home):
    proc = cli("data", "path", "titanc", home=home)
    assert proc.returncode == 2
    assert "Unknown competition 'titanc'. Did you mean: titanic?" in proc.stderr


def test_cli_broken_competition_is_reported_with_its_file(home, tmp_path, monkeypatch):
    path = write(tmp_path / "comps" / "bad" / "competition.py", "x = 1\n")
    monkeypatch.setenv("HARNESS_COMPETITIONS", str(tmp_path / "comps"))
    proc = cli("list", home=home)
    assert proc.returncode == 1
    assert str(path) in proc.stderr and "missing module docstring" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_threads_discovering_at_once_each_get_every_competition():
    """A server's threads all discover on their first request: none may see another's
    half-imported module (Pets' sibling modules were once seen half-run)."""
    import subprocess
    import sys

    code = (
        "import threading\n"
        "from harness.competition import registry\n"
        "go, got = threading.Barrier(8), []\n"
        "def one():\n"
        "    go.wait()\n"
        "    try:\n"
        "        got.append(sorted(registry.discover()))\n"
        "    except Exception as e:\n"
        "        got.append(repr(e))\n"
        "ts = [threading.Thread(target=one) for _ in range(8)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "print(got)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    names = sorted(registry.discover())
    assert out.stdout.strip() == repr([names] * 8)
