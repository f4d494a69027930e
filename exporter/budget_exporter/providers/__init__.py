"""Data sources: ``cost/`` bills -> cost frames, ``incidents/`` -> incidents, ``support/`` I/O.

May import ``model`` only; ``registry`` maps each ``type:`` name to its provider.
"""
