"""Plain data every layer shares, and the statistics of daily series money and SLOs both read.

May import nothing else of the package: the other layers build on it.
"""
