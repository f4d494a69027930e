"""SLO analytics: daily bad time, burn statistics, unusual days, weekday, trend and advice.

Every figure is computed by hand in the comments; the exposition, the JSON view and the report
are read from one incident file evaluated by the refresher.
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families

from budget_exporter.config.loader import parse_config
from budget_exporter.metrics.exposition import render
from budget_exporter.service.refresh import Refresher
from budget_exporter.slo.analytics import (
    ADVICE_ACT,
    DailyConsumption,
    ExhaustionAdvice,
    advice,
    analytics,
    daily_consumption,
    unusual_days,
)
from budget_exporter.slo.error_budget import Segment
from budget_exporter.views.api import JsonApi
from budget_exporter.views.report import render_csv, render_text
from budget_exporter.views.snapshot_json import snapshot_json
from mixin.slo import EXHAUSTION_LIKELY_PROBABILITY

PARIS = ZoneInfo("Europe/Paris")
MONDAY = date(2026, 3, 2)
DAY_SHARE = 86.4  # a 24-hour day's even share of a 99.9% budget, in seconds


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_daily_bad_time_reads_whole_local_days_and_their_real_length():
    # Paris moves to summer time on Sunday 29 March 2026: that day lasts 23 hours.
    # Window from 27 March 10:00Z: the local 27th (from 26th 23:00Z) is cut, so the days are
    # the 28th (27th 23:00Z to 28th 23:00Z), the 29th (to 29th 22:00Z, 23h) and the 30th (to
    # 30th 22:00Z); the 31st is not over at now (31st 06:00Z).
    segments = [
        Segment(_ts("2026-03-27T11:00:00+00:00"), _ts("2026-03-27T12:00:00+00:00"), 1.0),
        # Half impact for 2h on the 28th: 3600 s.
        Segment(_ts("2026-03-28T10:00:00+00:00"), _ts("2026-03-28T12:00:00+00:00"), 0.5),
        # 21:00Z to 23:00Z: one hour before the 29th's local midnight, one after.
        Segment(_ts("2026-03-29T21:00:00+00:00"), _ts("2026-03-29T23:00:00+00:00"), 1.0),
    ]
    daily = daily_consumption(
        segments,
        0.999,
        datetime(2026, 3, 27, 10, tzinfo=UTC),
        datetime(2026, 3, 31, 6, tzinfo=UTC),
        PARIS,
    )
    assert [(d.day, d.bad_seconds) for d in daily] == [
        (date(2026, 3, 28), 3600.0),
        (date(2026, 3, 29), 3600.0),
        (date(2026, 3, 30), 3600.0),
    ]
    # Burn: 3600 / 86.4 on the 24-hour days, 3600 / (23 * 3600 * 0.001) = 3600 / 82.8 on the
    # short one: the same bad time burns faster on a shorter day.
    assert [d.burn_rate for d in daily] == pytest.approx([3600 / 86.4, 3600 / 82.8, 3600 / 86.4])


def _days(rates: list[float]) -> list[DailyConsumption]:
    return [
        DailyConsumption(MONDAY + timedelta(days=i), rate * DAY_SHARE, rate)
        for i, rate in enumerate(rates)
    ]


# Twenty days from Monday 2 March; only Wednesday 11 March (index 9) burns, at 20x.
SPIKE = _days([20.0 if i == 9 else 0.0 for i in range(20)])


def test_burn_statistics_of_a_window_with_one_bad_day():
    found = analytics(SPIKE, {"30d": 0.2})
    assert found.days == 20
    # Mean 20 / 20 = 1. The 95th percentile sits at rank 0.95 * 19 = 18.05 of the sorted rates
    # (nineteen 0s, then 20): 0 + 0.05 * (20 - 0) = 1.
    assert found.mean_burn_rate == pytest.approx(1.0)
    assert found.p95_burn_rate == pytest.approx(1.0)


def test_the_one_bad_day_is_unusual_at_sqrt_n_minus_one_standard_deviations():
    # One spike of a among n days: mean a/n, sd a sqrt(n - 1) / n, so z = sqrt(n - 1) = sqrt(19).
    found = analytics(SPIKE, {}).anomalous_days
    assert [(d.day, d.bad_seconds) for d in found] == [(date(2026, 3, 11), 20 * DAY_SHARE)]
    assert found[0].z_score == pytest.approx(math.sqrt(19))


def test_a_day_exactly_three_standard_deviations_out_is_not_unusual():
    # Ten days, one of 10: z = sqrt(9) = 3, which is not above 3; eleven days: sqrt(10) is.
    assert unusual_days(_days([0.0] * 9 + [10.0])) == ()
    assert len(unusual_days(_days([0.0] * 10 + [10.0]))) == 1


def test_the_weekday_pattern_is_each_weekdays_mean_burn_rate():
    # Twenty days from a Monday hold three Wednesdays (4, 11, 18 March): (0 + 20 + 0) / 3.
    assert analytics(SPIKE, {}).weekday_burn_rates == pytest.approx(
        {
            "monday": 0.0,
            "tuesday": 0.0,
            "wednesday": 20 / 3,
            "thursday": 0.0,
            "friday": 0.0,
            "saturday": 0.0,
            "sunday": 0.0,
        }
    )


def test_the_trend_is_the_slope_of_daily_bad_seconds():
    # x = 0..19 (mean 9.5), y = 1728 s at x = 9: Sxy = (9 - 9.5) * 1728 = -864,
    # Sxx = 20 * (20^2 - 1) / 12 = 665; slope -864 / 665 s per day, nowhere near significant.
    trend = analytics(SPIKE, {}).trend
    assert trend is not None
    assert trend.slope == pytest.approx(-864 / 665)
    assert trend.p_value > 0.5


def test_bad_time_growing_by_a_minute_a_day_is_a_significant_trend():
    growing = [DailyConsumption(MONDAY + timedelta(days=i), 60.0 * i, i / 1.44) for i in range(14)]
    trend = analytics(growing, {}).trend
    assert trend is not None
    assert trend.slope == pytest.approx(60.0)
    assert trend.p_value < 1e-9


def test_under_two_weeks_there_is_no_weekday_pattern_or_trend_but_burn_statistics():
    # Thirteen days at 2x: mean and p95 2.
    found = analytics(_days([2.0] * 13), {})
    assert (found.weekday_burn_rates, found.trend) == ({}, None)
    assert (found.mean_burn_rate, found.p95_burn_rate) == pytest.approx((2.0, 2.0))


def test_without_a_complete_day_there_are_no_burn_statistics():
    found = analytics([], {"30d": 0.05})
    assert (found.days, found.mean_burn_rate, found.p95_burn_rate) == (0, None, None)
    assert found.anomalous_days == ()
    assert found.advice is ExhaustionAdvice.OK


@pytest.mark.parametrize(
    ("probability", "tier"),
    [
        (0.0, ExhaustionAdvice.OK),
        (0.0999, ExhaustionAdvice.OK),
        (0.1, ExhaustionAdvice.WATCH),
        (0.4999, ExhaustionAdvice.WATCH),
        (0.5, ExhaustionAdvice.ACT),
        (1.0, ExhaustionAdvice.ACT),
    ],
)
def test_the_advice_tier_of_an_exhaustion_probability(probability, tier):
    assert advice(probability) is tier


def test_the_advice_reads_the_highest_probability_over_the_horizons():
    found = analytics(SPIKE, {"7d": 0.2, "30d": 0.6})
    assert (found.advice, found.probability, found.horizon) == (ExhaustionAdvice.ACT, 0.6, "30d")


def test_the_alert_fires_where_the_act_advice_starts():
    assert EXHAUSTION_LIKELY_PROBABILITY == ADVICE_ACT


# ------------------------------------------------------------- one SLO, end to end

NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)
# 28.8 min = 1728 s on Wednesday 11 March: 20x that day's share of a 99.9% budget.
INCIDENTS = """\
- {id: A, service: api, title: failover, start: "2026-03-11T10:00:00Z", duration: 28m48s}
"""
CONFIG = """\
providers:
  log: {type: incidents_file, paths: [incidents.yaml]}
slos:
  - name: api
    objective: 99.9
    provider: log
    labels: {team: platform}
"""
SERIES_ON = "series: {weekday_pattern: true, trend: true}\n"
BASE = {"slo": "api", "team": "platform"}
# The 30-day window starts 13 February 12:00Z: its complete UTC days are 14 February to
# 14 March, 29 days (15 in February, 14 in March); 11 March is day 25 of them.
DAYS = 29
# One incident in the 90-day history: 30/90 expected in the next 30 days, each costing 1728 s,
# more than the 2592 - 1728 = 864 s left. Exhausted unless none comes: 1 - exp(-1/3) = 0.283.
PROBABILITY = 1 - math.exp(-1 / 3)


def _refresher(tmp_path: Path, series: str = "") -> Refresher:
    (tmp_path / "incidents.yaml").write_text(INCIDENTS)
    refresher = Refresher(parse_config(series + CONFIG, base_dir=str(tmp_path)))
    refresher.refresh(NOW)
    return refresher


def _samples(refresher: Refresher) -> dict[str, list[tuple[dict[str, str], float]]]:
    text = render(refresher.snapshot(NOW)).decode()
    return {
        family.name: [(sample.labels, sample.value) for sample in family.samples]
        for family in text_string_to_metric_families(text)
        if family.name.startswith("slo_")
    }


def test_the_lean_exposition_has_burn_statistics_unusual_days_and_one_advice_state(tmp_path):
    found = _samples(_refresher(tmp_path))
    assert found["slo_error_budget_exhaustion_probability"] == [
        ({**BASE, "horizon": "30d"}, pytest.approx(PROBABILITY, abs=1e-9))
    ]
    # Mean 20 / 29; the 95th percentile at rank 0.95 * 28 = 26.6 of 28 zeros and a 20 is 0.
    assert found["slo_daily_burn_rate_mean"] == [(BASE, pytest.approx(20 / DAYS))]
    assert found["slo_daily_burn_rate_p95"] == [(BASE, 0.0)]
    # z = sqrt(28) = 5.3 for the one bad day.
    assert found["slo_burn_anomalies"] == [(BASE, 1.0)]
    # 0.283 is at least 0.1 and below 0.5: watch, and only that state is exported.
    assert found["slo_error_budget_advice"] == [({**BASE, "advice": "watch"}, 1.0)]
    for name in (
        "slo_weekday_burn_rate",
        "slo_daily_consumption_trend_seconds",
        "slo_daily_consumption_trend_p_value",
    ):
        assert name not in found


def test_the_weekday_pattern_and_trend_are_exported_when_switched_on(tmp_path):
    found = _samples(_refresher(tmp_path, SERIES_ON))
    weekdays = {labels["weekday"]: value for labels, value in found["slo_weekday_burn_rate"]}
    # Four Wednesdays in the window (18 and 25 February, 4 and 11 March): 20 / 4 = 5.
    assert weekdays == {
        "monday": 0.0,
        "tuesday": 0.0,
        "wednesday": pytest.approx(5.0),
        "thursday": 0.0,
        "friday": 0.0,
        "saturday": 0.0,
        "sunday": 0.0,
    }
    # x = 0..28 (mean 14), y = 1728 at x = 25: Sxy = 11 * 1728, Sxx = 29 * (29^2 - 1) / 12 = 2030.
    assert found["slo_daily_consumption_trend_seconds"] == [(BASE, pytest.approx(11 * 1728 / 2030))]
    [(_, p_value)] = found["slo_daily_consumption_trend_p_value"]
    assert 0.05 < p_value < 1


@pytest.fixture
def view(tmp_path: Path) -> dict[str, Any]:
    return snapshot_json(_refresher(tmp_path).snapshot(NOW))


def test_the_json_view_lists_the_unusual_days(view):
    found = view["slos"][0]["analytics"]
    assert found["days"] == DAYS
    assert found["daily_burn_rate"] == {"mean": pytest.approx(20 / DAYS), "p95": 0.0}
    assert found["anomalous_days"] == [
        {"day": "2026-03-11", "bad_seconds": 1728.0, "z_score": pytest.approx(math.sqrt(28))}
    ]
    assert found["weekday_burn_rates"]["wednesday"] == pytest.approx(5.0)
    assert found["trend"]["seconds_per_day"] == pytest.approx(11 * 1728 / 2030)
    assert (found["advice"], found["horizon"]) == ("watch", "30d")
    assert found["exhaustion_probability"] == pytest.approx(PROBABILITY, abs=1e-9)


def test_the_text_report_gives_the_daily_statistics_and_the_advice(view):
    text = render_text(view)
    # 1728 s is 28.8 minutes: 29m rounded.
    assert (
        "  daily     burn rate mean 0.69x, p95 0.00x over 29 days; unusual days: "
        "2026-03-11 29m (z 5.3)"
    ) in text
    assert "wed 5.00x" in text and "heaviest wednesday" in text
    assert "  trend     daily bad time +9.4s per day (p " in text
    assert "  advice    watch (28% chance to run out within 30d): review risky changes" in text


def test_the_csv_report_has_the_analytics_columns(view):
    [row] = list(csv.DictReader(io.StringIO(render_csv(view))))
    assert row["advice"] == "watch"
    assert float(row["daily_burn_rate_mean"]) == pytest.approx(20 / DAYS)
    assert row["anomalous_days"] == "2026-03-11:1728.0"
    assert "wednesday:5.0" in row["weekday_burn_rates"]
    assert float(row["trend_per_day"]) == pytest.approx(11 * 1728 / 2030)


def test_the_api_serves_an_slos_analytics(view):
    api = JsonApi(lambda: view)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/v1/slos/api"}
    body = json.loads(b"".join(api(environ, lambda status, headers: None)))
    assert body["analytics"]["advice"] == "watch"
    assert [item["day"] for item in body["analytics"]["anomalous_days"]] == ["2026-03-11"]


PROJECTIONS = "slo_error_budget_projected_exhaustion_timestamp_seconds"


def test_an_slo_costs_the_series_the_readme_says(tmp_path):
    # README, "Series per SLO": slo_info, 8 single figures (objective, window start, budget,
    # consumed, remaining, remaining ratio, open and window incidents), 8 burn windows,
    # 2 projections (linear_regression and average: nothing burns in the last hour), 1 horizon
    # and 1 category make 21, the analytics 4 more; weekday_pattern and trend add 7 and 2.
    lean = _samples(_refresher(tmp_path))
    assert sorted(labels["method"] for labels, _ in lean[PROJECTIONS]) == [
        "average",
        "linear_regression",
    ]
    assert sum(map(len, lean.values())) == 25
    full = _samples(_refresher(tmp_path, SERIES_ON))
    assert sum(map(len, full.values())) == 34
