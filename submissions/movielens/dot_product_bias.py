"""DotProductBias from scratch, as in lesson 7 (chapter 8, "Collaborative filtering deep dive").

User and movie factors and biases made with `create_params`, the dot product squashed
into (0, 5.5) by `sigmoid_range`, weight decay 0.1, five epochs of one-cycle training.
"""

from fastai.collab import *  # noqa: F403
from fastai.tabular.all import *  # noqa: F403

CONFIG = {"n_factors": 50, "epochs": 5, "lr": 5e-3, "wd": 0.1, "y_range": (0, 5.5)}


def create_params(size):
    return nn.Parameter(torch.zeros(*size).normal_(0, 0.01))


class DotProductBias(Module):
    def __init__(self, n_users, n_movies, n_factors, y_range=(0, 5.5)):
        self.user_factors = create_params([n_users, n_factors])
        self.user_bias = create_params([n_users])
        self.movie_factors = create_params([n_movies, n_factors])
        self.movie_bias = create_params([n_movies])
        self.y_range = y_range

    def forward(self, x):
        users = self.user_factors[x[:, 0]]
        movies = self.movie_factors[x[:, 1]]
        res = (users * movies).sum(dim=1)
        res += self.user_bias[x[:, 0]] + self.movie_bias[x[:, 1]]
        return sigmoid_range(res, *self.y_range)


def train(dls):
    n_users, n_movies = len(dls.classes["user"]), len(dls.classes["title"])
    model = DotProductBias(n_users, n_movies, CONFIG["n_factors"], CONFIG["y_range"])
    learn = Learner(dls, model, loss_func=MSELossFlat())
    learn.fit_one_cycle(CONFIG["epochs"], CONFIG["lr"], wd=CONFIG["wd"])
    return learn
