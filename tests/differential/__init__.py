"""Differential testing of the engine against a reference interpreter (issue 12)."""
