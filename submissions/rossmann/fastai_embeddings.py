"""fastai tabular_learner with entity embeddings on log(Sales), as in the course (Guo & Berkhahn).

The course's Rossmann net: an embedding for each category, layers 1000-500, dropout
0.001 and 0.01, embedding dropout 0.04, y_range up to 1.2 times the largest log sale,
exp_rmspe as the metric. The harness's dls trains on log(Sales) of the days with sales
and turns the predictions back into sales.
"""

from fastai.tabular.all import *  # noqa: F403 - the course's way; the harness copes

CONFIG = {
    "layers": [1000, 500],
    "ps": [0.001, 0.01],
    "embed_p": 0.04,
    "epochs": 10,
    "lr": 5e-3,
    "wd": 0.2,
}


def train(dls):
    max_log_y = float(dls.train_ds.y.max())
    y_range = (0, max_log_y * 1.2)
    config = tabular_config(ps=CONFIG["ps"], embed_p=CONFIG["embed_p"])
    learn = tabular_learner(
        dls, layers=CONFIG["layers"], y_range=y_range, config=config, metrics=exp_rmspe
    )
    learn.fit_one_cycle(CONFIG["epochs"], CONFIG["lr"], wd=CONFIG["wd"])
    return learn
