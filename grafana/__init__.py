"""Grafana dashboards: generate.py writes dashboards/ from builders/, reading levels from mixin/."""
