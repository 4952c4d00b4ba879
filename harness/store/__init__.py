"""The DuckDB store (`db`: schema, migrations, writes and queries) and the leaderboard's
read-only queries (`leaderboards`). Imports `competition` and the plain helpers only."""
