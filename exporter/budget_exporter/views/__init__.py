"""Snapshot -> JSON API, its OpenAPI description and the text/CSV report.

May import ``model``, ``money``, ``slo`` and ``evaluation`` (the snapshot it shows).
"""
