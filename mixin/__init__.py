"""Windows, levels, colours and dashboard addresses that rules/ and grafana/ both read.

One source, so an alert and the panel that draws its threshold cannot disagree. Plain data and
the arithmetic that derives from it; imports nothing else of the project.
"""
