"""The one YAML file: schema, planning settings, loading with line numbers, cross-checks.

May import ``model``, ``money`` (the types its settings name) and ``providers`` (each provider
validates its own settings).
"""
