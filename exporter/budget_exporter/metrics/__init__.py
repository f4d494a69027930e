"""Snapshot -> Prometheus exposition text.

May import ``model``, ``money``, ``slo`` and ``evaluation`` (the snapshot it renders).
"""
