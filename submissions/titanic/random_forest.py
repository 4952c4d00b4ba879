"""A scikit-learn random forest, as in lesson 6 ("How random forests really work").

Categories as integer codes, missing values filled with the training modes, 100 trees
with at least 5 samples a leaf.
"""

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier

CONFIG = {"n_estimators": 100, "min_samples_leaf": 5, "random_state": 42}
CATS = ["Sex", "Embarked"]
CONTS = ["Age", "SibSp", "Parch", "LogFare", "Pclass"]
CATEGORIES = {"Sex": ["female", "male"], "Embarked": ["C", "Q", "S"]}


def proc_data(df, modes):
    df = df.copy()
    df["Fare"] = df.Fare.fillna(0)
    df = df.fillna(modes)
    df["LogFare"] = np.log1p(df["Fare"])
    for c in CATS:
        # fixed category lists, so that a code means the same in every split
        df[c] = pd.Categorical(df[c], categories=CATEGORIES[c]).codes
    return df[CATS + CONTS]


def fit_predict(train, valid, test):
    modes = train.mode().iloc[0]
    trn_xs, val_xs, tst_xs = (proc_data(d, modes) for d in (train, valid, test))
    rf = RandomForestClassifier(**CONFIG).fit(trn_xs, train["Survived"])
    print(f"valid accuracy {(rf.predict(val_xs) == valid['Survived']).mean():.4f}")
    return rf.predict(tst_xs)
