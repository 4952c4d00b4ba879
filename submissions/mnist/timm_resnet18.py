"""timm's resnet18 adapted to one channel: in_chans=1, a new 10-way head (lesson 8's "use a library model").

`timm.create_model(..., in_chans=1, num_classes=10, pretrained=True)` sums the ImageNet
stem's RGB filters into one grey filter and replaces the classifier; `fine_tune` then
trains the head, then everything. Without internet (Hugging Face unreachable) the same
architecture trains from scratch with `fit_one_cycle`, and one line in the log says so.
The 28x28 digits are small for an ImageNet model: its stem and four stages take them
down to 1x1.
"""

import timm
from fastai.vision.all import *

from harness.competition.vision import pretrained_model

CONFIG = {"arch": "resnet18", "epochs": 5, "lr": 1e-2, "fine_tune_lr": 2e-3}


def body_and_head(model):
    """Two parameter groups, so that fine_tune trains the new head alone first."""
    head = {id(p) for p in model.get_classifier().parameters()}
    params = list(model.parameters())
    return [[p for p in params if id(p) not in head], [p for p in params if id(p) in head]]


def train(dls):
    model, pretrained = pretrained_model(
        dls, timm.create_model, CONFIG["arch"], in_chans=1, num_classes=10
    )
    learn = Learner(
        dls, model, loss_func=CrossEntropyLossFlat(), metrics=accuracy, splitter=body_and_head
    )
    if pretrained:  # transfer learning, as in lesson 1: head first, then everything
        learn.fine_tune(CONFIG["epochs"], CONFIG["fine_tune_lr"])
    else:
        learn.fit_one_cycle(CONFIG["epochs"], CONFIG["lr"])
    return learn
