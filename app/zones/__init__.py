"""Zones (postcode areas) and their postcodes.

profiles.py reads a zone profile and imports it; postcodes.py holds the rule of
what a postcode is and looks them up.
"""
