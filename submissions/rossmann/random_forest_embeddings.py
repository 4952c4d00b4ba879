"""A random forest on the net's learned entity embeddings (the paper's RF with EE).

First the course's net (as in fastai_embeddings.py) is trained; then every category is
replaced by its learned embedding vector, one column a dimension, and the forest of
random_forest.py fits log(Sales) on those and the continuous columns.
"""

import numpy as np
from sklearn.ensemble import RandomForestRegressor

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
    "forest": {
        "n_estimators": 60,
        "min_samples_leaf": 3,
        "max_features": 0.33,
        "max_samples": 0.5,
        "n_jobs": 2,
        "random_state": 42,
    },
}


def fit_predict(train, valid, test):
    dls = rossmann.dls(train, valid)
    net = models.fit_net(dls, **CONFIG["net"])
    train, valid = train[train.Sales > 0], valid[valid.Sales > 0]
    xs = [models.tree_inputs(dls, df, net) for df in (train, valid, test)]
    print(f"{xs[0].shape[1]} inputs: embedding dimensions and continuous columns")
    rf = RandomForestRegressor(**CONFIG["forest"]).fit(xs[0], np.log(train.Sales))
    rf.set_params(n_jobs=1)  # threads would sum the trees in a varying order: last bits
    print(f"valid RMSPE {models.rmspe(valid.Sales, rf.predict(xs[1])):.4f}")
    return np.exp(rf.predict(xs[2]))  # sales; to_submission closes the closed days
