"""A run's environment is the course's: untar_data of the competition's own data without
network (train and valid only, in fastai's layouts), fastbook, graphviz's dot, pandas 2.

Each run is a real sandboxed worker; the checks run inside it, so a failing assert fails
the run and its error names the assert.
"""

import json
import shutil

import pytest

from harness.competition import data, registry
from harness.run import course_data, pipeline
from harness.run.pipeline import Limits
from tests.conftest import write

# prints what the run saw as one line (`SEEN {...}`), for the test to read from the log
SEEN = "    print('SEEN ' + json.dumps(seen), flush=True)\n"

PETS = '''"""Pets as the course's lesson 1 reads them."""
import hashlib, json
from fastai.vision.all import *
from harness.run.course_data import NoNetwork

def fit_predict(train, valid, test):
    path = untar_data(URLs.PETS)
    files = get_image_files(path/"images")
    names = {f"images/{f.name}" for f in files}
    assert names == set(train.image) | set(valid.image), "train and valid, nothing else"
    digest = lambda b: hashlib.sha256(b).hexdigest()
    hidden = {digest(b) for b in test.data}  # test: the hidden test, then the valid rows
    laid = {digest(f.read_bytes()) for f in files}
    assert not laid & (hidden - {digest(b) for b in valid.data}), "a hidden test image"
    is_cat = lambda x: x[0].isupper()
    cats = sum(is_cat(f.name) for f in files)
    labeller = RegexLabeller(r"^(.*)_\\d+.jpg$")
    assert {labeller(f.name) for f in files} == set(train.label) | set(valid.label)
    # fastbook's DataBlock over the folder, as the issue's failing run built it
    pets = DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=get_image_files,
                     get_y=using_attr(labeller, "name"), splitter=RandomSplitter(seed=42),
                     item_tfms=Resize(32))
    xb, yb = pets.dataloaders(path/"images", bs=4, num_workers=0).one_batch()
    try:
        untar_data(URLs.CIFAR)
        other = None
    except NoNetwork as e:
        other = str(e)
    seen = {"path": str(path), "files": len(files), "cats": cats, "batch": list(xb.shape),
            "again": str(untar_data(URLs.PETS)), "other": other}
'''


def seen(row: dict) -> dict:
    assert row["status"] == "scored", row["error"]
    line = next(x for x in row["log"].splitlines() if x.startswith("SEEN "))
    return json.loads(line[5:])


def test_untar_data_of_pets_finds_train_and_valid_images_as_the_course_names_them(ready, tmp_path):
    code = PETS + SEEN + "    return [train.label.iloc[0]] * len(test)\n"
    row = pipeline.submit("pets", write(tmp_path / "pets.py", code), "ann", log=lambda *_: None)
    got = seen(row)
    assert got["path"].endswith("/data/oxford-iiit-pet") and got["again"] == got["path"]
    assert got["files"] == 1480  # 80% of the 1,850 offline images; the hidden 370 are not
    assert got["cats"] == 12 * 40  # the 12 capitalised breeds, 40 of each in train + valid
    assert got["batch"] == [4, 3, 32, 32]
    assert got["other"] == (
        "untar_data cannot download https://s3.amazonaws.com/fast-ai-sample/cifar10.tgz "
        "inside a run (no network); this competition's data is at untar_data(URLs.PETS)"
    )
    if row["sandboxed"]:
        assert got["path"] == "/tmp/.fastai/data/oxford-iiit-pet"  # the course's ~/.fastai
    assert "untar_data(URLs.PETS): 1,480 files" in row["log"]


def test_untar_data_of_ml_100k_reads_as_the_course_reads_it(ready, tmp_path):
    code = (
        """
import json
import pandas as pd
from fastai.collab import *
from fastai.tabular.all import *

def fit_predict(train, valid, test):
    path = untar_data(URLs.ML_100k)
    ratings = pd.read_csv(path/"u.data", delimiter="\\t", header=None,
                          names=["user", "movie", "rating", "timestamp"])
    movies = pd.read_csv(path/"u.item", delimiter="|", encoding="latin-1",
                         usecols=(0, 1), names=("movie", "title"), header=None)
    both = pd.concat([train, valid])
    pairs = set(zip(ratings.user, ratings.movie))
    assert pairs == set(zip(both.user, both.movie)), "train and valid, nothing else"
    assert not pairs & set(zip(test.user, test.movie)), "a hidden test rating"
    ratings = ratings.merge(movies)
    assert ratings.title.notna().all()
    dls = CollabDataLoaders.from_df(ratings, item_name="title", bs=64)
    seen = {"ratings": len(ratings), "rows": len(both), "movies": len(movies),
            "ids": both.movie.nunique(), "files": sorted(p.name for p in path.ls())}
"""
        + SEEN
        + "    return [3.5] * len(test)\n"
    )
    row = pipeline.submit("movielens", write(tmp_path / "ml.py", code), "ann", log=lambda *_: None)
    got = seen(row)
    prepared = data.current(registry.get("movielens"))
    rows = sum(len(prepared.load(k)) for k in ("train", "valid"))
    assert got["ratings"] == got["rows"] == rows == 100_000 - len(prepared.load("test"))
    assert got["movies"] == got["ids"] == 1682  # every movie: each has a rating in train
    assert got["files"] == ["u.data", "u.item"]


def test_untar_data_of_mnist_lays_out_the_png_folders_of_train_and_valid(ready, tmp_path):
    code = (
        """
import json
import numpy as np
import pandas as pd
from fastai.data.all import *
from PIL import Image

def fit_predict(train, valid, test):
    pixels = [c for c in test.columns if c.startswith("pixel")]
    hidden = {r.tobytes() for r in test[pixels].to_numpy(np.uint8)[:-len(valid)]}
    path = untar_data(URLs.MNIST)
    training = get_image_files(path/"training")
    testing = get_image_files(path/"testing")
    for f in training + testing:
        assert np.asarray(Image.open(f)).tobytes() not in hidden, "a hidden test image"
    labels = [int(parent_label(f)) for f in training]
    assert sorted(labels) == sorted(train.label), "train's digits, nothing else"
    sample = untar_data(URLs.MNIST_SAMPLE)
    threes = (sample/"train"/"3").ls()
    csv = pd.read_csv(sample/"labels.csv")
    tiny = untar_data(URLs.MNIST_TINY)
    seen = {"training": len(training), "testing": len(testing),
            "sample": sorted(p.name for p in sample.ls()),
            "threes": len(threes), "train_3s": int((train.label == 3).sum()),
            "sample_files": len(get_image_files(sample)), "csv": len(csv),
            "csv_labels": sorted(set(csv.label)), "tiny": len(get_image_files(tiny))}
"""
        + SEEN
        + "    return [3] * len(test)\n"
    )
    row = pipeline.submit("mnist", write(tmp_path / "mn.py", code), "ann", log=lambda *_: None)
    got = seen(row)
    assert (got["training"], got["testing"]) == (3200, 800)  # the hidden 1,000 are not there
    assert got["sample"] == ["labels.csv", "train", "valid"]
    assert got["threes"] == got["train_3s"] == 320
    assert got["csv"] == got["sample_files"] == 800 and got["csv_labels"] == [0, 1]
    assert got["tiny"] == 800  # 350 at most of each digit a folder: all of the offline 3s, 7s


def test_a_run_has_fastbook_graphviz_pandas_2_and_any_other_url_fails_in_one_line(ready, tmp_path):
    code = """
from fastbook import *
import graphviz, pandas, shutil
SEED = torch.initial_seed()  # fastbook's import calls set_seed(42)

def fit_predict(train, valid, test):
    assert SEED == 7, f"fastbook left the seed at {SEED}, not the run's"
    svg = graphviz.Source("digraph{a->b}").pipe(format="svg").decode()
    assert "<svg" in svg and shutil.which("dot"), "graphviz's dot"
    assert pandas.__version__.startswith("2."), pandas.__version__
    import matplotlib, ipywidgets, sympy, seaborn, nbclient, ipykernel
    print("COURSE LIBRARIES OK", flush=True)
    untar_data(URLs.PETS)
"""
    path = write(tmp_path / "env.py", code)
    row = pipeline.submit("titanic", path, "ann", limits=Limits(seed=7), log=lambda *_: None)
    assert "COURSE LIBRARIES OK" in row["log"], row["error"]
    assert row["status"] == "failed"
    assert row["error"] == (
        "NoNetwork: untar_data cannot download https://s3.amazonaws.com/fast-ai-imageclas/"
        "oxford-iiit-pet.tgz inside a run (no network); this competition's data is in the "
        "frames the harness passes to train(dls) and fit_predict(train, valid, test) "
        "(env.py, line 13, in fit_predict)"
    )


def test_a_folder_the_harness_did_not_make_is_neither_read_nor_replaced(ready, tmp_path):
    pytest.importorskip("fastai")
    from fastai.data.external import URLs

    inputs = data.current(registry.get("movielens")).inputs
    job = {"competition": "movielens", "inputs": str(inputs)}
    real = tmp_path / "data" / "ml-100k"  # a real download, say, with the hidden ratings
    real.mkdir(parents=True)
    (real / "u.data").write_text("everything\n")
    got = course_data.lay_out(job, URLs.ML_100k, real)
    assert got != real and got.name == "ml-100k" and (got / "u.item").is_file()
    assert (real / "u.data").read_text() == "everything\n" and len(list(real.iterdir())) == 1
    assert course_data.lay_out(job, URLs.ML_100k, real) == got  # made once a process
    shutil.rmtree(got.parent)
    ours = tmp_path / "data" / "fresh" / "ml-100k"
    assert course_data.lay_out(job, URLs.ML_100k, ours) == ours  # absent: made where asked
    (ours / "u.data").write_text("changed\n")
    assert course_data.lay_out(job, URLs.ML_100k, ours, force=True) == ours  # made again
    assert (ours / "u.data").read_text() != "changed\n"
