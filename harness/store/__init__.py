"""The DuckDB store, one module per job: `db` (connections and the helpers every query
uses), `migrations` (the schema), `submissions`, `rules` (and what they count: `quotas`,
`picks`), `teams`, `members`, `queue`, `records`, `privacy`, `leaderboards` (the boards)
and `kaggle` (what was sent to Kaggle). A query takes its caller's connection, or opens
one for a single read. Imports `competition` and the plain helpers only."""
