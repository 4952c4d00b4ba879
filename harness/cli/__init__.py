"""The `harness` command (`main`), what it prints (`console`) and the demo (`demo`).
The top layer: nothing in harness imports it."""
