"""A random forest on log(Sales), categories as integer codes (the paper's RF without EE).

The course's features, each category as its integer code (fastai's Categorify codes);
60 trees on half-samples, a third of the columns at each split. Fits on the train days
with sales.
"""

import numpy as np
from sklearn.ensemble import RandomForestRegressor

import competitions.rossmann as rossmann
from competitions.rossmann import models

CONFIG = {
    "n_estimators": 60,
    "min_samples_leaf": 3,
    "max_features": 0.33,
    "max_samples": 0.5,
    "n_jobs": 2,
    "random_state": 42,
}


def fit_predict(train, valid, test):
    dls = rossmann.dls(train, valid)  # the nets' categories and codes
    train, valid = train[train.Sales > 0], valid[valid.Sales > 0]
    xs = [models.tree_inputs(dls, df) for df in (train, valid, test)]
    rf = RandomForestRegressor(**CONFIG).fit(xs[0], np.log(train.Sales))
    rf.set_params(n_jobs=1)  # threads would sum the trees in a varying order: last bits
    print(f"valid RMSPE {models.rmspe(valid.Sales, rf.predict(xs[1])):.4f}")
    return np.exp(rf.predict(xs[2]))  # sales; to_submission closes the closed days
