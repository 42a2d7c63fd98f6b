"""Accounts: volunteers and operators (users.py), and operators vetting volunteers (approval.py)."""
