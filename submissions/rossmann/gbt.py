"""Gradient-boosted trees on log(Sales): scikit-learn's HistGradientBoostingRegressor.

The course's features, each category as its integer code (fastai's Categorify codes):
the paper's GBT without entity embeddings. Fits on the train days with sales.
"""

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

import competitions.rossmann as rossmann
from competitions.rossmann import models

CONFIG = {"max_iter": 500, "learning_rate": 0.1, "max_leaf_nodes": 63, "random_state": 42}


def fit_predict(train, valid, test):
    dls = rossmann.dls(train, valid)  # the nets' categories and codes
    train, valid = train[train.Sales > 0], valid[valid.Sales > 0]
    xs = [models.tree_inputs(dls, df) for df in (train, valid, test)]
    gbt = HistGradientBoostingRegressor(early_stopping=False, **CONFIG)
    gbt.fit(xs[0], np.log(train.Sales))
    print(f"valid RMSPE {models.rmspe(valid.Sales, gbt.predict(xs[1])):.4f}")
    return np.exp(gbt.predict(xs[2]))  # sales; to_submission closes the closed days
