"""Prometheus rules: generate.py writes generated/ from groups/, reading windows from mixin/."""
