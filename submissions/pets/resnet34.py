"""The course's pet classifier: vision_learner with a pretrained resnet34, then fine_tune (lessons 1 and 6).

Book chapter 5's model: torchvision's resnet34 with ImageNet weights, a new head for the
37 breeds, `fine_tune` training the head first, then everything. Without the weights (no
internet and none cached), the same model trains from scratch with `fit_one_cycle` and
one line in the log says so; the score is then far from the course's 8% error.
"""

from fastai.vision.all import *

from harness.competition.vision import pretrained_learner

CONFIG = {
    "arch": "resnet34",
    "epochs": 4,  # fine_tune: 1 frozen epoch, then these, as lesson 1
    "lr": 2e-3,  # fine_tune's base_lr (the course's default)
    "scratch_epochs": 10,  # without weights: fit_one_cycle from random weights
    "scratch_lr": 3e-3,
}


def train(dls):
    learn, pretrained = pretrained_learner(dls, resnet34, metrics=[error_rate, accuracy])
    if pretrained:
        learn.fine_tune(CONFIG["epochs"], CONFIG["lr"])
    else:
        learn.fit_one_cycle(CONFIG["scratch_epochs"], CONFIG["scratch_lr"])
    return learn
