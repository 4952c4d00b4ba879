"""fastai's collab_learner(use_nn=True), as in lesson 7: embeddings fed to a 100-50 network.

fastai picks each embedding's size with its rule of thumb; the concatenated user and
movie embeddings go through two hidden layers instead of a dot product.
"""

from fastai.collab import *  # noqa: F403

CONFIG = {"layers": [100, 50], "epochs": 5, "lr": 5e-3, "wd": 0.1}


def train(dls):
    learn = collab_learner(dls, use_nn=True, y_range=(0, 5.5), layers=CONFIG["layers"])
    learn.fit_one_cycle(CONFIG["epochs"], CONFIG["lr"], wd=CONFIG["wd"])
    return learn
