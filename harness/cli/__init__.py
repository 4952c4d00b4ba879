"""The `harness` command: the parser (`main`), one module per command group (`competitions`,
`submitting`, `boards`, `rules`, `records`, `kaggle`, `demo`, `serving`, `members`,
`doctor`, `weights`), this machine or the group's server behind one interface
(`backend`, the server's client in `remote`), and what it prints (`console`).
The top layer: nothing in harness imports it."""
