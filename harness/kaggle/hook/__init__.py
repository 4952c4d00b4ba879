"""The folder `harness kaggle-env` puts on PYTHONPATH: its `sitecustomize` points Kaggle's
client at the group's server in every Python started from that shell (a notebook's
kernel included)."""
