"""Pets: tell 37 breeds of cats and dogs apart in photographs (Oxford-IIIT Pet).

The course's first model (fast.ai 2022, lessons 1, 3 and 6; book chapters 1 and 5): a
pretrained resnet34 fine-tuned on 7,390 photographs reaches about 8% error (5.4% with
discriminative learning rates, 4% with ConvNeXt). The metric is error rate, accuracy
beside it. Offline, generated pictures of the same 37 breeds stand in for the photographs:
breeds told apart by shape, colour and texture together, some of them alike on purpose.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from harness.competition import Format, Spec, Splits, hidden_test, sibling, stratified_split
from harness.competition.classification import report as classification_report
from harness.competition.secret import secret_seed
from harness.competition.sources import SourceError, fastai_dataset
from harness.competition.vision import frame_dataloaders
from harness.paths import cache_dir

generate = sibling(__file__, "generate")  # the offline data generator
BREEDS = list(generate.NAMES)  # sorted as fastai sorts a vocab: the 12 cats come first

SPEC = Spec(
    version=1,
    metric="error_rate",
    also=("accuracy",),
    submission=Format("id", "label", "label", allowed=tuple(BREEDS)),
    public_fraction=0.5,
    seed=42,
    sources=("offline", "fastai"),
    # the photographs' best published models err about 3%; the offline test is secret
    plausible_best=0.02,
)

NAME_RE = re.compile(r"^(.+)_(\d+)\.jpg$")  # the dataset's names: <breed>_<n>.jpg
OFFLINE = {"per_breed": 50, "pixels": 64}  # 1,850 images: trains on 2 CPU cores in minutes
TEST_FRACTION = 0.2  # stratified: every breed keeps its share of the hidden test
VALID_PCT = 0.2  # of the rest, picked as fastai's RandomSplitter(0.2, seed=42) picks
COURSE_SIZES = (460, 224)  # the course's presizing: Resize(460), then aug_transforms(224)


def fetch(source: str, raw_dir: Path) -> None:
    """Offline: generate images/ from the seed. fastai: untar_data(URLs.PETS)'s images/."""
    if source == "offline":
        _generate(raw_dir)
    else:
        _fetch_fastai(raw_dir)


def _generate(raw_dir: Path) -> None:
    """The generated images, made once per content: a cached copy (keyed by the
    generator's code, its breed table and parameters) serves every other harness home."""
    meta = raw_dir / "generated.json"
    want = {**OFFLINE, "seed": SPEC.seed, "breeds": len(BREEDS), "generator": generate.VERSION}
    if meta.exists() and (raw_dir / "images").is_dir() and json.loads(meta.read_text()) == want:
        return  # generated before with the same parameters
    here = Path(__file__).parent
    key = hashlib.sha256(json.dumps(want, sort_keys=True).encode())
    for part in ("generate.py", "breeds.txt"):
        key.update((here / part).read_bytes())
    cached = cache_dir() / "pets" / f"generated-{key.hexdigest()[:16]}"
    tmp = raw_dir / ".generating"
    shutil.rmtree(tmp, ignore_errors=True)
    if (cached / "generated.json").exists():
        shutil.copytree(cached, tmp)
    else:
        generate.write(tmp, OFFLINE["per_breed"], OFFLINE["pixels"], SPEC.seed)
        _keep(tmp, cached)
    shutil.rmtree(raw_dir / "images", ignore_errors=True)
    (tmp / "images").rename(raw_dir / "images")  # a half-written folder never looks complete
    (tmp / "generated.json").rename(meta)
    shutil.rmtree(tmp, ignore_errors=True)


def _keep(made: Path, cached: Path) -> None:
    """Copies freshly generated images into the cache, whole or not at all."""
    part = cached.with_name(f"{cached.name}.{os.getpid()}.part")
    try:
        shutil.copytree(made, part)
        part.rename(cached)
    except OSError:  # another home cached it meanwhile, or the cache is not writable
        shutil.rmtree(part, ignore_errors=True)


def _fetch_fastai(raw_dir: Path) -> None:
    from fastai.data.external import URLs

    what = "the Oxford-IIIT Pet dataset (7,390 <breed>_<n>.jpg files in images/)"
    fastai_dataset(URLs.PETS, raw_dir, ("images/",), what)


def read_folder(folder: Path) -> pd.DataFrame:
    """Every <breed>_<n>.jpg of a folder: image (images/<name>), label, data (its bytes).

    Rows are sorted by file name, so the listing order of the disk never matters; other
    files (the dataset's few .mat files) are ignored.
    """
    names = sorted(p.name for p in Path(folder).glob("*.jpg"))
    if not names:
        raise SourceError(f"{folder} holds no <breed>_<n>.jpg images")
    labels = []
    for name in names:
        m = NAME_RE.match(name)
        if not m or m.group(1) not in BREEDS:
            raise SourceError(
                f"{Path(folder) / name}: expected <breed>_<n>.jpg with one of the 37 breeds "
                f"({', '.join(BREEDS[:3])}, ...)"
            )
        labels.append(m.group(1))
    data = [(Path(folder) / name).read_bytes() for name in names]
    return pd.DataFrame({"image": [f"images/{n}" for n in names], "label": labels, "data": data})


def course_data() -> dict:
    """What a run's `untar_data(URLs.PETS)` finds without network (harness.run.course_data)."""
    return {"PETS": oxford_iiit_pet}


def oxford_iiit_pet(train: pd.DataFrame, valid: pd.DataFrame) -> dict[str, bytes]:
    """fastai's oxford-iiit-pet/ folder: images/<breed>_<n>.jpg of train and valid (the
    hidden test's are not there), so the course's `get_image_files(path/'images')`,
    `RegexLabeller(r'^(.*)_\\d+.jpg$')` and `x[0].isupper()` (a cat) work as on the photos."""
    both = pd.concat([train, valid])
    return dict(zip(both["image"], both["data"], strict=True))


def random_splitter(n: int, valid_pct: float = VALID_PCT, seed: int = 42):
    """fastai's RandomSplitter(valid_pct, seed) on n items: (train, valid) positions.

    The same permutation (torch.randperm after seeding) from a generator of its own, so
    the global torch seed is left alone.
    """
    import torch

    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    cut = int(valid_pct * n)
    return order[cut:], order[:cut]


def prepare(source: str, raw_dir: Path):
    """Seeded splits: a stratified hidden test (public and private halves), valid 20% of
    the rest as RandomSplitter(0.2, seed=42) picks it from the sorted file names.

    Test images are renamed test/<id>.jpg, their ids 1..n in shuffled order, because the
    dataset's own names give the breed away. The installation's secret (secret.py) decides
    that order and, offline, draws the test pictures afresh, so the generator's public
    seed rebuilds neither; `HARNESS_SECRET=public` gives the published data.
    """
    pool = read_folder(raw_dir / "images")
    rest_idx, test_idx = stratified_split(pool["label"], TEST_FRACTION, SPEC.seed)
    rest = pool.iloc[rest_idx].reset_index(drop=True)  # still sorted by file name
    order = np.random.default_rng(secret_seed(SPEC.seed, "pets/test-order"))
    test_idx = order.permutation(test_idx)
    test = pool.iloc[test_idx].reset_index(drop=True)
    if source == "offline":
        test = redraw_hidden(test, raw_dir)
    train_idx, valid_idx = random_splitter(len(rest), VALID_PCT, SPEC.seed)
    train, valid = rest.iloc[np.sort(train_idx)], rest.iloc[np.sort(valid_idx)]
    features, labels = hidden_test(test, SPEC)
    features["image"] = [f"test/{i}.jpg" for i in features["id"]]  # not the breed's name
    listing = rest[["image", "label"]].assign(is_valid=False)
    listing.loc[listing.index[valid_idx], "is_valid"] = True
    return Splits(
        train=train,
        valid=valid,
        test=features,
        test_labels=labels,
        files={
            "train.csv": listing,  # image,label,is_valid: fastai's ColSplitter reads is_valid
            "test.csv": features[["id", "image"]],
            **dict(zip(rest["image"], rest["data"], strict=True)),  # images/<name>.jpg
            **dict(zip(features["image"], features["data"], strict=True)),  # test/<id>.jpg
        },
    )


def redraw_hidden(test: pd.DataFrame, raw_dir: Path) -> pd.DataFrame:
    """The hidden test's pictures drawn again with the generator's seed mixed with the
    installation's secret: the same breeds and picture numbers, unseen pictures. Without
    a secret (`HARNESS_SECRET=public`) the generated pictures stay as they are."""
    meta = json.loads((raw_dir / "generated.json").read_text())
    seed = secret_seed(meta["seed"], "pets/test-images")
    if seed == meta["seed"]:
        return test
    numbers = [int(NAME_RE.match(Path(name).name).group(2)) for name in test["image"]]
    data = [
        generate.jpeg(breed, n, meta["pixels"], seed)
        for breed, n in zip(test["label"], numbers, strict=True)
    ]
    return test.assign(data=data)


class Pet:
    """One image as the DataLoaders see it: its JPEG bytes and its breed (or None)."""

    __slots__ = ("data", "label")

    def __init__(self, data: bytes, label: str | None = None):
        self.data, self.label = data, label

    def __repr__(self) -> str:  # fastai formats its items into messages: keep it short
        return f"Pet(label={self.label}, {len(self.data)} bytes)"


def pets(df: pd.DataFrame) -> list[Pet]:
    """A frame's rows as Pets (the image bytes and, for train and valid, the breed)."""
    labels = df["label"].tolist() if "label" in df else [None] * len(df)
    return [Pet(d, y) for d, y in zip(df["data"].tolist(), labels, strict=True)]


def pet_data(p: Pet) -> bytes:
    return p.data


def pet_label(p: Pet) -> str | None:
    return p.label


def image_sizes(df: pd.DataFrame, n: int = 64) -> list[tuple[int, int]]:
    """(width, height) of the first n images, read from their headers."""
    from PIL import Image

    out = []
    for data in df["data"].head(n):
        with Image.open(io.BytesIO(data)) as img:
            out.append(img.size)
    return out


def default_sizes(df: pd.DataFrame) -> tuple[int, int]:
    """(presize, size): the course's (460, 224) for photographs; small images as they are."""
    longest = int(np.median([max(s) for s in image_sizes(df)]))
    return COURSE_SIZES if longest >= 300 else (longest, longest)


def dls(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    bs: int = 64,
    size: int | None = None,
    presize: int | None = None,
    num_workers: int | None = None,
):
    """fastai image DataLoaders as the course builds them, the breed as a category.

    As book chapter 5: `item_tfms=Resize(presize)`, then on the batch
    `aug_transforms(size=size, min_scale=0.75)` and `Normalize` with ImageNet's statistics
    (pretrained models expect them; models from scratch do not mind). Photographs get the
    course's presizing, 460 then 224; the offline images (64 pixels) stay at their size.
    The vocab is always the 37 breeds, sorted, so column j of the probabilities is breed j.
    `dls.test_dl(frame)` takes the test frame. Images are decoded from the bytes in the
    frames; with a GPU, one worker process per core decodes them (fastai's default).
    """
    from fastai.data.block import CategoryBlock, DataBlock
    from fastai.data.transforms import IndexSplitter, Normalize
    from fastai.vision.augment import Resize, aug_transforms
    from fastai.vision.core import imagenet_stats
    from fastai.vision.data import ImageBlock

    if size is None:
        presize, size = default_sizes(train)
    presize = presize or size
    if num_workers is None:
        import torch
        from fastai.torch_core import defaults

        # with a GPU, decoding must keep up: fastai's default, a process per core (16 at
        # most); without one, worker processes only compete with the model for the cores
        num_workers = defaults.cpus if torch.cuda.is_available() else 0
    items = pets(train) + pets(valid)
    block = DataBlock(
        blocks=(ImageBlock, CategoryBlock(vocab=BREEDS)),
        get_x=pet_data,
        get_y=pet_label,
        splitter=IndexSplitter(list(range(len(train), len(items)))),
        item_tfms=Resize(presize),
        batch_tfms=[
            *aug_transforms(size=size, min_scale=0.75),
            Normalize.from_stats(*imagenet_stats),
        ],
    )
    loaders = block.dataloaders(items, bs=bs, path=".", num_workers=num_workers)
    return frame_dataloaders(loaders, pets, "pets")


def pet_image(row: pd.Series) -> np.ndarray:
    """A test row's picture, for the report's top losses."""
    from PIL import Image

    with Image.open(io.BytesIO(row["data"])) as img:
        return np.asarray(img.convert("RGB"))


def report(test: pd.DataFrame, labels: pd.DataFrame, preds: pd.DataFrame, raw, out: Path) -> None:
    """On the valid set, as the course: the confusion matrix, the most confused
    pairs and, when the model's probabilities were saved, the top-loss images."""
    classification_report(out, test, labels, preds, raw, BREEDS, image=pet_image, noun="images")


def diagnose(learn, out: Path) -> None:
    """The course's look at the valid set: ClassificationInterpretation's most_confused."""
    from fastai.interpret import ClassificationInterpretation

    from harness.competition.artifacts import save_table

    interp = ClassificationInterpretation.from_learner(learn)
    pairs = pd.DataFrame(interp.most_confused(min_val=2), columns=["actual", "predicted", "count"])
    save_table(out, "valid_most_confused", pairs, "Most confused pairs (valid set, at least 2)")
