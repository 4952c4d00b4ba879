"""The course's pet classifier: vision_learner with a pretrained resnet34, then fine_tune (lessons 1 and 6).

Book chapter 5's model: torchvision's resnet34 with ImageNet weights, a new head for the
37 breeds, `fine_tune` training the head first, then everything. Without the weights (no
internet and none cached), the same model trains from scratch with `fit_one_cycle` and
one line in the log says so; the score is then far from the course's 8% error.
"""

import socket
from urllib.parse import urlparse

from fastai.vision.all import *

CONFIG = {
    "arch": "resnet34",
    "epochs": 4,  # fine_tune: 1 frozen epoch, then these, as lesson 1
    "lr": 2e-3,  # fine_tune's base_lr (the course's default)
    "scratch_epochs": 10,  # without weights: fit_one_cycle from random weights
    "scratch_lr": 3e-3,
}


def reachable(url, timeout=3):
    """Whether the weights' server answers; checked first so that offline runs start at once."""
    try:
        socket.create_connection((urlparse(url).hostname, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def weights_at_hand():
    """True when resnet34's ImageNet weights are in torch's cache or can be downloaded."""
    url = ResNet34_Weights.IMAGENET1K_V1.url
    return Path(torch.hub.get_dir(), "checkpoints", Path(url).name).exists() or reachable(url)


def make_learner(dls):
    """The pretrained learner when the weights can be had, else the same one untrained."""
    metrics = [error_rate, accuracy]
    try:
        if not weights_at_hand():
            raise ConnectionError("offline")
        return vision_learner(dls, resnet34, metrics=metrics), True
    except Exception as e:  # no network, a proxy, a broken download: train from scratch
        why = "offline" if str(e) == "offline" else f"{type(e).__name__}: {e}"
        print(f"[pets] no pretrained weights for resnet34 ({' '.join(why.split())[:160]}): "
              "training from scratch", flush=True)  # fmt: skip
        return vision_learner(dls, resnet34, metrics=metrics, pretrained=False), False


def train(dls):
    learn, pretrained = make_learner(dls)
    if pretrained:
        learn.fine_tune(CONFIG["epochs"], CONFIG["lr"])
    else:
        learn.fit_one_cycle(CONFIG["scratch_epochs"], CONFIG["scratch_lr"])
    return learn
