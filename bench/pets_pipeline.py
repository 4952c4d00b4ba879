"""Pets: does the data pipeline keep up with the model? Images per second of each, on CPU.

Generates a small Pets folder (the offline generator, at --pixels), builds the
competition's DataLoaders and times, separately:

- the item stage: decoding the JPEG bytes, Resize, ToTensor, one image at a time;
- the batch stage: aug_transforms and Normalize on a collated batch;
- the whole pipeline: iterating dls.train (shuffle, items, collate, batch transforms);
- the model step alone: forward and backward of --arch on one fixed batch.

    python bench/pets_pipeline.py                      # the offline size: 64 pixels
    python bench/pets_pipeline.py --pixels 500         # photograph-sized: Resize(460), 224

The pipeline runs in one process here (num_workers=0, as dls() does without a GPU); with
a GPU, dls() starts worker processes, so the item stage scales with the cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def best_rate(fn, n_images: int, repeat: int) -> float:
    """Images per second of fn() (which handles n_images), best of `repeat`."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n_images / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pixels", type=int, default=64, help="longer side of the images")
    ap.add_argument("--per-breed", type=int, default=12, help="images per breed to generate")
    ap.add_argument("--bs", type=int, default=64)
    ap.add_argument("--arch", default="resnet34", help="torchvision resnet34/18, or a timm name")
    ap.add_argument("--batches", type=int, default=5, help="batches per timing")
    ap.add_argument("--repeat", type=int, default=3, help="timings; the best is shown")
    args = ap.parse_args()

    import torch
    from fastai.vision.all import resnet18, resnet34, vision_learner

    from harness.competition import registry

    pets = registry.get("pets").module
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        pets.generate.write(Path(tmp), args.per_breed, args.pixels, seed=0)
        frames = pets.read_folder(Path(tmp) / "images")
        gen_s = time.perf_counter() - t0
    dls = pets.dls(frames, frames.head(args.bs), bs=args.bs)
    dl = dls.train
    presize, size = pets.default_sizes(frames)
    n = args.bs * args.batches
    print(
        f"{len(frames)} generated images of {args.pixels} pixels in {gen_s:.1f} s; "
        f"Resize({presize}), aug_transforms(size={size}); bs {args.bs}; "
        f"torch threads {torch.get_num_threads()}"
    )

    items = [dl.do_item(i) for i in range(args.bs)]
    batch = dl.do_batch(items)  # collated, before the batch transforms
    item_rate = best_rate(lambda: [dl.do_item(i % len(frames)) for i in range(n)], n, args.repeat)
    batch_rate = best_rate(
        lambda: [dl.after_batch(batch) for _ in range(args.batches)], n, args.repeat
    )

    def iterate():
        for k, _ in enumerate(dl):
            if k + 1 == args.batches:
                break

    pipe_rate = best_rate(iterate, n, args.repeat)

    arch = {"resnet34": resnet34, "resnet18": resnet18}.get(args.arch, args.arch)
    learn = vision_learner(dls, arch, pretrained=False)
    model, loss_func = learn.model.train(), learn.loss_func
    xb, yb = dl.one_batch()

    def step():
        for _ in range(args.batches):
            model.zero_grad()
            loss_func(model(xb), yb).backward()

    step()  # warm-up: the first pass allocates
    model_rate = best_rate(step, n, args.repeat)
    print(f"item stage (decode, Resize, ToTensor)   {item_rate:8.0f} images/s")
    print(f"batch stage (aug_transforms, Normalize) {batch_rate:8.0f} images/s")
    print(f"whole pipeline (iterating dls.train)    {pipe_rate:8.0f} images/s")
    print(f"model step ({args.arch}, forward+backward) {model_rate:8.0f} images/s")
    print(
        f"the pipeline delivers {pipe_rate / model_rate:.1f}x what the model consumes on this "
        "CPU; a GPU consuming more than the pipeline's rate times the data-loading "
        "processes would wait for data"
    )


if __name__ == "__main__":
    main()
