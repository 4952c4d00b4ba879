"""Nearest centroid: each iris is the species whose mean measurements are closest.

The template competition's baseline: no model to train, a few lines of pandas.
"""

import pandas as pd

MEASUREMENTS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def fit_predict(train, valid, test):
    labelled = pd.concat([train, valid])  # nothing to tune: valid is more data
    centroids = labelled.groupby("species")[MEASUREMENTS].mean()
    # squared distance of every test row to every centroid: rows x species
    distance = sum((test[[m]].to_numpy() - centroids[m].to_numpy()) ** 2 for m in MEASUREMENTS)
    return centroids.index[distance.argmin(axis=1)]
