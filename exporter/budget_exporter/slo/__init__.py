"""Error-budget maths: incidents and an objective in, consumption, burn rates and exhaustion out.

Pure functions over incidents and ``now``; may import ``model`` only (no provider, no I/O).
"""
