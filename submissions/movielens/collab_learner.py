"""fastai's collab_learner, as in lesson 7: 50 factors, y_range (0, 5.5), weight decay 0.1."""

from fastai.collab import *  # noqa: F403

CONFIG = {"n_factors": 50, "epochs": 5, "lr": 5e-3, "wd": 0.1}


def train(dls):
    learn = collab_learner(dls, n_factors=CONFIG["n_factors"], y_range=(0, 5.5))
    learn.fit_one_cycle(CONFIG["epochs"], CONFIG["lr"], wd=CONFIG["wd"])
    return learn
