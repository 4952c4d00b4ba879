"""Pets: the generator, the stratified split with fastai's RandomSplitter, the image folders
a member sees, fastai's folder placed by hand, the DataLoaders, the report, what a colour
histogram can and cannot tell, and the baselines' offline fallback."""

import io
import json
import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from harness.competition import data, registry
from harness.competition.classification import most_confused
from harness.competition.sources import SourceError
from harness.run import pipeline
from tests.conftest import write

REPORT = {
    "confusion_matrix.csv",
    "confusion_matrix.png",
    "most_confused.csv",
    "top_losses.csv",
    "top_losses.png",
    "valid_most_confused.csv",
}


@pytest.fixture
def pets():
    return registry.get("pets")


@pytest.fixture(scope="module")
def gen():
    return registry.get("pets").module.generate


def pixels(data_bytes: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data_bytes)) as img:
        return np.asarray(img.convert("RGB"))


def test_the_generator_names_draws_and_extends_deterministically(gen, tmp_path):
    assert len(gen.NAMES) == 37 and gen.NAMES == sorted(gen.NAMES)
    assert sum(gen.is_cat(b) for b in gen.NAMES) == 12  # the dataset's cats are capitalised
    assert {b for pair in gen.ALIKE for b in pair} <= set(gen.NAMES)
    gen.write(tmp_path / "a", per_breed=2, pixels=40, seed=7)
    gen.write(tmp_path / "b", per_breed=1, pixels=40, seed=7)
    names = sorted(p.name for p in (tmp_path / "a" / "images").iterdir())
    assert len(names) == 74 and "Abyssinian_1.jpg" in names and "pug_2.jpg" in names
    for name in ("Abyssinian_1.jpg", "yorkshire_terrier_1.jpg"):  # a smaller folder is a prefix
        first, again = ((tmp_path / d / "images" / name).read_bytes() for d in ("a", "b"))
        assert first == again
    img = pixels((tmp_path / "a" / "images" / "beagle_2.jpg").read_bytes())
    assert max(img.shape[:2]) == 40 and 30 <= min(img.shape[:2]) <= 40 and img.std() > 10
    assert gen.jpeg("beagle", 2, 40, seed=8) != gen.jpeg("beagle", 2, 40, seed=7)


def test_offline_split_is_stratified_and_valid_is_fastais_random_splitter(ready, pets):
    import torch
    from fastai.data.transforms import RandomSplitter

    p = data.current(pets)
    train, valid, test = (p.load(s) for s in ("train", "valid", "test"))
    labels = p.test_labels()
    assert p.manifest["rows"] == {"train": 1184, "valid": 296, "test": 370}
    assert (p.manifest["public_rows"], p.manifest["private_rows"]) == (185, 185)
    assert (labels.label.value_counts() == 10).all() and labels.label.nunique() == 37
    assert (pd.concat([train, valid]).label.value_counts() == 40).all()
    assert list(train.columns) == ["image", "label", "data"] == list(valid.columns)
    assert list(test.columns) == ["id", "image", "data"]
    assert list(test.id) == list(range(1, 371)) and not labels.label.is_monotonic_increasing
    # the test images' names tell nothing; the labelled ones keep the dataset's names
    assert list(test.image) == [f"test/{i}.jpg" for i in test.id]
    assert (train.image.str.extract(r"images/(.+)_\d+\.jpg")[0] == train.label).all()
    # valid is what RandomSplitter(0.2, seed=42) picks from the sorted names of the rest
    rest = sorted(pd.concat([train, valid]).image)
    with torch.random.fork_rng():
        _, valid_idx = RandomSplitter(0.2, seed=42)(rest)
    assert sorted(rest[i] for i in valid_idx) == sorted(valid.image)
    # every image once, with its bytes, in exactly one split
    everything = pd.concat([train.data, valid.data, test.data])
    assert everything.map(len).min() > 500 and everything.is_unique


def test_user_files_are_image_folders_and_csvs(ready, pets):
    p = data.current(pets)
    train = pd.read_csv(p.files / "train.csv")
    test = pd.read_csv(p.files / "test.csv")
    assert list(train.columns) == ["image", "label", "is_valid"] and len(train) == 1480
    assert train.is_valid.sum() == 296
    assert set(train.image[train.is_valid]) == set(p.load("valid").image)
    assert list(test.columns) == ["id", "image"] and len(test) == 370
    worker = pd.concat([p.load("train"), p.load("valid"), p.load("test")])
    by_name = dict(zip(worker.image, worker.data, strict=True))
    for name in [*train.image, *test.image]:
        assert (p.files / name).read_bytes() == by_name[name]
    assert len(list((p.files / "images").iterdir())) == 1480
    assert len(list((p.files / "test").iterdir())) == 370
    sample = pd.read_csv(p.files / "sample_submission.csv")
    assert list(sample.columns) == ["id", "label"] and list(sample.id) == list(test.id)


def test_fastai_images_placed_by_hand(home, pets, gen):
    """An images/ folder as untar_data(URLs.PETS) unpacks it, with a stray .mat file."""
    raw = data.data_dir("pets") / "raw" / "fastai" / "images"
    raw.mkdir(parents=True)
    for breed in gen.NAMES:
        for n in (1, 2, 3, 4, 5):
            (raw / f"{breed}_{n}.jpg").write_bytes(gen.jpeg(breed, n, 32, seed=3))
    (raw / "Abyssinian_100.mat").write_bytes(b"not an image")
    p = data.fetch_and_prepare(pets, "fastai", log=lambda *_: None)
    assert p.source == "fastai"
    assert p.manifest["rows"] == {"train": 119, "valid": 29, "test": 37}
    assert (p.test_labels().label.value_counts() == 1).all()
    (raw / "Abyssinian_1.jpg").rename(raw / "tabby_1.jpg")
    with pytest.raises(SourceError, match=r"tabby_1.jpg: expected <breed>_<n>.jpg"):
        data.fetch_and_prepare(pets, "fastai", log=lambda *_: None)


def test_no_download_says_where_to_put_the_files(home, pets, monkeypatch):
    import fastai.data.external

    def untar_data(url, *args, **kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr(fastai.data.external, "untar_data", untar_data)
    with pytest.raises(
        SourceError, match=r"Oxford-IIIT Pet .*oxford-iiit-pet.*put its images/ folder in /"
    ):
        data.fetch_and_prepare(pets, "fastai", log=lambda *_: None)


def test_dls_give_normalised_images_and_predict_the_test_frame(ready, pets):
    p = data.current(pets)
    train, valid, test = p.load("train").head(96), p.load("valid").head(32), p.load("test")
    dls = pets.dls(train, valid, bs=16)
    assert list(dls.vocab) == pets.module.BREEDS and dls.c == 37
    x, y = dls.valid.one_batch()
    assert x.shape == (16, 3, 64, 64) and x.dtype.is_floating_point
    assert abs(float(x.mean())) < 1 and 0.4 < float(x.std()) < 2  # ImageNet-normalised
    assert [dls.vocab[i] for i in y] == list(valid.label.head(16))
    xb, yb = dls.train.one_batch()
    assert xb.shape == (16, 3, 64, 64) and len(yb) == 16
    dl = dls.test_dl(test.head(20))
    assert sum(len(b[0]) for b in dl) == 20
    assert pets.module.default_sizes(train) == (64, 64)
    photo = pd.DataFrame({"data": [_jpeg(500, 375)] * 3})
    assert pets.module.default_sizes(photo) == (460, 224)  # the course's presizing


def _jpeg(width: int, height: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (120, 80, 40)).save(buf, format="JPEG")
    return buf.getvalue()


def test_report_draws_the_confusions_and_the_top_losses(pets, tmp_path, capsys):
    breeds = pets.module.BREEDS
    n = 12
    test = pd.DataFrame({"id": range(1, n + 1), "image": "x", "data": [_jpeg(48, 40)] * n})
    actual = np.array([breeds[i % 4] for i in range(n)], dtype=object)
    predicted = actual.copy()
    predicted[[1, 5, 9]] = ["Bombay", "Birman", "Birman"]
    labels = pd.DataFrame({"id": test.id, "label": actual, "Usage": "Public"})
    preds = pd.DataFrame({"id": test.id, "label": predicted})
    logits = np.full((n, 37), -2.0)
    logits[np.arange(n), [breeds.index(b) for b in predicted]] = 3.0
    logits[9, breeds.index("Birman")] = 9.0  # the most confident mistake
    pets.module.report(test, labels, preds, logits, tmp_path / "with")
    losses = pd.read_csv(tmp_path / "with" / "top_losses.csv")
    assert losses.id.tolist()[:3] == [10, 2, 6] and losses.loss.is_monotonic_decreasing
    assert math.isclose(losses["p(actual)"][0] + losses["p(predicted)"][0], 1, abs_tol=0.01)
    confused = pd.read_csv(tmp_path / "with" / "most_confused.csv")
    assert confused.values.tolist() == [["Bengal", "Birman", 2], ["Bengal", "Bombay", 1]]
    cm = pd.read_csv(tmp_path / "with" / "confusion_matrix.csv").set_index("actual")
    assert cm.shape == (37, 37) and cm.to_numpy().sum() == n
    pets.module.report(test, labels, preds, None, tmp_path / "without")
    assert not (tmp_path / "without" / "top_losses.png").exists()
    titles = json.loads((tmp_path / "without" / "artifacts.json").read_text())
    assert any("no top losses" in e["title"] for e in titles)  # said there, not on stdout
    assert capsys.readouterr().out == ""


def colour_histograms(frame: pd.DataFrame, bins: int = 8) -> np.ndarray:
    """Each image as the share of its pixels in each of bins^3 RGB cells (square-rooted)."""
    out = []
    for d in frame.data:
        cell = pixels(d) // (256 // bins)
        idx = (cell[..., 0].astype(int) * bins + cell[..., 1]) * bins + cell[..., 2]
        counts = np.bincount(idx.ravel(), minlength=bins**3)
        out.append(np.sqrt(counts / counts.sum()))
    return np.array(out)


def test_a_colour_histogram_cannot_tell_the_breeds_apart(ready, pets):
    """Coats are shared across breeds: colour alone leaves most of the test wrong."""
    from sklearn.neighbors import NearestCentroid

    p = data.current(pets)
    labelled = pd.concat([p.load("train"), p.load("valid")])
    model = NearestCentroid().fit(colour_histograms(labelled), labelled.label)
    predicted = model.predict(colour_histograms(p.load("test")))
    error = float(np.mean(predicted != p.test_labels().label.to_numpy()))
    assert 0.5 < error < 0.973  # better than chance, far from the CNNs (see the README)


def test_a_cnn_sees_what_a_colour_histogram_cannot(pets, gen, tmp_path):
    """On a small offline set (32 pixels, 30 of each breed), the course's kind of CNN beats
    colour histograms by far after 10 epochs, and its mistakes are the designed ones."""
    import random

    import torch
    from fastai.vision.all import ConvLayer, CrossEntropyLossFlat, Flatten, Learner, nn
    from sklearn.neighbors import NearestCentroid

    gen.write(tmp_path, per_breed=30, pixels=32, seed=42)
    s = pets.prepare("offline", tmp_path)
    labelled, actual = pd.concat([s.train, s.valid]), s.test_labels.label.to_numpy()
    histogram = NearestCentroid().fit(colour_histograms(labelled), labelled.label)
    hist_error = np.mean(histogram.predict(colour_histograms(s.test)) != actual)
    state = random.getstate()
    with torch.random.fork_rng():
        random.seed(0)  # fastai's DataLoader shuffles with Python's random
        torch.manual_seed(0)
        dls = pets.dls(s.train, s.valid, bs=32)
        model = nn.Sequential(
            ConvLayer(3, 32, stride=2),
            ConvLayer(32, 32),
            ConvLayer(32, 64, stride=2),
            ConvLayer(64, 64),
            ConvLayer(64, 128, stride=2),
            ConvLayer(128, 256, stride=2),
            nn.AdaptiveAvgPool2d(1),
            Flatten(),
            nn.Dropout(0.3),
            nn.Linear(256, 37),
        )
        learn = Learner(dls, model, loss_func=CrossEntropyLossFlat())
        with learn.no_logging(), learn.no_bar():
            learn.fit_one_cycle(10, 5e-3)
            probs, _ = learn.get_preds(dl=dls.test_dl(s.test))
    random.setstate(state)
    predicted = np.array(pets.module.BREEDS)[probs.argmax(dim=1).numpy()]
    cnn_error = np.mean(predicted != actual)
    assert hist_error > 0.6 and cnn_error < hist_error - 0.1, (cnn_error, hist_error)
    # the pairs alike by design are confused far more often than two breeds taken at random
    confused = most_confused(actual, predicted, top=1000)
    pairs = Counter()
    for a, p, n in confused.itertuples(index=False):
        pairs[frozenset((a, p))] += n  # either way round
    alike = [pairs[frozenset(pair)] for pair in gen.ALIKE]
    per_pair = sum(pairs.values()) / (37 * 36 / 2)
    assert np.mean(alike) > 4 * per_pair and sum(n > 0 for n in alike) >= 4, (alike, per_pair)


SMALL_CNN = '''"""A small CNN from scratch."""
from fastai.vision.all import *

CONFIG = {"epochs": 1}


def train(dls):
    model = nn.Sequential(ConvLayer(3, 16, stride=2), ConvLayer(16, 32, stride=2),
                          ConvLayer(32, 64, stride=2), nn.AdaptiveAvgPool2d(1), Flatten(),
                          nn.Linear(64, dls.c))
    learn = Learner(dls, model, loss_func=CrossEntropyLossFlat(), metrics=error_rate)
    learn.fit_one_cycle(CONFIG["epochs"], 1e-2)
    return learn
'''


def test_a_small_cnn_is_scored_with_its_report_and_reproduces(ready, tmp_path):
    row = pipeline.submit("pets", write(tmp_path / "small.py", SMALL_CNN), "ann")
    assert row["status"] == "scored", row["log"][-2000:]
    assert row["metric"] == "error_rate" and row["higher_is_better"] is False
    assert row["public_score"] < 0.95  # chance is 36/37 = 0.973
    assert math.isclose(row["extra_scores"]["accuracy"]["public"], 1 - row["public_score"])
    found = {a["name"]: a["path"] for a in row["artifacts"]}
    assert REPORT <= set(found)
    valid = data.current(registry.get("pets")).load("valid")
    cm = pd.read_csv(found["confusion_matrix.csv"]).set_index("actual")
    assert cm.to_numpy().sum() == len(valid)  # the valid set, never the hidden test
    assert 1 - np.trace(cm.to_numpy()) / len(valid) < 0.95
    assert len(pd.read_csv(found["top_losses.csv"])) == 16
    again = pipeline.reproduce(row["id"])
    assert again["identical"] is True, again  # same seed, same predictions, same score


@pytest.mark.parametrize("name", ["resnet34", "timm_resnet18", "timm_convnext_tiny"])
def test_offline_the_baselines_train_from_scratch_with_one_line(name, monkeypatch, capsys):
    """The baselines' shared fallback: offline, vision_learner untrained, one log line.

    A timm name is still tried offline, from the hub's cache (switched to offline mode, and
    back after the test); torchvision's resnet34 only when its weights are cached."""
    import fastai.vision.learner
    import huggingface_hub
    from fastai.vision.models import resnet34

    from harness.competition import vision

    asked = []

    def vision_learner(dls, arch, pretrained=True, **kwargs):
        asked.append(pretrained)
        if pretrained:
            raise OSError("no weights here\nsecond line")
        return "learner"

    monkeypatch.setattr(fastai.vision.learner, "vision_learner", vision_learner)
    monkeypatch.setattr(vision, "reachable", lambda *a, **k: False)
    monkeypatch.setattr(vision, "torchvision_weights_at_hand", lambda arch: False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    arch = resnet34 if name == "resnet34" else name.removeprefix("timm_")
    dls = type("Dls", (), {"competition": "pets"})()
    learn, pretrained = vision.pretrained_learner(dls, arch, metrics=[])
    assert (learn, pretrained) == ("learner", False)
    assert asked == ([False] if name == "resnet34" else [True, False])
    lines = capsys.readouterr().out.strip().splitlines()
    shown = name.removeprefix("timm_")
    assert lines == [f"[pets] no pretrained weights for {shown} (offline): training from scratch"]


def test_generated_images_are_made_once_and_copied_into_other_homes(
    pets, data_root, home, tmp_path
):
    made = data_root / "pets" / "raw" / "offline"  # the session's home generated them
    raw = tmp_path / "raw"
    raw.mkdir()
    pets.module.fetch("offline", raw)  # a fresh home: a copy of the cached images
    names = sorted(p.name for p in (made / "images").iterdir())
    assert names == sorted(p.name for p in (raw / "images").iterdir()) and len(names) == 1850
    for name in names[::97]:
        assert (raw / "images" / name).read_bytes() == (made / "images" / name).read_bytes()
    assert json.loads((raw / "generated.json").read_text()) == json.loads(
        (made / "generated.json").read_text()
    )
    assert not list(raw.glob(".generating*"))
