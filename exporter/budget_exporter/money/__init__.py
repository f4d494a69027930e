"""Money maths: budget spend, currency, planning, insights, forecast, anomaly, admission.

Pure functions over frames and ``now``; may import ``model`` only (no provider, no I/O).
"""
