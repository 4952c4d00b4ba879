"""Kaggle's side of a competition (`harness kaggle ...`): uploads, Kaggle's scores and its
board. It sits above `run`, as it re-runs a scored submission on Kaggle's test.csv; its
calls go through `harness.kaggle_client`, the leaf under the data sources that download
through it too. `hook` points Kaggle's client at the group's server instead (`harness
kaggle-env`).
"""
