"""Incident sources: each reads one kind of incident record and returns normalized incidents."""
