"""Error-budget maths: incidents in; consumption, burn rates, exhaustion and daily analytics out.

Pure functions over incidents and ``now``; may import ``model`` only (no provider, no I/O).
"""
