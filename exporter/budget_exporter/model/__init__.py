"""Plain data every layer shares: cost frames, incidents, periods, settings fields, errors.

May import nothing else of the package: the other layers build on it.
"""
