"""A Kaggle-style competition harness and leaderboard for fast.ai study groups.

Sub-packages, each importing only those below it (tests/test_layers.py checks it):

    cli          the `harness` command, what it prints, the demo
    kaggle       Kaggle's side: uploads, Kaggle's scores and board (`remote`); the
                 client itself (`client`) is a leaf that data sources also use
    run          one submission: read, run in a worker, score, record; reproduce
    store        the DuckDB store and the leaderboard's read-only queries
    competition  what a competition folder imports: Spec, Format, Splits, splits,
                 sources, the tabular builder, reports and artifacts; discovery
    errors, paths, metrics, validate   plain helpers every layer may use
"""
