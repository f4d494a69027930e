"""Snapshot -> Prometheus exposition text; each module declares the families it fills.

May import ``model``, ``money``, ``slo`` and ``evaluation`` (the snapshot it renders); the
catalogue also reads the families providers declare.
"""
