"""Calls: the call log the phone line writes (call_log.py, spool.py while the database is
away), its labels in every language (labels.py) and its CSV export (export.py)."""
