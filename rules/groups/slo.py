"""SLO error budgets: the multiwindow burn-rate pairs and the error-budget alerts."""

from __future__ import annotations

from mixin.slo import EXHAUSTION_LIKELY_PROBABILITY, SLO_BURN_WINDOWS, SLO_WINDOW_DAYS
from rules.annotations import SLO_FACTS, Group, alert, percent

slo_recording: Group = (
    "slo.recording",
    "The multiwindow burn-rate pairs: the lower of the two windows' burn rates, so a pair "
    "exceeds a factor exactly when both of its windows do.",
    [
        (
            f"{w.long} and {w.short} windows. {w.comment}",
            {
                "record": "slo:burn_rate:min_pair",
                "expr": f'min without(window) (slo_burn_rate{{window=~"{w.long}|{w.short}"}})\n',
                "labels": {"long": w.long, "short": w.short},
            },
        )
        for w in SLO_BURN_WINDOWS
    ]
    + [
        (
            "Days until the error budget runs out at the earliest projection (burn_rate, "
            "linear_regression or average); negative when already exhausted.",
            {
                "record": "slo:error_budget_exhaustion:days",
                "expr": "(min without(method) "
                "(slo_error_budget_projected_exhaustion_timestamp_seconds) - time()) / 86400\n",
            },
        ),
        (
            "The share of the error budget used. With the next rule, what alert annotations "
            "print: templates have no arithmetic, and one selector per alert keeps their cost "
            "flat.",
            {
                "record": "slo:error_budget_used:ratio",
                "expr": "1 - slo_error_budget_remaining_ratio\n",
            },
        ),
        (
            "Seconds until the error budget runs out, per projection (method), to the minute; "
            "negative when already exhausted.",
            {
                "record": "slo:error_budget_exhaustion_in:seconds",
                "expr": "round(\n"
                "  slo_error_budget_projected_exhaustion_timestamp_seconds - time(), 60\n"
                ")\n",
            },
        ),
    ],
)

FASTEST = max(w.factor for w in SLO_BURN_WINDOWS)

slo_alerts: Group = (
    "slo.alerts",
    f"SLO error budgets: the SRE workbook's multiwindow, multi-burn-rate alerts. The exporter's "
    f"slo_burn_rate is already divided by (1 - objective), so a row reads `> {FASTEST:g}` where "
    f"Pyrra writes `> ({FASTEST:g} * (1 - 0.999))` against the raw error ratio. Factors assume a "
    f"{SLO_WINDOW_DAYS}-day window.",
    [
        (
            f"{w.comment} Factor {w.factor:g} = {w.budget_consumed:.0%} x {SLO_WINDOW_DAYS}d / "
            f"{w.long}.",
            alert(
                "SLOErrorBudgetBurn",
                f'slo:burn_rate:min_pair{{long="{w.long}",short="{w.short}"}} > {w.factor:g}',
                w.for_,
                {"kind": "error_budget", "severity": w.severity, "long": w.long, "short": w.short},
                "An SLO is burning its error budget too fast.",
                "SLO {{ $labels.slo }} burns its error budget above "
                f"{w.factor:g}x over both {w.long} and {w.short}: at that pace "
                f"{w.budget_consumed:.0%} of the budget goes within {w.long}.",
                SLO_FACTS,
            ),
        )
        for w in SLO_BURN_WINDOWS
    ]
    + [
        (
            "Nothing left: the error budget policy applies (for example, freeze risky releases).",
            alert(
                "SLOErrorBudgetExhausted",
                "slo_error_budget_remaining_ratio <= 0",
                "5m",
                {"kind": "error_budget", "severity": "warning"},
                "An SLO has used up its error budget.",
                "SLO {{ $labels.slo }} has no error budget left: the error budget policy applies.",
                SLO_FACTS,
            ),
        ),
        (
            "The budget runs out before a window's length has passed by one of the "
            "projections: the last hour's rate (while an incident is open), the daily trend, "
            "or the window's average consumption (the one a quiet day has). Window length = "
            "error budget / (1 - objective).",
            alert(
                "SLOErrorBudgetExhaustionProjected",
                "(\n"
                "  min without(method) (slo_error_budget_projected_exhaustion_timestamp_seconds)"
                " - time()\n"
                ")\n"
                "  < on(slo, job, instance) group_left()\n"
                "(slo_error_budget_seconds / (1 - slo_objective_ratio))\n"
                "and on(slo, job, instance)\n"
                "slo_error_budget_remaining_ratio > 0",
                "1h",
                {"kind": "error_budget", "severity": "warning"},
                "An SLO is projected to run out of error budget within its window.",
                "SLO {{ $labels.slo }} runs out of error budget before one window length "
                "has passed; each projection below says when by its own method.",
                SLO_FACTS,
            ),
        ),
        (
            f"The incident history gives at least {EXHAUSTION_LIKELY_PROBABILITY:.0%} odds that "
            "the budget runs out within a horizon (the exporter's advice is act); not once it "
            "has run out, which SLOErrorBudgetExhausted says. Held 1h: the odds jump while an "
            "incident is open, and the burn-rate alerts handle that.",
            alert(
                "SLOErrorBudgetExhaustionLikely",
                "100 * max without(horizon) (slo_error_budget_exhaustion_probability)\n"
                f"  >= {EXHAUSTION_LIKELY_PROBABILITY * 100:g}\n"
                "and on(slo, job, instance)\n"
                "slo_error_budget_remaining_ratio > 0",
                "1h",
                {"kind": "error_budget", "severity": "warning"},
                "An SLO is likely to run out of error budget.",
                "SLO {{ $labels.slo }} runs out of error budget with "
                + percent("$value")
                + " odds by its incident history: spend on reliability before features.",
                SLO_FACTS,
            ),
        ),
    ],
)
