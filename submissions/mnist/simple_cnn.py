"""The course's simple CNN: stride-2 convolutions, batch norm, one-cycle training (lesson 8, book chapter 13).

Five stride-2 convolutions take the 28x28 image down to 1x1 with 10 channels, one per
digit; each is followed by batch norm and (but the last) a ReLU. `fit_one_cycle` warms
the learning rate up and anneals it, as the chapter's final version does.
"""

from fastai.vision.all import *

CONFIG = {"epochs": 8, "lr": 0.06}


def conv(ni, nf, ks=3, act=True):
    layers = [nn.Conv2d(ni, nf, stride=2, kernel_size=ks, padding=ks // 2)]
    layers.append(nn.BatchNorm2d(nf))
    if act:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def simple_cnn():
    return sequential(
        conv(1, 8, ks=5),  # 14x14
        conv(8, 16),  # 7x7
        conv(16, 32),  # 4x4
        conv(32, 64),  # 2x2
        conv(64, 10, act=False),  # 1x1
        Flatten(),
    )


def train(dls):
    learn = Learner(dls, simple_cnn(), loss_func=CrossEntropyLossFlat(), metrics=accuracy)
    learn.fit_one_cycle(CONFIG["epochs"], CONFIG["lr"])
    return learn
