"""Help requests: made from a call (intake.py), claimed on the board (claims.py, counts.py),
watched by operators (attention.py, dashboard.py)."""
