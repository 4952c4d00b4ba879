"""timm's resnet18 through vision_learner: lesson 3's smallest contender in the architecture chart.

`vision_learner(dls, "resnet18")` builds the model with timm (a string names a timm
architecture) and, with its ImageNet weights from the Hugging Face hub, `fine_tune`
trains the new head, then everything. Without the weights (no internet and none in the
hub's cache) the same model trains from scratch with `fit_one_cycle`, and one line in
the log says so.
"""

import socket

import huggingface_hub
from fastai.vision.all import *

CONFIG = {
    "arch": "resnet18",
    "epochs": 4,
    "lr": 2e-3,
    "scratch_epochs": 10,
    "scratch_lr": 3e-3,
}


def reachable(host="huggingface.co", timeout=3):
    """Whether the hub answers; checked first so that offline runs start at once."""
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def make_learner(dls, arch):
    """The pretrained learner when the weights can be had, else the same one untrained."""
    metrics = [error_rate, accuracy]
    online = reachable()
    if not online:  # the hub's client would retry for a minute; offline it reads its cache
        huggingface_hub.constants.HF_HUB_OFFLINE = True
    try:
        return vision_learner(dls, arch, metrics=metrics), True
    except Exception as e:  # no network and no cache, a proxy: train from scratch
        why = " ".join(f"{type(e).__name__}: {e}".split())[:160] if online else "offline"
        print(f"[pets] no pretrained weights for {arch} ({why}): training from scratch",
              flush=True)  # fmt: skip
        return vision_learner(dls, arch, metrics=metrics, pretrained=False), False


def train(dls):
    learn, pretrained = make_learner(dls, CONFIG["arch"])
    if pretrained:
        learn.fine_tune(CONFIG["epochs"], CONFIG["lr"])
    else:
        learn.fit_one_cycle(CONFIG["scratch_epochs"], CONFIG["scratch_lr"])
    return learn
