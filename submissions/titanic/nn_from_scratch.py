"""A neural net from scratch in PyTorch, as in lesson 5 ("Linear model and neural net from scratch").

Dummy variables, inputs scaled by their training maxima, one hidden ReLU layer and a
sigmoid, mean absolute error as the loss, plain gradient descent; no framework. (The
lesson's two-hidden-layer variant is, as the lesson warns, finicky: most seeds leave
it predicting that nobody survives, so the baseline is the one-layer net.)
"""

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

CONFIG = {"n_hidden": 20, "epochs": 30, "lr": 1.4}
DUMMIES = [
    "Sex_male",
    "Sex_female",
    "Pclass_1",
    "Pclass_2",
    "Pclass_3",
    "Embarked_C",
    "Embarked_Q",
    "Embarked_S",
]
INDEP_COLS = ["Age", "SibSp", "Parch", "LogFare"] + DUMMIES


def prep(df, modes):
    df = df.fillna(modes)
    df["LogFare"] = np.log(df["Fare"] + 1)
    df = pd.get_dummies(df, columns=["Sex", "Pclass", "Embarked"])
    # a category missing from one split would drop its column: reindex keeps them all
    return df.reindex(columns=INDEP_COLS, fill_value=0)


def init_coeffs(n_coeff, n_hidden):
    layer1 = (torch.rand(n_coeff, n_hidden) - 0.5) / n_hidden
    layer2 = torch.rand(n_hidden, 1) - 0.3
    const = torch.rand(1)[0]
    return layer1.requires_grad_(), layer2.requires_grad_(), const.requires_grad_()


def calc_preds(coeffs, indeps):
    l1, l2, const = coeffs
    res = F.relu(indeps @ l1)
    res = res @ l2 + const
    return torch.sigmoid(res)


def calc_loss(coeffs, indeps, deps):
    return torch.abs(calc_preds(coeffs, indeps) - deps).mean()


def update_coeffs(coeffs, lr):
    for layer in coeffs:
        layer.sub_(layer.grad * lr)
        layer.grad.zero_()


def fit_predict(train, valid, test):
    modes = train.mode().iloc[0]
    trn, val, tst = (prep(d, modes) for d in (train, valid, test))
    vals = torch.tensor(trn.values.astype(np.float32)).max(dim=0).values
    trn_x, val_x, tst_x = (
        torch.tensor(d.values.astype(np.float32)) / vals for d in (trn, val, tst)
    )
    trn_y = torch.tensor(train["Survived"].values, dtype=torch.float)[:, None]
    val_y = torch.tensor(valid["Survived"].values, dtype=torch.float)[:, None]
    coeffs = init_coeffs(len(INDEP_COLS), CONFIG["n_hidden"])
    for epoch in range(CONFIG["epochs"]):
        loss = calc_loss(coeffs, trn_x, trn_y)
        loss.backward()
        with torch.no_grad():
            update_coeffs(coeffs, CONFIG["lr"])
        print(f"epoch {epoch}: loss {loss.item():.3f}")
    with torch.no_grad():
        acc = ((calc_preds(coeffs, val_x) > 0.5).float() == val_y).float().mean()
        print(f"valid accuracy {acc.item():.4f}")
        return (calc_preds(coeffs, tst_x)[:, 0] > 0.5).int().numpy()
