"""The same net without entity embeddings: every category enters as a one-hot vector.

The paper's neural network with one-hot inputs: the course's net (layers 1000-500, the
same dropout, y_range and training), but each category's embedding is a frozen identity
matrix, so the first layer sees the one-hot vectors themselves and nothing is embedded.
"""

from competitions.rossmann import models  # the competition's shared nets

CONFIG = {
    "layers": [1000, 500],
    "ps": [0.001, 0.01],
    "embed_p": 0.04,
    "epochs": 10,
    "lr": 5e-3,
    "wd": 0.2,
}


def train(dls):
    learn = models.tabular_net(dls, CONFIG["layers"], CONFIG["ps"], CONFIG["embed_p"], one_hot=True)
    learn.fit_one_cycle(CONFIG["epochs"], CONFIG["lr"], wd=CONFIG["wd"])
    return learn
