"""The severity ladder every alert, route and inhibition uses, and how long alerts hold.

A budget's thresholds (config `thresholds`, name: ratio) take their names from this ladder, so
any number of levels up to its length routes and inhibits: a 50/80/100/120% ladder is
`{notice: 0.5, warning: 0.8, critical: 1.0, emergency: 1.2}`. alertmanager/alertmanager.yml has
one route and one inhibition per rung; tests/test_rules.py fails when they and this table part.
"""

from __future__ import annotations

from dataclasses import dataclass

from mixin.colours import ORANGE, PURPLE, RED, YELLOW


@dataclass(frozen=True)
class Severity:
    """One rung: its label value, what it asks of people, and the dashboards' colour."""

    name: str
    response: str
    colour: str


# Lowest first. A rung silences the lower rungs of the same alert of the same budget or SLO.
LADDER = (
    Severity("notice", "a message in the owners' channel", YELLOW),
    Severity("warning", "the channel and a mail: act before the limit", ORANGE),
    Severity("critical", "the channel, a mail and a page: the limit is reached", RED),
    Severity("emergency", "all of critical, and the escalation list: far past the limit", PURPLE),
)
NAMES = tuple(s.name for s in LADDER)


def below(name: str) -> tuple[str, ...]:
    """The rungs under ``name``, lowest first."""
    return NAMES[: NAMES.index(name)]


# How long data alerts hold through a scrape outage (`keep_firing_for`): the exporter-down
# delay, then time for BudgetExporterDown to reach Alertmanager and inhibit them (one
# evaluation, a resend and a group_wait), with room to spare. Past it, the inhibition holds.
EXPORTER_DOWN_FOR = "5m"
DATA_KEEP_FIRING_FOR = "10m"
# BudgetExporterDown outlasts the outage by the longest group_interval of a route it inhibits,
# so alerts that resolved during the outage are flushed while still inhibited and no
# "resolved" goes out for them once the exporter is back.
EXPORTER_DOWN_KEEP_FIRING_FOR = "10m"
