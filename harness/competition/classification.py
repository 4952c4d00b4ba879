"""What classification competitions' reports share: class probabilities, the most confused
pairs and the report itself (confusion matrix, most confused, top losses)."""

from __future__ import annotations

import numpy as np
import pandas as pd

# the files `report` may draw: the harness's names, never a run's (harness.run.diagnostics)
REPORT_NAMES = (
    "confusion_matrix.csv",
    "confusion_matrix.png",
    "most_confused.csv",
    "top_losses.csv",
    "top_losses.png",
)


def probabilities(raw, n: int, classes: int) -> np.ndarray | None:
    """The model's outputs as class probabilities, (n, classes); None when not per class.

    fastai's get_preds applies the loss's activation (softmax for cross-entropy), so raw
    outputs are probabilities already; a loss without one leaves logits, softmaxed here.
    """
    if raw is None:
        return None
    raw = np.asarray(raw, dtype=np.float64)
    if raw.shape != (n, classes) or not np.isfinite(raw).all():
        return None
    if (raw >= 0).all() and np.allclose(raw.sum(axis=1), 1, atol=1e-3):
        return raw
    e = np.exp(raw - raw.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def most_confused(actual, predicted, top: int = 15) -> pd.DataFrame:
    """As fastai's ClassificationInterpretation.most_confused: (actual, predicted, count)
    of the mistakes, most frequent first, ties by actual then predicted."""
    pairs = pd.DataFrame({"actual": actual, "predicted": predicted})
    pairs = pairs[pairs.actual != pairs.predicted]
    counts = pairs.value_counts().rename("count").reset_index()
    counts = counts.sort_values(["count", "actual", "predicted"], ascending=[False, True, True])
    return counts.head(top).reset_index(drop=True)


def report(out, test, labels, preds, raw, classes, names=None, image=None, noun="rows"):
    """What the course looks at after a classifier, on the validation set, as the course draws them.

    A confusion matrix (a table and a heatmap), the most confused pairs and, when the
    model's class probabilities were saved, the 16 top losses as a table and, given
    `image`, as a grid of pictures. With two classes the matrix is the whole story: no
    most-confused table. Without probabilities (a fit_predict, or outputs that are not
    per class) the top losses are skipped, as the matrix's title says; nothing is
    printed (stdout may be `harness submit --json`'s).

    Args:
        out: the artifacts folder.
        test, labels, preds: the valid rows' features (with an id), labels and
            predictions, row for row; labels and preds start with the id and target columns.
        raw: the model's raw outputs, (n, len(classes)), or None.
        classes: every class in the order of the model's outputs (its vocab).
        names: how to show each class (Titanic: "died", "survived"); the classes by default.
        image: test row -> an image array for the top-loss grid (2-D arrays drawn grey).
        noun: what a row is, for the titles ("images", "passengers").
    """
    from harness.competition.artifacts import pyplot, save_figure, save_table

    id_col, target = labels.columns[:2]
    names = [str(c) for c in (classes if names is None else names)]
    show = dict(zip(classes, names, strict=True))
    actual, predicted = labels[target].to_numpy(), preds[target].to_numpy()
    cm = pd.crosstab(actual, predicted).reindex(index=classes, columns=classes, fill_value=0)
    values = cm.to_numpy()
    probs = probabilities(raw, len(test), len(classes))
    title = "Confusion matrix (validation set)"
    if probs is None:
        title += "; no class probabilities in this run, so no top losses"
    table = pd.DataFrame({"actual": names})
    for j, n in enumerate(names):
        table[f"predicted {n}"] = values[:, j]
    save_table(out, "confusion_matrix", table, title)
    plt, k = pyplot(), len(classes)
    side = max(3.6, 0.3 * k + 1)  # 2 classes: 3.6 inches; 37: 12
    fig, ax = plt.subplots(figsize=(side, side * 0.9 if k < 5 else side))
    ax.imshow(values, cmap="Blues")
    for (i, j), n in np.ndenumerate(values):
        if n:
            color = "white" if n > values.max() / 2 else "black"
            size = max(7, 14 - k // 2)  # 13 points for 2 classes, 9 for 10, 7 for 37
            ax.text(j, i, str(n), ha="center", va="center", fontsize=size, color=color)
    ticks = 8 if k > 10 else 10
    ax.set_xticks(range(k), names, rotation=90 if k > 10 else 0, fontsize=ticks)
    ax.set_yticks(range(k), names, fontsize=ticks)
    ax.set(xlabel="predicted", ylabel="actual")
    ax.set_title(f"Confusion matrix (validation set, {len(actual)} {noun})")
    save_figure(out, "confusion_matrix", fig, title)
    if k > 2:  # with two classes the matrix says it all
        pairs = most_confused(actual, predicted).replace({"actual": show, "predicted": show})
        save_table(out, "most_confused", pairs, "Most confused pairs (validation set)")
    if probs is None:
        return
    codes = {c: i for i, c in enumerate(classes)}
    a_idx = np.array([codes[a] for a in actual])
    p_idx = np.array([codes[p] for p in predicted])
    p_true = probs[np.arange(len(test)), a_idx]
    loss = -np.log(np.clip(p_true, 1e-12, None))
    top = np.argsort(-loss, kind="stable")[:16]
    ids = labels[id_col].to_numpy()
    losses = pd.DataFrame(
        {
            id_col: ids[top],
            "actual": [show[a] for a in actual[top]],
            "predicted": [show[p] for p in predicted[top]],
            "loss": loss[top].round(4),
            "p(actual)": p_true[top].round(4),
            "p(predicted)": probs[top, p_idx[top]].round(4),
        }
    )
    save_table(out, "top_losses", losses, "Top losses (validation set)")
    if image is None:
        return
    fig, axes = plt.subplots(4, 4, figsize=(11, 12))
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, top, strict=False):
        picture = np.asarray(image(test.iloc[i]))
        ax.imshow(picture, cmap="gray_r" if picture.ndim == 2 else None)
        ax.set_title(
            f"#{ids[i]}: {show[actual[i]]}\nas {show[predicted[i]]}\n"
            f"loss {loss[i]:.2f}, p {probs[i, p_idx[i]]:.2f}",
            fontsize=8,
        )
    fig.suptitle("Top losses: actual, as predicted, loss, probability of the prediction")
    fig.tight_layout()
    save_figure(out, "top_losses", fig, "Top-loss validation images (validation set)")
