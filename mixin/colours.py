"""Grafana's named colours, as the dashboards and the rows of this package use them."""

GREEN = "green"
YELLOW = "yellow"
ORANGE = "orange"
RED = "red"
BLUE = "blue"
PURPLE = "purple"
