"""MNIST: the stratified offline split, Kaggle and fastai files placed by hand, the
digit-recognizer layout, the DataLoaders, the scorer's report and the baselines."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from harness.competition import data, registry
from harness.competition.sources import SourceError
from harness.run import pipeline
from tests.conftest import write

PIXELS = [f"pixel{i}" for i in range(784)]
DIGITS = list(range(10))
REPORT = {
    "confusion_matrix.csv",
    "confusion_matrix.png",
    "most_confused.csv",
    "top_losses.csv",
    "top_losses.png",
}


@pytest.fixture
def mnist():
    return registry.get("mnist")


def counts(labels) -> list[int]:
    return np.bincount(np.asarray(labels), minlength=10).tolist()


def images(n: int, seed: int) -> np.ndarray:
    """n distinct fake images: random ink, the row number written into the first pixels."""
    px = np.random.default_rng(seed).integers(0, 256, size=(n, 784), dtype=np.uint8)
    px[:, 0], px[:, 1] = np.arange(n) // 256, np.arange(n) % 256
    return px


def key(pixels: np.ndarray) -> list[bytes]:
    """A row's identity: its pixel bytes."""
    return [row.tobytes() for row in np.ascontiguousarray(pixels, dtype=np.uint8)]


def test_offline_split_is_stratified_and_sized(ready, mnist):
    p = data.current(mnist)
    train, valid, test = (p.load(s) for s in ("train", "valid", "test"))
    labels = p.test_labels()
    raw = mnist.module.read_offline(data.data_dir("mnist") / "raw" / "offline")
    # the sample: 5,000 images, 500 a digit, sorted by label (so a plain slice would be wrong)
    assert raw.shape == (5000, 785) and counts(raw.label) == [500] * 10
    assert raw.label.is_monotonic_increasing
    assert p.manifest["rows"] == {"train": 3200, "valid": 800, "test": 1000}
    assert (p.manifest["public_rows"], p.manifest["private_rows"]) == (500, 500)
    # every split keeps the sample's balance exactly
    assert counts(train.label) == [320] * 10 and counts(valid.label) == [80] * 10
    assert counts(labels.Label) == [100] * 10
    assert list(train.columns) == ["label", *PIXELS] == list(valid.columns)
    assert list(test.columns) == ["ImageId", *PIXELS]
    assert (train[PIXELS].dtypes == np.uint8).all() and (test[PIXELS].dtypes == np.uint8).all()
    # ImageId 1..n in shuffled order: neither the id nor the row order tells the digit
    assert list(test.ImageId) == list(range(1, 1001))
    assert not labels.Label.is_monotonic_increasing
    # the three splits are the sample, each image once, with its own label
    everything = pd.concat(
        [train, valid, test.drop(columns="ImageId").assign(label=labels.Label.to_numpy())]
    )
    assert sorted(key(everything[PIXELS].to_numpy())) == sorted(key(raw[PIXELS].to_numpy()))
    by_pixels = dict(zip(key(raw[PIXELS].to_numpy()), raw.label, strict=True))
    assert [by_pixels[k] for k in key(everything[PIXELS].to_numpy())] == list(everything.label)


def test_user_files_are_in_digit_recognizer_layout(ready, mnist):
    p = data.current(mnist)
    train = pd.read_csv(p.files / "train.csv")
    test = pd.read_csv(p.files / "test.csv")
    sample = pd.read_csv(p.files / "sample_submission.csv")
    assert list(train.columns) == ["label", *PIXELS] and len(train) == 4000
    assert counts(train.label) == [400] * 10 and not train.label.is_monotonic_increasing
    # Kaggle's test.csv: pixels only, ImageId being the 1-based row number
    assert list(test.columns) == PIXELS and len(test) == 1000
    worker_test = p.load("test")
    assert np.array_equal(test.to_numpy(), worker_test[PIXELS].to_numpy())
    assert list(sample.columns) == ["ImageId", "Label"]
    assert list(sample.ImageId) == list(range(1, 1001))
    # course and Kaggle code: the pixels of train.csv reshape to 28x28 images
    assert train[PIXELS].to_numpy().reshape(-1, 28, 28).shape == (4000, 28, 28)


def test_kaggle_files_placed_by_hand(home, mnist):
    """A small train.csv and test.csv in Kaggle's format, written by hand."""
    raw = data.data_dir("mnist") / "raw" / "kaggle"
    raw.mkdir(parents=True)
    labels = np.tile(DIGITS, 14)  # 140 rows, 14 a digit
    train_px, test_px = images(140, seed=1), images(30, seed=2)
    kaggle_train = pd.DataFrame(train_px, columns=PIXELS).astype("int64")
    kaggle_train.insert(0, "label", labels)
    kaggle_train.to_csv(raw / "train.csv", index=False)
    pd.DataFrame(test_px, columns=PIXELS).to_csv(raw / "test.csv", index=False)
    p = data.fetch_and_prepare(mnist, "kaggle", log=lambda *_: None)
    assert p.source == "kaggle" and data.current(mnist).fingerprint == p.fingerprint
    # the hidden test is carved out of train.csv (a seventh, stratified), labels and all
    assert p.manifest["rows"] == {"train": 96, "valid": 24, "test": 20}
    hidden = p.test_labels()
    assert counts(hidden.Label) == [2] * 10
    truth = dict(zip(key(train_px), labels, strict=True))
    test = p.load("test")
    assert [truth[k] for k in key(test[PIXELS].to_numpy())] == list(hidden.Label)
    assert list(test.ImageId) == list(range(1, 21))
    train, valid = p.load("train"), p.load("valid")
    assert counts(pd.concat([train, valid]).label) == [12] * 10
    assert not set(key(test[PIXELS].to_numpy())) & set(key(train[PIXELS].to_numpy()))
    # Kaggle's own test.csv is kept for uploads, with ImageId as the harness needs it
    kept = pd.read_csv(p.path / "kaggle" / "test.csv")
    assert list(kept.columns) == ["ImageId", *PIXELS]
    assert list(kept.ImageId) == list(range(1, 31))
    assert np.array_equal(kept[PIXELS].to_numpy(), test_px)
    files = pd.read_csv(p.files / "test.csv")
    assert list(files.columns) == PIXELS and len(files) == 20


def test_kaggle_files_with_other_columns_are_refused(home, mnist):
    raw = data.data_dir("mnist") / "raw" / "kaggle"
    raw.mkdir(parents=True)
    pd.DataFrame({"ImageId": [1], "label": [3]}).to_csv(raw / "train.csv", index=False)
    pd.DataFrame(images(2, seed=3), columns=PIXELS).to_csv(raw / "test.csv", index=False)
    with pytest.raises(SourceError, match=r"train.csv: expected Kaggle's digit-recognizer"):
        data.fetch_and_prepare(mnist, "kaggle", log=lambda *_: None)


def test_fastai_png_folders_placed_by_hand(home, mnist):
    """training/<digit>/ and testing/<digit>/ PNGs, as untar_data(URLs.MNIST) unpacks them."""
    from PIL import Image

    raw = data.data_dir("mnist") / "raw" / "fastai"
    px = images(70, seed=4)
    truth = {}
    for i, row in enumerate(px):
        folder, digit = ("training", i % 10) if i < 50 else ("testing", i % 10)
        path = raw / folder / str(digit) / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(row.reshape(28, 28)).save(path)
        truth[row.tobytes()] = (folder, digit)
    p = data.fetch_and_prepare(mnist, "fastai", log=lambda *_: None)
    assert p.source == "fastai"
    # the testing images, and only they, are the hidden test
    assert p.manifest["rows"] == {"train": 40, "valid": 10, "test": 20}
    test, hidden = p.load("test"), p.test_labels()
    assert [truth[k] for k in key(test[PIXELS].to_numpy())] == [
        ("testing", d) for d in hidden.Label
    ]
    assert list(test.ImageId) == list(range(1, 21)) and counts(hidden.Label) == [2] * 10
    assert not hidden.Label.is_monotonic_increasing  # the folders' order is shuffled away
    train = pd.concat([p.load("train"), p.load("valid")])
    assert [truth[k] for k in key(train[PIXELS].to_numpy())] == [
        ("training", d) for d in train.label
    ]
    assert not (p.path / "kaggle").exists()


def test_dls_give_grey_28x28_images_and_predict_the_test_frame(ready, mnist):
    p = data.current(mnist)
    train, valid, test = p.load("train").head(256), p.load("valid").head(64), p.load("test")
    dls = mnist.dls(train, valid, bs=32)
    assert list(dls.vocab) == DIGITS and dls.c == 10
    assert (len(dls.train_ds), len(dls.valid_ds)) == (256, 64)
    x, y = dls.valid.one_batch()
    assert x.shape == (32, 1, 28, 28) and x.dtype.is_floating_point
    assert abs(float(x.mean())) < 0.5 and 0.5 < float(x.std()) < 1.5  # normalised
    assert y.tolist() == valid.label.head(32).tolist()  # vocab 0..9: index = digit
    # the worker predicts with test_dl on the test frame (ImageId and pixels), in row order
    dl = dls.test_dl(test.head(50))
    xs = [b[0] for b in dl]
    assert sum(len(b) for b in xs) == 50
    mean, std = mnist.module.MNIST_STATS
    expected = (test[PIXELS].to_numpy()[:32] / 255 - mean[0]) / std[0]
    assert np.allclose(xs[0].reshape(32, 784).numpy(), expected, atol=1e-5)


def test_to_submission_writes_integer_labels(mnist):
    test = pd.DataFrame({"ImageId": [1, 2, 3]})
    sub = mnist.to_submission(test, np.array([7.0, 0.0, 9.0]))
    assert list(sub.columns) == ["ImageId", "Label"] and sub.Label.dtype == np.int64
    assert sub.Label.tolist() == [7, 0, 9] and sub.ImageId.tolist() == [1, 2, 3]


def test_report_softmaxes_logits_and_skips_top_losses_without_them(mnist, tmp_path, capsys):
    """The shared classification report, with MNIST's classes and images."""
    px = images(12, seed=5)
    test = pd.DataFrame(px, columns=PIXELS)
    test.insert(0, "ImageId", range(1, 13))
    actual = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 3, 8])
    predicted = actual.copy()
    predicted[[10, 11]] = [5, 3]
    labels = pd.DataFrame({"ImageId": test.ImageId, "Label": actual, "Usage": "Public"})
    preds = pd.DataFrame({"ImageId": test.ImageId, "Label": predicted})
    logits = np.full((12, 10), -2.0)
    logits[np.arange(12), predicted] = 3.0
    logits[11, 3] = 9.0  # the most confident mistake: 8 read as 3
    mnist.module.report(test, labels, preds, logits, tmp_path / "with")
    losses = pd.read_csv(tmp_path / "with" / "top_losses.csv")
    assert losses.ImageId.tolist()[:2] == [12, 11] and losses.loss.is_monotonic_decreasing
    assert math.isclose(losses["p(actual)"][0] + losses["p(predicted)"][0], 1, abs_tol=0.01)
    confused = pd.read_csv(tmp_path / "with" / "most_confused.csv")
    assert confused.values.tolist() == [[3, 5, 1], [8, 3, 1]]
    mnist.module.report(test, labels, preds, None, tmp_path / "without")
    names = {p.name for p in (tmp_path / "without").iterdir()}
    assert names == {
        "artifacts.json",
        "confusion_matrix.csv",
        "confusion_matrix.png",
        "most_confused.csv",
    }
    titles = json.loads((tmp_path / "without" / "artifacts.json").read_text())
    assert any("no top losses" in e["title"] for e in titles)  # said there, not on stdout
    assert capsys.readouterr().out == ""


TINY_CNN = '''"""A tiny stride-2 CNN, one epoch."""
from fastai.vision.all import *

CONFIG = {"epochs": 1}


def conv(ni, nf):
    return nn.Sequential(nn.Conv2d(ni, nf, 3, stride=2, padding=1), nn.BatchNorm2d(nf), nn.ReLU())


def train(dls):
    model = nn.Sequential(conv(1, 8), conv(8, 16), conv(16, 32), nn.Conv2d(32, 10, 4), Flatten())
    learn = Learner(dls, model, loss_func=CrossEntropyLossFlat(), metrics=accuracy)
    learn.fit_one_cycle(CONFIG["epochs"], 0.05)
    return learn
'''


def test_a_small_cnn_is_scored_with_its_report_and_reproduces(ready, tmp_path, monkeypatch):
    # on a shared 2-core machine, spinning OpenMP threads slow small convolutions many times
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    row = pipeline.submit("mnist", write(tmp_path / "tiny.py", TINY_CNN), "ann")
    assert row["status"] == "scored", row["log"][-2000:]
    assert row["metric"] == "accuracy" and row["higher_is_better"] is True
    assert 0.5 < row["public_score"] <= 1  # one epoch learns something
    assert math.isclose(row["extra_scores"]["error_rate"]["public"], 1 - row["public_score"])
    found = {a["name"]: a["path"] for a in row["artifacts"]}
    assert set(found) == REPORT
    prepared = data.current(registry.get("mnist"))
    valid, test = prepared.load("valid"), prepared.load("test")
    cm = pd.read_csv(found["confusion_matrix.csv"]).set_index("actual")
    assert cm.shape == (10, 10) and cm.to_numpy().sum() == len(valid)  # the valid set only
    assert list(cm.sum(axis=1)) == list(valid.label.value_counts().sort_index())
    assert np.trace(cm.to_numpy()) / len(valid) > 0.5
    losses = pd.read_csv(found["top_losses.csv"])
    assert len(losses) == 16 and losses.loss.is_monotonic_decreasing
    assert losses.ImageId.min() > test.ImageId.max()  # valid images, numbered after the test
    from PIL import Image

    with Image.open(found["top_losses.png"]) as img:
        assert img.size[0] > 400 and img.size[1] > 400
    again = pipeline.reproduce(row["id"])
    assert again["identical"] is True, again  # same seed, same predictions, same score


def test_the_timm_baseline_falls_back_to_random_weights_with_one_line(monkeypatch, capsys):
    """Offline the pretrained model is not even tried (that would move the seeded state);
    online a failed download falls back too. One log line either way."""
    import timm

    from harness.competition import vision

    asked = []

    def create_model(arch, pretrained=False, **kwargs):
        asked.append(pretrained)
        if pretrained:
            raise OSError("no weights here\nsecond line")
        return timm.create_model(arch, pretrained=False, **kwargs)

    dls = type("Dls", (), {"competition": "mnist"})()
    for online, tried, why in ((False, [False], "offline"), (True, [True, False], "OSError")):
        asked.clear()
        monkeypatch.setattr(vision, "hub_online", lambda o=online: o)
        model, pretrained = vision.pretrained_model(
            dls, create_model, "resnet18", in_chans=1, num_classes=10
        )
        assert pretrained is False and asked == tried
        assert model.conv1.in_channels == 1 and model.get_classifier().out_features == 10
        lines = capsys.readouterr().out.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("[mnist] no pretrained weights for resnet18")
        assert why in lines[0] and lines[0].endswith("training from scratch")
