"""Money budgets: burn-rate windows, alert levels and the colours of threshold severities."""

from __future__ import annotations

from dataclasses import dataclass

from mixin.colours import ORANGE, RED, YELLOW


@dataclass(frozen=True)
class MoneyBurnWindow:
    """Money burn rate: a fast and a slow window must both exceed their own factor."""

    severity: str
    short: str
    short_factor: float
    long: str
    long_factor: float
    for_: str
    comment: str


MONEY_BURN_WINDOWS = (
    MoneyBurnWindow(
        "warning", "1d", 3, "7d", 1.5, "1h",
        "Spending at 3x the pace that uses the limit exactly over the last day, and at 1.5x "
        "over the last week: a sustained overrun, not a one-day spike. A monthly budget at "
        "3x lasts about 10 days.",
    ),
    MoneyBurnWindow(
        "notice", "1d", 1.5, "7d", 1.2, "2h",
        "Early sign: 1.5x over the last day and 1.2x over the last week; the budget runs out "
        "before the period ends if this holds.",
    ),
)  # fmt: skip


@dataclass(frozen=True)
class ThresholdSeverity:
    """A severity of budget_alert_threshold_ratio and how the dashboards colour it."""

    severity: str
    default_ratio: float  # the exporter's threshold when the config sets none
    colour: str


# The exporter's default thresholds (config `thresholds`); dashboards that cannot read a budget's
# own thresholds colour utilization at these.
THRESHOLD_SEVERITIES = (
    ThresholdSeverity("notice", 0.75, YELLOW),  # worth a look: three quarters gone
    ThresholdSeverity("warning", 0.9, ORANGE),  # act before the limit
    ThresholdSeverity("critical", 1.0, RED),  # the limit is reached
)

# Other levels, one per alert; the dashboards colour the same numbers.
FORECAST_OVERRUN_PROBABILITY = 0.8  # the forecast gives the total above the limit 80% odds
ANOMALY_SCORE = 4  # newest day against the same weekday's median, in robust standard deviations
OVER_ALLOCATION_RATIO = 1.0  # children's limits above the parent's: over-allocated
