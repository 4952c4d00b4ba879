"""The leaderboard web app: `app.py` (run by `harness serve`: sign-in and navigation), one
module per view (`overview`, `board`, `submission`, `compare`, `submit`, `organiser`) and
the charts."""
