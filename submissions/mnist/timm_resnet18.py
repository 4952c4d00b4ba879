"""timm's resnet18 adapted to one channel: in_chans=1, a new 10-way head (lesson 8's "use a library model").

`timm.create_model(..., in_chans=1, num_classes=10, pretrained=True)` sums the ImageNet
stem's RGB filters into one grey filter and replaces the classifier; `fine_tune` then
trains the head, then everything. Without internet (Hugging Face unreachable, weights
not cached) the same architecture trains from scratch with `fit_one_cycle`, and one line
in the log says so. The 28x28 digits are small for an ImageNet model: its stem and four
stages take them down to 1x1.
"""

import timm
from fastai.vision.all import *

CONFIG = {"arch": "resnet18", "epochs": 5, "lr": 1e-2, "fine_tune_lr": 2e-3, "hub_timeout": 5}


def hub_reachable(timeout):
    """Whether Hugging Face answers: offline, the hub client retries for about a minute."""
    import requests
    from huggingface_hub import constants

    try:
        requests.head(constants.ENDPOINT, timeout=timeout)
        return True
    except requests.RequestException:
        return False


def create_model(arch):
    """The pretrained model when its weights can be had, else the same model untrained."""
    try:
        if not hub_reachable(CONFIG["hub_timeout"]):
            raise ConnectionError("huggingface.co is unreachable")
        return timm.create_model(arch, pretrained=True, in_chans=1, num_classes=10), True
    except Exception as e:  # no network, no cached weights, a proxy: train from scratch
        reason = " ".join(str(e).split())[:160]
        print(f"WARNING: no pretrained weights for {arch} ({type(e).__name__}: {reason}); "
              "training from scratch (pretrained=False)", flush=True)  # fmt: skip
        return timm.create_model(arch, pretrained=False, in_chans=1, num_classes=10), False


def body_and_head(model):
    """Two parameter groups, so that fine_tune trains the new head alone first."""
    head = {id(p) for p in model.get_classifier().parameters()}
    params = list(model.parameters())
    return [[p for p in params if id(p) not in head], [p for p in params if id(p) in head]]


def train(dls):
    model, pretrained = create_model(CONFIG["arch"])
    learn = Learner(dls, model, loss_func=CrossEntropyLossFlat(), metrics=accuracy,
                    splitter=body_and_head)  # fmt: skip
    if pretrained:  # transfer learning, as in lesson 1: head first, then everything
        learn.fine_tune(CONFIG["epochs"], CONFIG["fine_tune_lr"])
    else:
        learn.fit_one_cycle(CONFIG["epochs"], CONFIG["lr"])
    return learn
