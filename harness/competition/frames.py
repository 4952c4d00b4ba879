"""The frames every competition builds alike: the hidden test's labels, the submission.

features, labels = hidden_test(test, SPEC)   # in prepare()
submission_frame(SPEC.submission, test, preds)   # the default to_submission
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.competition.splits import PRIVATE, PUBLIC, public_private
from harness.validate import Format


def hidden_test(test: pd.DataFrame, spec, drop=(), public_order=None):
    """The hidden test's features and its labels table (id, target, Usage).

    Args:
        test: the hidden test rows with their target (`spec.train_target`). Without an id
            column they are numbered 1..n in their order, as Kaggle numbers test.csv, and
            the id becomes the first column; shuffle them first when their order or id
            would tell the target.
        spec: the competition's Spec: id and target names, public fraction, seed.
        drop: other columns the test must not show (Rossmann's Customers).
        public_order: row positions in the order the public board takes them (Rossmann:
            the earlier days); by default `public_private` picks the public rows at random.

    Returns:
        (features, labels): the test without its target, and id, target and Usage
        ('Public' or 'Private') of every row, in the same order.
    """
    test = test.reset_index(drop=True)
    if spec.id_col not in test:
        test.insert(0, spec.id_col, np.arange(1, len(test) + 1))
    labels = pd.DataFrame(
        {spec.id_col: test[spec.id_col].to_numpy(), spec.target: test[spec.train_target].to_numpy()}
    )
    if public_order is None:
        labels["Usage"] = public_private(len(test), spec.public_fraction, spec.seed)
    else:
        usage = np.full(len(test), PRIVATE, dtype=object)
        usage[np.asarray(public_order)[: round(len(test) * spec.public_fraction)]] = PUBLIC
        labels["Usage"] = usage
    return test.drop(columns=[spec.train_target, *drop]), labels


def submission_frame(fmt: Format, test: pd.DataFrame, preds) -> pd.DataFrame:
    """Predictions aligned with test's rows as the submission: id and target columns.

    The target takes the format's type: whole numbers as integers for "int" (booleans,
    and floats such as 7.0; Kaggle scores 0.0/1.0 as wrong), floats for "float", text for
    "label". Values that do not fit (0.5 for "int") are left for the format check to name.
    """
    n = len(test)
    if fmt.kind == "float":
        preds = np.asarray(preds, dtype=float).reshape(n)
    elif fmt.kind == "label":
        preds = np.asarray(preds, dtype=object).reshape(n).astype(str)
    else:
        preds = np.asarray(preds).reshape(n)
        if preds.dtype == bool or (
            preds.dtype.kind == "f" and np.isfinite(preds).all() and (preds == np.rint(preds)).all()
        ):
            preds = preds.astype(np.int64)
    return pd.DataFrame({fmt.id_col: test[fmt.id_col].to_numpy(), fmt.target: preds})
