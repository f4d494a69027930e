"""The status report of every budget and SLO, as terminal text, CSV or JSON.

Pure: the JSON view of a snapshot (see ``snapshot_json``) in, text out.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

BAR_WIDTH = 20
FORMATS = ("text", "json", "csv")
CSV_COLUMNS = (
    "kind",
    "name",
    "period",
    "unit",
    "limit",
    "spend",
    "remaining",
    "utilization",
    "burn_rate_1d",
    "burn_rate_7d",
    "burn_rate_period",
    "forecast_mean",
    "forecast_lower_80",
    "forecast_upper_80",
    "overrun_probability",
    "exhaustion_pace",
    "exhaustion_forecast",
    "variance",
    "variance_ratio",
    "variance_category",
    "amount_source",
    "days_elapsed",
    "days_remaining",
    "average_daily_spend",
    "ideal_daily_spend",
    "thresholds_reached",
    "top_values",
    "incidents",
    "open_incidents",
    "consumed_by_category",
    "recommendations",
    "advice",
    "exhaustion_probability",
    "daily_burn_rate_mean",
    "daily_burn_rate_p95",
    "anomalous_days",
    "weekday_burn_rates",
    "trend_per_day",
    "trend_p_value",
    "reserved",
    "reservations",
    "jobs",
    "jobs_over_estimate",
    "jobs_over_estimate_share",
)
# What each advice tier of an SLO asks for, in the report.
ADVICE_TEXT = {
    "ok": "release as usual",
    "watch": "review risky changes",
    "act": "spend on reliability before features",
}
# Breakdown values shown per budget in the report (the JSON view has them all).
TOP_VALUES = 3


def bar(ratio: float | None, width: int = BAR_WIDTH) -> str:
    """A utilization bar: ``[#####-----]``, with ``!`` past the end when over 100%."""
    if ratio is None:
        return "[" + "?" * width + "]"
    filled = round(min(max(ratio, 0.0), 1.0) * width)
    return "[" + "#" * filled + "-" * (width - filled) + "]" + ("!" if ratio > 1 else "")


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _when(value: str | None) -> str:
    if not value:
        return "-"
    return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M UTC")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    sign = "-" if seconds < 0 else ""
    minutes = round(abs(seconds) / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    text = (f"{days}d" if days else "") + (f"{hours}h" if hours else "") + f"{mins}m"
    return sign + text


def _budget_text(budget: Mapping[str, Any]) -> list[str]:
    currency = budget["currency"]
    period = budget["period"]
    amount = budget.get("amount") or {}
    source = amount.get("source", "fixed")
    if amount.get("rollover"):
        source += f", {_money(amount['rollover'])} rolled over"
    lines = [f"{budget['name']}  ({period['kind']} {period['key']}, amount {source})"]
    lines.append(
        f"  spend     {_money(budget['spend'])} / {_money(budget['limit'])} {currency}  "
        f"{bar(budget['utilization'])} {_ratio(budget['utilization'])}  "
        f"remaining {_money(budget['remaining'])}"
    )
    rates = budget["burn_rates"]
    lines.append(
        "  burn rate " + "  ".join(f"{window} {_times(rate)}" for window, rate in rates.items())
    )
    forecast = budget.get("forecast")
    if forecast is not None:
        bounds = forecast["bounds"]
        lines.append(
            f"  forecast  {_money(forecast['mean'])} {currency} (80%: "
            f"{_money(bounds.get('lower_80'))} to {_money(bounds.get('upper_80'))}, 95%: "
            f"{_money(bounds.get('lower_95'))} to {_money(bounds.get('upper_95'))}), "
            f"overrun {_ratio(forecast['overrun_probability'])}"
        )
    else:
        lines.append("  forecast  not enough history yet")
    elapsed, left = _days(budget)
    lines.append(
        f"  period    day {elapsed:.1f} of {elapsed + left:.0f}, {left:.1f} days left; "
        f"{_money(budget.get('average_daily_spend'))} a day so far, at most "
        f"{_money(budget.get('ideal_daily_spend'))} a day ends it at the limit"
    )
    levels = budget.get("thresholds") or {}
    if levels:
        lines.append(
            "  levels    "
            + ", ".join(
                f"{severity} {_ratio(level['ratio'])}" + (" reached" if level["reached"] else "")
                for severity, level in levels.items()
            )
        )
    top = _top_values(budget)
    if top:
        lines.append(f"  top       {top}")
    exhaustion = budget["projected_exhaustion"]
    lines.append(
        f"  runs out  pace: {_when(exhaustion['pace'])}, forecast: {_when(exhaustion['forecast'])}"
    )
    variance = budget.get("variance")
    if variance is not None:
        lines.append(
            f"  variance  {_money(variance['amount'])} {currency} "
            f"({variance['ratio']:+.1%}) against {_money(variance['expected'])} expected: "
            f"{variance['category'].replace('_', ' ')}"
        )
    for item in budget.get("recommendations", []):
        lines.append(f"  advice    {item['recommendation']}: {item['message']}")
    lines.extend(_reservation_text(budget))
    return lines


def _reservation_text(budget: Mapping[str, Any]) -> list[str]:
    """What reservations hold on the budget, and how its jobs spent against their estimates."""
    currency = budget["currency"]
    lines = []
    held = budget.get("reserved") or 0.0
    own = budget.get("reservations") or []
    if held or own:
        remaining = budget.get("remaining")
        available = remaining - held if remaining is not None else None
        lines.append(
            f"  reserved  {_money(held)} {currency} held by {len(own)} reservation(s) here"
            + (" and below" if abs(held - sum(i["outstanding"] for i in own)) > 0.005 else "")
            + f"; {_money(available)} can still be granted"
        )
        for item in own:
            job = f", job {item['job']}" if item.get("job") else ""
            lines.append(
                f"            {item['id']} {_money(item['outstanding'])} by {item['holder']}"
                f"{job}, until {_when(item['expires_at'])}"
            )
    jobs = budget.get("jobs")
    if jobs and jobs["count"]:
        lines.append(
            f"  jobs      {jobs['count']} reserved this period, {jobs['over_estimate']} over "
            f"their estimate ({_ratio(jobs['over_estimate_share'])})"
        )
        worst = max(jobs["jobs"], key=lambda item: item["difference"])
        if worst["over_estimate"]:
            lines.append(
                f"            most over: {worst['job']} {_money(worst['actual'])} against "
                f"{_money(worst['estimate'])} estimated"
            )
    return lines


def _slo_text(slo: Mapping[str, Any]) -> list[str]:
    consumed = slo.get("consumed_ratio")
    objective = f"{slo['objective'] * 100:g}%"
    lines = [f"{slo['name']}  (SLO {objective} over {slo.get('period', '')})"]
    lines.append(
        f"  budget    {_duration(slo['consumed_seconds'])} used of "
        f"{_duration(slo['error_budget_seconds'])}  {bar(consumed)} {_ratio(consumed)}  "
        f"remaining {_duration(slo['remaining_seconds'])}"
    )
    rates = slo["burn_rates"]
    lines.append(
        "  burn rate " + "  ".join(f"{window} {_times(rate)}" for window, rate in rates.items())
    )
    exhaustion = slo.get("projected_exhaustion") or {}
    if exhaustion:
        lines.append(
            "  runs out  "
            + ", ".join(f"{method}: {_when(moment)}" for method, moment in exhaustion.items())
        )
    chances = slo.get("exhaustion_probability") or {}
    if chances:
        lines.append(
            "  chance    "
            + ", ".join(f"{_ratio(p)} to run out within {h}" for h, p in chances.items())
        )
    incidents = f"  incidents {slo.get('window_incidents', 0)} in the window, "
    incidents += f"{slo.get('open_incidents', 0)} open"
    categories = _categories(slo)
    if categories:
        incidents += f"; by category: {categories}"
    lines.append(incidents)
    lines.extend(_analytics_text(slo.get("analytics")))
    return lines


def _analytics_text(found: Mapping[str, Any] | None) -> list[str]:
    """The daily statistics and the advice of an SLO."""
    if not found:
        return []
    lines = []
    burn = found["daily_burn_rate"]
    if found["days"]:
        unusual = ", ".join(
            f"{item['day']} {_duration(item['bad_seconds'])} (z {item['z_score']:.1f})"
            for item in found["anomalous_days"]
        )
        lines.append(
            f"  daily     burn rate mean {_times(burn['mean'])}, p95 {_times(burn['p95'])} "
            f"over {found['days']} days; unusual days: {unusual or 'none'}"
        )
    weekdays = found["weekday_burn_rates"]
    if weekdays:
        heaviest = max(weekdays, key=lambda day: weekdays[day] or 0.0)
        lines.append(
            "  weekdays  "
            + "  ".join(f"{day[:3]} {_times(rate)}" for day, rate in weekdays.items())
            + f"; heaviest {heaviest}"
        )
    trend = found["trend"]
    if trend is not None:
        p_value = trend["p_value"]
        verdict = "significant" if p_value is not None and p_value < 0.05 else "not significant"
        lines.append(
            f"  trend     daily bad time {trend['seconds_per_day']:+.1f}s per day "
            f"(p {p_value:.2f}, {verdict})"
        )
    horizon = f" within {found['horizon']}" if found.get("horizon") else ""
    lines.append(
        f"  advice    {found['advice']} ({_ratio(found['exhaustion_probability'])} chance to run "
        f"out{horizon}): {ADVICE_TEXT.get(found['advice'], '')}"
    )
    return lines


def _days(budget: Mapping[str, Any]) -> tuple[float, float]:
    """Days of the period passed and left."""
    period = budget["period"]
    start = datetime.fromisoformat(period["start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(period["end"].replace("Z", "+00:00"))
    total = (end - start).total_seconds() / 86400
    elapsed = total * float(period.get("elapsed_ratio") or 0.0)
    return elapsed, total - elapsed


def _top_values(budget: Mapping[str, Any]) -> str:
    """The largest values of the first breakdown dimension, with their share of the spend."""
    breakdown = budget.get("breakdown") or {}
    if not breakdown:
        return ""
    dimension, values = next(iter(breakdown.items()))
    spend = budget.get("spend") or 0.0
    parts = [
        f"{item['value']} {_money(item['spend'])}"
        + (f" ({item['spend'] / spend:.0%})" if spend > 0 and item["spend"] is not None else "")
        for item in values[:TOP_VALUES]
    ]
    return f"{dimension}: " + ", ".join(parts) if parts else ""


def _categories(slo: Mapping[str, Any]) -> str:
    consumed = slo.get("consumed_seconds") or 0.0
    return ", ".join(
        f"{item['category']} {_duration(item['seconds'])}"
        + (f" ({item['seconds'] / consumed:.0%})" if consumed > 0 else "")
        for item in slo.get("consumed_by_category") or []
    )


def render_text(data: Mapping[str, Any]) -> str:
    """The report for a terminal."""
    out = [f"Budgets and SLOs at {_when(data['taken_at'])} (money in {data['currency']})", ""]
    for budget in data["budgets"]:
        out.extend([*_budget_text(budget), ""])
    for slo in data["slos"]:
        out.extend([*_slo_text(slo), ""])
    if not data["budgets"] and not data["slos"]:
        out.append("No budget or SLO has data yet.")
    return "\n".join(out).rstrip() + "\n"


def _budget_row(budget: Mapping[str, Any]) -> dict[str, Any]:
    elapsed, left = _days(budget)
    forecast = budget.get("forecast") or {}
    bounds = forecast.get("bounds", {})
    variance = budget.get("variance") or {}
    rates = budget["burn_rates"]
    return {
        "kind": "budget",
        "name": budget["name"],
        "period": budget["period"]["key"],
        "unit": budget["currency"],
        "limit": budget["limit"],
        "spend": budget["spend"],
        "remaining": budget["remaining"],
        "utilization": budget["utilization"],
        "burn_rate_1d": rates.get("1d"),
        "burn_rate_7d": rates.get("7d"),
        "burn_rate_period": rates.get("period"),
        "forecast_mean": forecast.get("mean"),
        "forecast_lower_80": bounds.get("lower_80"),
        "forecast_upper_80": bounds.get("upper_80"),
        "overrun_probability": forecast.get("overrun_probability"),
        "exhaustion_pace": budget["projected_exhaustion"]["pace"],
        "exhaustion_forecast": budget["projected_exhaustion"]["forecast"],
        "variance": variance.get("amount"),
        "variance_ratio": variance.get("ratio"),
        "variance_category": variance.get("category"),
        "amount_source": (budget.get("amount") or {}).get("source"),
        "days_elapsed": round(elapsed, 3),
        "days_remaining": round(left, 3),
        "average_daily_spend": budget.get("average_daily_spend"),
        "ideal_daily_spend": budget.get("ideal_daily_spend"),
        "thresholds_reached": ";".join(
            severity
            for severity, level in (budget.get("thresholds") or {}).items()
            if level["reached"]
        ),
        "top_values": ";".join(
            f"{dimension}={item['value']}:{item['spend']}"
            for dimension, values in (budget.get("breakdown") or {}).items()
            for item in values[:TOP_VALUES]
        ),
        "recommendations": "; ".join(item["message"] for item in budget["recommendations"]),
        "reserved": budget.get("reserved"),
        "reservations": len(budget.get("reservations") or []) if "reservations" in budget else None,
        "jobs": (budget.get("jobs") or {}).get("count"),
        "jobs_over_estimate": (budget.get("jobs") or {}).get("over_estimate"),
        "jobs_over_estimate_share": (budget.get("jobs") or {}).get("over_estimate_share"),
    }


def _slo_row(slo: Mapping[str, Any]) -> dict[str, Any]:
    rates = slo["burn_rates"]
    exhaustion = slo.get("projected_exhaustion") or {}
    return {
        "kind": "slo",
        "name": slo["name"],
        "period": slo.get("period"),
        "unit": "seconds",
        "limit": slo["error_budget_seconds"],
        "spend": slo["consumed_seconds"],
        "remaining": slo["remaining_seconds"],
        "utilization": slo.get("consumed_ratio"),
        "burn_rate_1d": rates.get("1d"),
        "exhaustion_pace": exhaustion.get("burn_rate"),
        "exhaustion_forecast": exhaustion.get("linear_regression"),
        "incidents": slo.get("window_incidents"),
        "open_incidents": slo.get("open_incidents"),
        "consumed_by_category": ";".join(
            f"{item['category']}:{item['seconds']}"
            for item in slo.get("consumed_by_category") or []
        ),
        **_analytics_row(slo.get("analytics")),
    }


def _analytics_row(found: Mapping[str, Any] | None) -> dict[str, Any]:
    if not found:
        return {}
    trend = found["trend"] or {}
    return {
        "advice": found["advice"],
        "exhaustion_probability": found["exhaustion_probability"],
        "daily_burn_rate_mean": found["daily_burn_rate"]["mean"],
        "daily_burn_rate_p95": found["daily_burn_rate"]["p95"],
        "anomalous_days": ";".join(
            f"{item['day']}:{item['bad_seconds']}" for item in found["anomalous_days"]
        ),
        "weekday_burn_rates": ";".join(
            f"{day}:{rate}" for day, rate in found["weekday_burn_rates"].items()
        ),
        "trend_per_day": trend.get("seconds_per_day"),
        "trend_p_value": trend.get("p_value"),
    }


def render_csv(data: Mapping[str, Any]) -> str:
    """One row per budget and per SLO, for spreadsheets (SLO amounts in seconds)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for budget in data["budgets"]:
        writer.writerow(_budget_row(budget))
    for slo in data["slos"]:
        writer.writerow(_slo_row(slo))
    return buffer.getvalue()


def render_report(data: Mapping[str, Any], fmt: str) -> str:
    """The report in ``fmt``: text, json or csv."""
    if fmt == "json":
        return json.dumps(data, indent=2, allow_nan=False) + "\n"
    if fmt == "csv":
        return render_csv(data)
    if fmt == "text":
        return render_text(data)
    raise ValueError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
