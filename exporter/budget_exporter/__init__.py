"""Prometheus exporter for cost budgets and SLO error budgets."""

__version__ = "0.1.0"
