"""The leaderboard web app: `app.py` (run by `harness serve`) and its charts."""
