"""timm's convnext_tiny through vision_learner: lesson 3's pick of the architecture chart (4% error on the photographs).

`vision_learner(dls, "convnext_tiny")` builds the model with timm (a string names a timm
architecture) and, with its ImageNet weights from the Hugging Face hub, `fine_tune`
trains the new head, then everything. Without the weights (no internet and none in the
hub's cache) the same model trains from scratch with `fit_one_cycle`, and one line in
the log says so.
"""

from fastai.vision.all import *

from harness.competition.vision import pretrained_learner

CONFIG = {
    "arch": "convnext_tiny",
    "epochs": 4,
    "lr": 2e-3,
    "scratch_epochs": 6,
    "scratch_lr": 5e-3,
}


def train(dls):
    learn, pretrained = pretrained_learner(dls, CONFIG["arch"], metrics=[error_rate, accuracy])
    if pretrained:
        learn.fine_tune(CONFIG["epochs"], CONFIG["lr"])
    else:
        learn.fit_one_cycle(CONFIG["scratch_epochs"], CONFIG["scratch_lr"])
    return learn
