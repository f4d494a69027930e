"""Exchange rates from the config: one rate per currency, or a table of rates by month.

A month's table entry holds from that month until the next entry; a row dated before a
currency's first month has no rate, which is an error: amounts are never summed unconverted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import pandas as pd

from ..model.errors import ProviderError

Rate = float | Mapping[str, float]


def month_key(moment: datetime) -> str:
    """``2026-01`` for a moment in January 2026 (UTC)."""
    return f"{moment.year:04d}-{moment.month:02d}"


def rate_for_month(rate: Rate, month: str) -> float | None:
    """The rate in force in ``month`` (``2026-01``): the latest table entry at or before it."""
    if not isinstance(rate, Mapping):
        return float(rate)
    eligible = [key for key in rate if key <= month]
    return float(rate[max(eligible)]) if eligible else None


def rates_in_force(rates: Mapping[str, Rate], moment: datetime) -> dict[str, float]:
    """Each currency's rate at ``moment``; currencies whose table starts later are left out."""
    month = month_key(moment.astimezone(UTC))
    found = {code: rate_for_month(rate, month) for code, rate in rates.items()}
    return {code: value for code, value in found.items() if value is not None}


def to_reporting_currency(
    frame: pd.DataFrame, currency: str, rates: Mapping[str, Rate], provider: str
) -> pd.DataFrame:
    """Convert every row to ``currency`` at the rate of its month; a missing rate is an error.

    Summing amounts of different currencies would be silently wrong, so it is never done.
    """
    codes = set(frame["currency"].astype("object").unique()) - {currency}
    if not codes:
        return frame
    missing = sorted(code for code in codes if code not in rates)
    if missing:
        raise ProviderError(
            f"provider {provider}: rows in {', '.join(missing)} but no exchange_rates entry "
            f"converts them to {currency}"
        )
    row_currency = frame["currency"].astype("object")
    months = frame["start"].dt.tz_convert("UTC").dt.strftime("%Y-%m")
    factors = pd.Series(1.0, index=frame.index, dtype="float64")
    foreign = row_currency != currency
    for code, month in sorted(set(zip(row_currency[foreign], months[foreign], strict=True))):
        table = rates[code]
        rate = rate_for_month(table, month)
        if rate is None:
            first = min(table) if isinstance(table, Mapping) else ""
            raise ProviderError(
                f"provider {provider}: rows in {code} dated {month}, before the first rate of "
                f"exchange_rates.{code} ({first}); add a rate for that month"
            )
        factors[(row_currency == code) & (months == month)] = rate
    converted = frame.copy()
    converted["cost"] = converted["cost"] * factors
    converted["currency"] = pd.Categorical([currency] * len(converted))
    return converted
