"""SLO error budgets: the multiwindow, multi-burn-rate windows of the Google SRE workbook.

Each row is described by the share of the budget it lets go within its long window, as Sloth
describes its windows; the burn-rate factor follows from it. The rules alert on the factor and
the Error budgets dashboard draws it, both from these rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from mixin.colours import ORANGE, PURPLE, RED, YELLOW
from mixin.durations import hours

#: The SLO window the factors assume (the workbook's 30 days).
SLO_WINDOW_DAYS = 30

#: SLOErrorBudgetExhaustionLikely fires at this chance of running out within a horizon: the
#: exporter's "act" advice (budget_exporter.slo.analytics.ADVICE_ACT) starts at the same odds.
EXHAUSTION_LIKELY_PROBABILITY = 0.5

#: What each severity asks of people; Alertmanager routes critical to a page, warning to a ticket.
RESPONSE = {"critical": "page", "warning": "ticket"}


@dataclass(frozen=True)
class SloBurnWindow:
    """One multiwindow, multi-burn-rate row of the Google SRE workbook (chapter 5, table 5-8)."""

    severity: str
    long: str
    short: str
    budget_consumed: float  # share of a 30-day error budget spent within `long`
    for_: str
    colour: str  # the dashboards' line for this row's factor
    comment: str

    @property
    def long_hours(self) -> float:
        return hours(self.long)

    @property
    def factor(self) -> float:
        """The burn rate both windows must exceed: budget consumed x SLO window / long window.

        Rounded so that a factor prints as the number it is (14.4), not as float noise.
        """
        return round(self.budget_consumed * SLO_WINDOW_DAYS * 24 / self.long_hours, 6)


SLO_BURN_WINDOWS = (
    SloBurnWindow(
        "critical", "1h", "5m", 0.02, "2m", PURPLE,
        "Page: 2% of a 30-day budget in 1 hour; at this pace it is gone in about 2 days.",
    ),
    SloBurnWindow(
        "critical", "6h", "30m", 0.05, "15m", RED,
        "Page: 5% of the budget in 6 hours; gone in 5 days.",
    ),
    SloBurnWindow(
        "warning", "1d", "2h", 0.10, "1h", ORANGE,
        "Ticket: 10% of the budget in 1 day; gone in 10 days.",
    ),
    SloBurnWindow(
        "warning", "3d", "6h", 0.10, "3h", YELLOW,
        "Ticket: 10% of the budget in 3 days; on pace to use exactly the whole budget.",
    ),
)  # fmt: skip


def windows_of(severity: str) -> tuple[SloBurnWindow, ...]:
    """The rows that alert with this severity, in table order."""
    return tuple(w for w in SLO_BURN_WINDOWS if w.severity == severity)
