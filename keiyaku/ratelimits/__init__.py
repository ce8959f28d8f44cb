"""Rate limits whose counters every web process shares: rows in the database (limiter.py)."""
