"""The group's server (`harness serve`): the leaderboard app and an HTTP API on one port,
members and their tokens, and the queue that runs every upload in the sandbox.

`intake` accepts uploads (from the API and the app's Submit page alike), `scheduler`
runs the queue, `api` is the HTTP API under /api/, `kaggle_api` the part of Kaggle's API
its client's competition commands use (/api/v1/), `app` puts them in one process.
Imports `run`, `store`, `competition` and the plain helpers.
"""
