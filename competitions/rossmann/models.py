"""What the Rossmann baselines share: the course's entity-embedding net, the same net on
one-hot inputs, and the net's learned embeddings as inputs for other models (Guo &
Berkhahn's Table IV). Baselines import it: `from competitions.rossmann import models`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

# the course's net (fast.ai lesson 6 of 2019, rossmann.ipynb); bs and epochs sized for
# a few minutes on 2 CPU cores at the default offline size
NET = {
    "layers": [1000, 500],
    "ps": [0.001, 0.01],
    "embed_p": 0.04,
    "epochs": 10,
    "lr": 5e-3,
    "wd": 0.2,
}


def y_range(dls) -> tuple[float, float]:
    """(0, 1.2 × the largest log sale in training), as the course."""
    return 0.0, float(dls.train_ds.y.max()) * 1.2


def tabular_net(
    dls, layers=NET["layers"], ps=NET["ps"], embed_p=NET["embed_p"], one_hot: bool = False
):
    """The course's tabular_learner: an embedding per category, or fixed one-hot inputs.

    One-hot: each category's embedding is the identity matrix, frozen, so the first
    layer sees the one-hot vectors themselves: the same net, without entity embeddings.
    """
    import torch
    from fastai.tabular.all import exp_rmspe, tabular_config, tabular_learner

    emb_szs = {n: len(dls.classes[n]) for n in dls.cat_names} if one_hot else None
    learn = tabular_learner(
        dls,
        layers=list(layers),
        emb_szs=emb_szs,
        y_range=y_range(dls),
        config=tabular_config(ps=list(ps), embed_p=embed_p),
        metrics=exp_rmspe,
    )
    if one_hot:
        for emb in learn.model.embeds:
            emb.weight.data = torch.eye(emb.num_embeddings)
            emb.weight.requires_grad_(False)
    return learn


def fit_net(dls, epochs=NET["epochs"], lr=NET["lr"], wd=NET["wd"], one_hot=False, **net):
    """The net trained with fit_one_cycle, for a fit_predict: one log line an epoch."""
    learn = tabular_net(dls, one_hot=one_hot, **net)
    # a fit_predict's log gets no progress bars, nor fastai's raw lists of numbers
    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(epochs, lr, wd=wd)
    for i, values in enumerate(learn.recorder.values, 1):
        shown = " ".join(
            f"{n} {v:.4f}" for n, v in zip(learn.recorder.metric_names[1:], values, strict=False)
        )
        print(f"net epoch {i}/{epochs}: {shown}", flush=True)
    return learn


def embeddings(learn) -> dict[str, tuple[list, np.ndarray]]:
    """{category: (its classes, its embedding matrix)} of a trained fastai TabularModel.

    Frozen embeddings (the one-hot net's) are left out: nothing was learned there.
    """
    embeds, names = getattr(learn.model, "embeds", None), getattr(learn.dls, "cat_names", None)
    if embeds is None or names is None or len(embeds) != len(names):
        return {}
    out = {}
    for name, emb in zip(names, embeds, strict=True):
        w = getattr(emb, "weight", None)
        if w is None or not w.requires_grad or w.shape[0] != len(learn.dls.classes[name]):
            continue
        out[name] = (list(learn.dls.classes[name]), w.detach().float().cpu().numpy())
    return out


def tree_inputs(dls, df: pd.DataFrame, learn=None) -> pd.DataFrame:
    """Inputs for trees: each category as fastai's integer code, or, given a trained
    net, as its embedding vector (one column a dimension); continuous columns as they
    are (trees take NaN)."""
    found = embeddings(learn) if learn is not None else {}
    cols = {}
    for name in dls.cat_names:
        # FillMissing's "<column>_na" categories are not in df
        values = df[name] if name in df else df[name.removesuffix("_na")].isna()
        # fastai's codes: 1.. for the classes seen in training, 0 (#na#) for the rest
        codes = pd.Index(list(dls.classes[name])[1:]).get_indexer(values) + 1
        if name in found:
            w = found[name][1]
            cols.update({f"{name}_{j}": w[codes, j] for j in range(w.shape[1])})
        else:
            cols[name] = codes
    for name in dls.cont_names:
        cols[name] = df[name].to_numpy(dtype=float)
    return pd.DataFrame(cols, index=df.index)


def rmspe(sales, log_preds) -> float:
    """Kaggle's RMSPE of log predictions against sales, days without sales ignored."""
    from harness.metrics import get_metric

    return get_metric("rmspe")(np.asarray(sales), np.exp(np.asarray(log_preds)))
