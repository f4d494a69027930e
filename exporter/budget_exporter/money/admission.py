"""Admission check: does a planned spend fit what remains of a budget, and its forecast?

Pure: the budget's figures in (as the JSON view has them), a verdict and its reason out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
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
    # The ancestor whose room or forecast decided a refusal; None when the budget itself did.
    refused_by: str | None = None
    # How much more room the deciding budget would need; None unless the spend does not fit.
    short_by: float | None = None

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
            "refused_by": self.refused_by,
            "short_by": self.short_by,
        }


def admit(
    budget: str,
    amount: float,
    limit: float,
    spend: float,
    forecast_mean: float | None,
    currency: str,
    held: float = 0.0,
) -> Admission:
    """Whether ``amount`` fits the remaining budget and the forecast period total.

    ``held`` is money reservations hold against the budget: granted, not in the data yet, so it
    counts as spent and as forecast.
    """
    if not amount >= 0:
        raise ValueError(f"amount must be a number of at least 0, not {amount}")
    remaining = limit - spend - held
    after = remaining - amount
    money = f"{amount:,.2f} {currency}"
    spent = f"{spend:,.2f} spent" + (f", {held:,.2f} reserved" if held > CENT else "")
    if after < -CENT and remaining < -CENT:
        verdict = Verdict.REJECT
        reason = (
            f"{money} does not fit: budget {budget} is already over by {-remaining:,.2f} "
            f"{currency} ({spent} of {limit:,.2f})"
        )
    elif after < -CENT:
        verdict = Verdict.REJECT
        reason = (
            f"{money} does not fit: {remaining:,.2f} {currency} remain of budget "
            f"{budget} ({spent} of {limit:,.2f})"
        )
    elif forecast_mean is not None and forecast_mean + held + amount > limit + CENT:
        verdict = Verdict.FORECAST_OVERRUN
        reason = (
            f"{money} fits the remaining {remaining:,.2f} {currency} of budget {budget}, but "
            f"the forecast period total {forecast_mean:,.2f}"
            + (f" and {held:,.2f} reserved" if held > CENT else "")
            + f" plus it exceeds the limit {limit:,.2f}"
        )
    else:
        verdict = Verdict.ADMIT
        reason = (
            f"{money} fits: {remaining:,.2f} {currency} remain of budget {budget}, "
            f"{max(after, 0.0):,.2f} after it"
        )
    short = -after if verdict is Verdict.REJECT else None
    return Admission(
        budget, amount, verdict, reason, remaining, after, forecast_mean, currency, None, short
    )


def admit_budget_json(budget: dict[str, Any], amount: float, held: float = 0.0) -> Admission:
    """The admission check on a budget as the JSON view holds it."""
    forecast = budget.get("forecast") or {}
    return admit(
        budget["name"],
        amount,
        float(budget["limit"]),
        float(budget["spend"]),
        forecast.get("mean"),
        budget["currency"],
        held,
    )


# A REJECT outweighs a FORECAST_OVERRUN, which outweighs an ADMIT.
_WEIGHT = {Verdict.ADMIT: 0, Verdict.FORECAST_OVERRUN: 1, Verdict.REJECT: 2}


def admit_in_hierarchy(
    budgets: Sequence[dict[str, Any]],
    name: str,
    amount: float,
    held: Mapping[str, float] | None = None,
) -> Admission:
    """The admission check on ``name`` and every ancestor it counts against (JSON views).

    The spend counts against each parent too, so a budget with room under a parent that is
    spent refuses, and the answer names the ancestor that decided. An ancestor missing from
    ``budgets`` (no figures yet) is skipped. ``held`` is what reservations hold against each
    budget (``money.reservations.held_against``).
    """
    held = held or {}
    by_name = {item["name"]: item for item in budgets}
    own = admit_budget_json(by_name[name], amount, held.get(name, 0.0))
    worst = own
    seen = {name}
    parent = by_name[name].get("parent") or ""
    while parent and parent not in seen and parent in by_name:
        seen.add(parent)
        answer = admit_budget_json(by_name[parent], amount, held.get(parent, 0.0))
        if _WEIGHT[answer.verdict] > _WEIGHT[worst.verdict]:
            worst = answer
        parent = by_name[parent].get("parent") or ""
    if worst is own:
        return own
    return dataclasses.replace(
        own,
        verdict=worst.verdict,
        reason=f"refused by parent budget {worst.budget}: {worst.reason}",
        refused_by=worst.budget,
        short_by=worst.short_by,
    )
