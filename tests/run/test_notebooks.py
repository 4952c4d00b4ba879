"""The course's own code goes in as it is: notebooks and Kaggle-style scripts, run as on
Kaggle (/kaggle/input/<slug>/, /kaggle/working, KAGGLE_KERNEL_RUN_TYPE), sandboxed, their
CSV validated and scored like an uploaded one."""

from pathlib import Path

import nbformat
import pytest

from harness.run import notebook, pipeline
from harness.run.submission import read
from harness.store import db, submissions
from tests.conftest import harness_here, harness_here_json, write
from tests.run.test_pipeline import hand_accuracy

# course22's opening, as its Titanic notebooks have it: Kaggle's data behind the switch
ISKAGGLE = """import os
from pathlib import Path
iskaggle = os.environ.get('KAGGLE_KERNEL_RUN_TYPE', '')
if iskaggle: path = Path('../input/titanic')
else:
    path = Path('titanic')
    if not path.exists():
        import zipfile, kaggle
        kaggle.api.competition_download_cli(str(path))
        zipfile.ZipFile(f'{path}.zip').extractall(path)"""

WOMEN = """tst['Survived'] = (tst.Sex == 'female').astype(int)
sub = tst[['PassengerId', 'Survived']]
sub.to_csv('{name}', index=False)
sub.head()"""


def make(path: Path, *cells: str, title: str | None = None) -> Path:
    """A notebook as a member saves it: code cells (and a markdown title), with an old
    output left in, as Jupyter keeps them."""
    nb = nbformat.v4.new_notebook()
    if title:
        nb.cells.append(nbformat.v4.new_markdown_cell(title))
    for source in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.outputs = [nbformat.v4.new_output("stream", text="an old output\n")]
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def women(t):
    return (t["Sex"] == "female").astype(int)


def course_notebook(tmp_path: Path) -> Path:
    return make(
        tmp_path / "lesson.ipynb",
        ISKAGGLE,
        "!pip install -Uqq fastai",
        "import pandas as pd, matplotlib.pyplot as plt\n"
        "df = pd.read_csv(path/'train.csv')\ntst = pd.read_csv(path/'test.csv')\n"
        "df.Age.hist(); plt.show()\nprint(len(df), 'passengers to learn from')",
        WOMEN.format(name="sub.csv"),
        title="# Titanic, the course's way",
    )


def test_a_course_notebook_is_run_as_on_kaggle_and_scored(ready, tmp_path):
    row = pipeline.submit("titanic", course_notebook(tmp_path), "ann")
    assert row["status"] == "scored", row["error"]
    assert (row["kind"], row["entry"], row["output"]) == ("code", "notebook", "sub.csv")
    assert (row["public_score"], row["private_score"]) == hand_accuracy(women)
    assert row["sandboxed"] is True
    assert row["docstring"] == "# Titanic, the course's way"
    assert "an old output" not in row["content"]  # stored without its old outputs
    # the executed notebook is kept: the plot as an image, the print as text
    cells = notebook.shown_cells(Path(row["run_dir"]) / "out" / notebook.EXECUTED)
    code = [c for c in cells if c["kind"] == "code"]
    assert [k for k, _ in code[2]["outputs"]][:1] == ["image"]
    assert code[2]["outputs"][0][1].startswith(b"\x89PNG")
    assert ("text", "891 passengers to learn from\n") in code[2]["outputs"]
    assert "[run] cell 4/4: tst['Survived']" in row["log"]
    assert "[run] the answer: sub.csv" in row["log"]


def test_kaggle_paths_and_submission_csv(ready, tmp_path):
    """Kaggle's Titanic Tutorial's way: absolute /kaggle/input paths, submission.csv,
    other CSVs beside it ignored."""
    nb = make(
        tmp_path / "tutorial.ipynb",
        "import os, pandas as pd\nassert os.getcwd() == '/kaggle/working'\n"
        "assert os.environ['KAGGLE_KERNEL_RUN_TYPE'] == 'Batch'\n"
        "print(sorted(os.listdir('/kaggle/input')), sorted(os.listdir('/kaggle/input/titanic')))",
        "tst = pd.read_csv('/kaggle/input/titanic/test.csv')\n"
        "tst.assign(Survived=0)[['PassengerId', 'Survived']].to_csv('all_die.csv', index=False)",
        WOMEN.format(name="submission.csv"),
    )
    row = pipeline.submit("titanic", nb, "bob")
    assert row["status"] == "scored", row["error"]
    assert row["output"] == "submission.csv"
    assert row["public_score"] == hand_accuracy(women)[0]
    assert "['titanic'] ['sample_submission.csv', 'test.csv', 'train.csv']" in row["log"]


def test_the_input_is_read_only_and_holds_no_labels(ready, tmp_path):
    nb = make(
        tmp_path / "poke.ipynb",
        "import pandas as pd\ntst = pd.read_csv('../input/titanic/test.csv')\n"
        "assert 'Survived' not in tst\n"
        "try:\n    open('../input/titanic/test.csv', 'a').write('x')\n    print('WROTE')\n"
        "except OSError as e:\n    print('refused', type(e).__name__)",
        WOMEN.format(name="submission.csv"),
    )
    row = pipeline.submit("titanic", nb, "eve")
    assert row["status"] == "scored", row["error"]
    assert "refused" in row["log"] and "WROTE" not in row["log"]


def test_a_failing_cell_fails_the_run_in_one_line(ready, tmp_path):
    nb = make(
        tmp_path / "broken.ipynb",
        "x = 1",
        "!pip install fastbook",
        "import pandas as pd",
        "df = pd.read_csv('../input/titanic/train.csv')\nratio = len(df) / 0\nprint(ratio)",
        "print('never')",
    )
    row = pipeline.submit("titanic", nb, "ann")
    assert row["status"] == "failed"
    assert row["error"] == (
        "cell 4 (df = pd.read_csv('../input/titanic/train.csv')) failed: "
        "ZeroDivisionError: division by zero"
    )
    # the notebook as far as it ran is kept, the error in its cell
    cells = notebook.shown_cells(Path(row["run_dir"]) / "out" / notebook.EXECUTED)
    assert (
        cells[3]["outputs"][-1][0] == "error" and "ZeroDivisionError" in cells[3]["outputs"][-1][1]
    )
    assert cells[4]["outputs"] == []


def test_two_csvs_are_refused_by_name_then_scored_with_output(ready, tmp_path):
    nb = make(
        tmp_path / "two.ipynb",
        "import pandas as pd\ntst = pd.read_csv('../input/titanic/test.csv')",
        "tst.assign(Survived=0)[['PassengerId', 'Survived']].to_csv('all_die.csv', index=False)",
        WOMEN.format(name="women.csv"),
    )
    code, out = harness_here_json("submit", "titanic", str(nb), "--user", "ann")
    assert code == 1 and out["status"] == "failed"
    assert out["error"] == (
        "the notebook wrote 2 CSVs in titanic's submission format and none is named "
        "submission.csv: all_die.csv, women.csv; choose one with --output NAME"
    )
    code, out = harness_here_json(
        "submit", "titanic", str(nb), "--user", "ann", "--output", "women.csv"
    )
    assert code == 0 and out["status"] == "scored"
    assert out["public_score"] == hand_accuracy(women)[0]
    assert submissions.submission(out["id"])["output"] == "women.csv"
    proc = harness_here("submit", "titanic", str(nb), "--user", "ann", "--output", "../x.csv")
    assert proc.returncode == 2 and "--output '../x.csv' is not a CSV's name" in proc.stderr


def test_no_csv_and_no_network_each_fail_in_one_line(ready, tmp_path):
    quiet = make(tmp_path / "quiet.ipynb", "print('trained, but forgot to save')")
    row = pipeline.submit("titanic", quiet, "ann")
    assert row["status"] == "failed"
    assert row["error"].startswith(
        "the notebook wrote no CSV in /kaggle/working: Kaggle's answer is submission.csv there"
    )
    online = make(
        tmp_path / "online.ipynb",
        "import urllib.request\nurllib.request.urlopen('https://www.kaggle.com', timeout=5)",
    )
    row = pipeline.submit("titanic", online, "ann")
    assert row["status"] == "failed"
    assert row["error"].startswith("cell 1 (import urllib.request) failed: URLError")
    assert "a run has no network: titanic's files are at /kaggle/input/titanic/" in row["error"]


def test_a_kaggle_style_script_and_its_reproduction(ready, tmp_path):
    """A .py with neither train nor fit_predict runs top to bottom as on Kaggle; the
    reproduction runs it again the same way and agrees to the bit."""
    script = write(
        tmp_path / "tutorial.py",
        '"""Kaggle\'s Titanic Tutorial: a random forest on four columns."""\n'
        "import pandas as pd\n"
        "from sklearn.ensemble import RandomForestClassifier\n"
        "train_data = pd.read_csv('/kaggle/input/titanic/train.csv')\n"
        "test_data = pd.read_csv('/kaggle/input/titanic/test.csv')\n"
        "features = ['Pclass', 'Sex', 'SibSp', 'Parch']\n"
        "X = pd.get_dummies(train_data[features])\n"
        "model = RandomForestClassifier(n_estimators=20, max_depth=5, random_state=1)\n"
        "model.fit(X, train_data['Survived'])\n"
        "predictions = model.predict(pd.get_dummies(test_data[features]))\n"
        "output = pd.DataFrame({'PassengerId': test_data.PassengerId, 'Survived': predictions})\n"
        "output.to_csv('submission.csv', index=False)\n"
        "print('Your submission was successfully saved!')\n",
    )
    row = pipeline.submit("titanic", script, "cat")
    assert row["status"] == "scored", row["error"]
    assert (row["entry"], row["output"]) == ("script", "submission.csv")
    assert 0.7 < row["public_score"] < 0.9
    rep = pipeline.reproduce(row["id"])
    assert rep["identical"] is True, rep


def test_a_notebook_reproduces_to_the_bit(ready, tmp_path):
    nb = make(
        tmp_path / "random.ipynb",
        "import numpy as np, pandas as pd\ntst = pd.read_csv('../input/titanic/test.csv')",
        # seeded by the harness before the first cell, as a .py run is
        "tst['Survived'] = (np.random.rand(len(tst)) < 0.4).astype(int)\n"
        "tst[['PassengerId', 'Survived']].to_csv('submission.csv', index=False)",
    )
    row = pipeline.submit("titanic", nb, "ann")
    assert row["status"] == "scored", row["error"]
    rep = pipeline.reproduce(row["id"])
    assert rep["identical"] is True and rep["status"] == "scored", rep


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "broken.ipynb: not a Jupyter notebook"),
        ('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "has no code cell"),
    ],
)
def test_a_broken_notebook_is_rejected_and_nothing_runs(ready, tmp_path, text, problem):
    path = write(tmp_path / "broken.ipynb", text)
    assert problem in read(path).problem
    code, out = harness_here_json("submit", "titanic", str(path), "--user", "ann")
    assert code == 1 and out["status"] == "rejected" and problem in out["error"]


def test_the_same_code_hashes_the_same_whatever_its_outputs(tmp_path):
    a = make(tmp_path / "a.ipynb", "print(1)")
    nb = nbformat.read(a, as_version=4)
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="another run's output\n")]
    nb.cells[0].execution_count = 7
    nbformat.write(nb, tmp_path / "b.ipynb")
    assert read(a).sha256 == read(tmp_path / "b.ipynb").sha256
    assert read(a).entry == "notebook"


def test_a_wrong_file_says_so_in_json_too(ready, tmp_path):
    path = write(tmp_path / "notes.txt", "hello")
    code, out = harness_here_json("submit", "titanic", str(path), "--user", "ann")
    assert code == 2
    assert out["error"].endswith(
        "a submission is a notebook (.ipynb), a .py file (code) or a .csv file (predictions)"
    )


def test_what_the_board_shows_of_a_hostile_notebook(tmp_path):
    """The executed notebook is the run's output: only text and real images come out."""
    import base64
    import json

    hostile = {
        "cells": [
            {
                "cell_type": "code",
                "source": "x",
                "outputs": [
                    {"output_type": "display_data", "data": {"text/html": "<script>x</script>"}},
                    {
                        "output_type": "display_data",
                        "data": {"image/png": base64.b64encode(b"not a png").decode()},
                    },
                    {"output_type": "stream", "text": "\x1b[2Jcleared " + "y" * 30_000},
                    {"output_type": "error", "traceback": ["\x1b[31mBoom\x1b[0m"]},
                    "junk",
                ],
            },
            {"cell_type": "markdown", "source": ["# a ", "title"]},
            {"cell_type": "weird"},
            7,
        ]
    }
    path = tmp_path / "out.ipynb"
    path.write_text(json.dumps(hostile))
    cells = notebook.shown_cells(path)
    assert [c["kind"] for c in cells] == ["code", "markdown"]
    outputs = cells[0]["outputs"]
    assert [k for k, _ in outputs] == ["text", "error"]  # no HTML, no fake image
    assert outputs[0][1].startswith("cleared y") and "\x1b" not in outputs[0][1]
    assert "more characters not shown" in outputs[0][1]
    assert outputs[1][1] == "Boom"
    assert cells[1]["source"] == "# a title"
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="has no list of cells"):
        notebook.shown_cells(path)


def test_what_the_kernel_knew_is_recorded(ready, tmp_path):
    """The notebook's code runs in its kernel: the versions it imported and the device it
    used are the kernel's; a kernel that dies says so in one line."""
    nb = make(
        tmp_path / "torchy.ipynb",
        "import torch, pandas as pd\ntst = pd.read_csv('../input/titanic/test.csv')\n"
        "tst['Survived'] = (torch.rand(len(tst)) < 0.5).int().numpy()\n"
        "tst[['PassengerId', 'Survived']].to_csv('submission.csv', index=False)",
    )
    row = pipeline.submit("titanic", nb, "ann")
    assert row["status"] == "scored", row["error"]
    assert row["versions"]["torch"] and row["device"] == "cpu"
    dies = make(tmp_path / "dies.ipynb", "x = 1", "import os\nos._exit(3)")
    row = pipeline.submit("titanic", dies, "ann")
    assert row["status"] == "failed"
    assert row["error"] == (
        "cell 2 (import os) ended the notebook's kernel (out of memory, or the code exited it)"
    )


LESSON_1 = [
    "from fastai.vision.all import *\npath = untar_data(URLs.PETS)/'images'",
    "dls = ImageDataLoaders.from_name_re(path, get_image_files(path), pat=r'^(.*)_\\d+.jpg$',\n"
    "    valid_pct=0.2, seed=42, item_tfms=Resize(64), bs=32)",
    "learn = vision_learner(dls, resnet18, metrics=error_rate)\n"
    "learn.fine_tune(1, cbs=ShortEpochCallback(0.1))",
    "tst = pd.read_csv('/kaggle/input/pets/test.csv')\n"
    "dl = learn.dls.test_dl([Path('/kaggle/input/pets')/f for f in tst.image])\n"
    "preds, _ = learn.get_preds(dl=dl)\n"
    "tst['label'] = [learn.dls.vocab[i] for i in preds.argmax(1)]\n"
    "tst[['id', 'label']].to_csv('submission.csv', index=False)",
]


def test_lesson_1_runs_sandboxed_on_the_hosts_weights(ready, tmp_path):
    """The course's headline: untar_data(URLs.PETS), vision_learner(dls, resnet18) and
    fine_tune, in a notebook, with no network: the data laid out from the competition's
    training part, the weights from the host's cache; recorded as loaded. (Without them in
    the cache a run fails in the one line that names them: tests/run/test_weights.py; a
    notebook's failure names its cell: test_no_csv_and_no_network_each_fail_in_one_line.)"""
    from tests.run.test_weights import place_torchvision, sha256

    nb = make(tmp_path / "lesson1.ipynb", *LESSON_1)
    cached = place_torchvision(ready)
    row = pipeline.submit("pets", nb, "ann")
    assert row["status"] == "scored", row["error"]
    assert row["sandboxed"] is True and row["output"] == "submission.csv"
    assert [(w["library"], w["name"], w["sha256"]) for w in row["reported"]["weights"]] == [
        ("torchvision", "resnet18", sha256(cached))
    ]
    assert row["epochs"]  # fastai in the kernel is instrumented as in a .py run


@pytest.mark.parametrize("answer", ["../../etc/passwd", "x" * 500 + ".csv", 7, "\x1b]0;x\x07.csv"])
def test_a_forged_answer_name_is_refused(answer):
    """The worker says which CSV it handed in; it runs beside the member's code."""
    from harness.run.output import Malformed, check_result

    assert check_result({"output": "out/women.csv"})["output"] == "out/women.csv"
    with pytest.raises(Malformed, match="output is not a CSV's name"):
        check_result({"output": answer})


def test_a_decompression_bomb_is_not_shown(tmp_path):
    """A huge PNG (its header says 20000x20000) is skipped, never decoded, and the page
    goes on."""
    import base64
    import json
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")
    cell = {
        "cell_type": "code",
        "source": "display(bomb)",
        "outputs": [
            {"output_type": "display_data", "data": {"image/png": base64.b64encode(bomb).decode()}}
        ],
    }
    path = tmp_path / "bomb.ipynb"
    path.write_text(json.dumps({"cells": [cell]}))
    assert notebook.shown_cells(path)[0]["outputs"] == []


def test_a_long_or_escaped_error_is_one_clean_capped_line(ready, tmp_path):
    nb = make(
        tmp_path / "loud.ipynb",
        "x = 1",
        "raise ValueError('\\x1b]0;pwned\\x07 \\u202e' + 'E' * 200_000)",
    )
    row = pipeline.submit("titanic", nb, "eve")
    assert row["status"] == "failed"
    assert row["error"].startswith("cell 2 (raise ValueError(") and "ValueError:" in row["error"]
    assert not any(c in row["error"] for c in "\x1b\x07\u202e")
    assert len(row["error"]) <= 2000


def test_output_names_and_limits_as_a_member_writes_them(ready, tmp_path):
    from harness.run.kaggle_way import check_output

    assert check_output("./submission.csv") == "submission.csv"
    assert check_output("/kaggle/working/out/sub.csv") == "out/sub.csv"
    nb = make(tmp_path / "n.ipynb", "x = 1")
    for flag, value in (("--timeout", "-5"), ("--memory-mb", "0")):
        proc = harness_here("submit", "titanic", str(nb), "--user", "ann", flag, value)
        assert proc.returncode == 2 and f"{flag} must be a positive number" in proc.stderr
    assert db.read("SELECT id FROM submissions") == []
