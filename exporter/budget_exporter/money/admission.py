"""Admission check: does a planned spend fit what remains of a budget, and its forecast?

Pure: the budget's figures in (as the JSON view has them), a verdict and its reason out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# Money compares to the cent: a remaining 8.000000001 left by float sums admits 8.00.
CENT = 0.005


class Verdict(StrEnum):
    """The answer, with the exit code and HTTP status a script acts on."""

    ADMIT = "admit"
    REJECT = "reject"  # does not fit the remaining budget
    FORECAST_OVERRUN = "forecast_overrun"  # fits now, but the forecast total plus it overruns

    @property
    def exit_code(self) -> int:
        """0 admitted, 1 rejected, 3 fits now but the forecast says overrun."""
        return {Verdict.ADMIT: 0, Verdict.REJECT: 1, Verdict.FORECAST_OVERRUN: 3}[self]

    @property
    def http_status(self) -> str:
        """200 when admitted, 409 Conflict when not (the body says why)."""
        return "200 OK" if self is Verdict.ADMIT else "409 Conflict"


@dataclass(frozen=True)
class Admission:
    """A verdict on one planned spend."""

    budget: str
    amount: float
    verdict: Verdict
    reason: str
    remaining: float
    remaining_after: float
    forecast_total: float | None
    currency: str

    def as_json(self) -> dict[str, Any]:
        """The admission as the API returns it."""
        return {
            "budget": self.budget,
            "amount": self.amount,
            "currency": self.currency,
            "admitted": self.verdict is Verdict.ADMIT,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "remaining": self.remaining,
            "remaining_after": self.remaining_after,
            "forecast_total": self.forecast_total,
        }


def admit(
    budget: str,
    amount: float,
    limit: float,
    spend: float,
    forecast_mean: float | None,
    currency: str,
) -> Admission:
    """Whether ``amount`` fits the remaining budget and the forecast period total."""
    if not amount >= 0:
        raise ValueError(f"amount must be a number of at least 0, not {amount}")
    remaining = limit - spend
    after = remaining - amount
    money = f"{amount:,.2f} {currency}"
    if after < -CENT:
        verdict = Verdict.REJECT
        reason = (
            f"{money} does not fit: {max(remaining, 0.0):,.2f} {currency} remain of budget "
            f"{budget} ({spend:,.2f} spent of {limit:,.2f})"
        )
    elif forecast_mean is not None and forecast_mean + amount > limit + CENT:
        verdict = Verdict.FORECAST_OVERRUN
        reason = (
            f"{money} fits the remaining {remaining:,.2f} {currency} of budget {budget}, but "
            f"the forecast period total {forecast_mean:,.2f} plus it exceeds the limit "
            f"{limit:,.2f}"
        )
    else:
        verdict = Verdict.ADMIT
        reason = (
            f"{money} fits: {remaining:,.2f} {currency} remain of budget {budget}, "
            f"{max(after, 0.0):,.2f} after it"
        )
    return Admission(budget, amount, verdict, reason, remaining, after, forecast_mean, currency)


def admit_budget_json(budget: dict[str, Any], amount: float) -> Admission:
    """The admission check on a budget as the JSON view holds it."""
    forecast = budget.get("forecast") or {}
    return admit(
        budget["name"],
        amount,
        float(budget["limit"]),
        float(budget["spend"]),
        forecast.get("mean"),
        budget["currency"],
    )
