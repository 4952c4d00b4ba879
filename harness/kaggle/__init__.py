"""Kaggle through the `kaggle` package, imported only when a Kaggle command runs.

`client` (sign-in, one-line errors, downloads) is a leaf: it imports only the plain
helpers, so data sources fetch through it. `remote` (uploads, Kaggle's scores and its
board) sits above `run`: it re-runs a scored submission on Kaggle's test.csv.
"""
