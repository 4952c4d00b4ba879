"""Gradient-boosted trees on the net's learned entity embeddings (the paper's GBT with EE).

First the course's net (as in fastai_embeddings.py) is trained; then every category is
replaced by its learned embedding vector, one column a dimension, and
HistGradientBoostingRegressor fits log(Sales) on those and the continuous columns.
"""

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

import competitions.rossmann as rossmann
from competitions.rossmann import models

CONFIG = {
    "net": {
        "layers": [1000, 500],
        "ps": [0.001, 0.01],
        "embed_p": 0.04,
        "epochs": 10,
        "lr": 5e-3,
        "wd": 0.2,
    },
    "gbt": {"max_iter": 500, "learning_rate": 0.1, "max_leaf_nodes": 63, "random_state": 42},
}


def fit_predict(train, valid, test):
    dls = rossmann.dls(train, valid)
    net = models.fit_net(dls, **CONFIG["net"])
    train, valid = train[train.Sales > 0], valid[valid.Sales > 0]
    xs = [models.tree_inputs(dls, df, net) for df in (train, valid, test)]
    print(f"{xs[0].shape[1]} inputs: embedding dimensions and continuous columns")
    gbt = HistGradientBoostingRegressor(early_stopping=False, **CONFIG["gbt"])
    gbt.fit(xs[0], np.log(train.Sales))
    print(f"valid RMSPE {models.rmspe(valid.Sales, gbt.predict(xs[1])):.4f}")
    return np.exp(gbt.predict(xs[2]))  # sales; to_submission closes the closed days
