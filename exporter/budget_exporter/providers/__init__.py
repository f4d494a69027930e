"""Data sources: ``cost/`` bills -> cost frames, ``incidents/`` -> incidents, ``support/`` I/O.

May import ``model`` only; ``registry`` maps each ``type:`` name to its provider, ``settings``
to its settings (the ``*_config`` modules, which load no provider's code).
"""
