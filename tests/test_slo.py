"""Error budget maths on hand-made incidents, with expected values worked out by hand."""

import itertools
import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from budget_exporter.model.incidents import Incident
from budget_exporter.model.periods import PeriodKind
from budget_exporter.slo.error_budget import (
    MAX_CATEGORIES,
    METHOD_AVERAGE,
    METHOD_BURN_RATE,
    METHOD_REGRESSION,
    SloSpec,
    bad_seconds,
    burn_rate,
    compound_poisson_tail,
    error_budget_seconds,
    evaluate_slo,
    least_squares_slope,
    union_segments,
)

UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 3, 15, 12, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
API = SloSpec(name="api", objective=0.999, window=timedelta(days=30))


def outage(
    start: datetime,
    minutes: float | None,
    *,
    ident: str = "",
    impact: float = 1.0,
    category: str = "incident",
    service: str = "api",
    **attributes: str,
) -> Incident:
    """An incident from ``start`` lasting ``minutes`` (None: still open)."""
    return Incident(
        id=ident or f"{service}-{start.isoformat()}",
        service=service,
        title="outage",
        start=start,
        end=None if minutes is None else start + timedelta(minutes=minutes),
        category=category,
        impact=impact,
        attributes=attributes,
    )


def test_thirty_days_at_three_nines_allow_43_2_minutes():
    assert error_budget_seconds(30 * 86400, 0.999) == pytest.approx(43.2 * 60)


CONSUMPTION_CASES = [
    pytest.param(
        [outage(NOW - 3 * DAY, 21.6)],
        21.6 * 60,
        id="a 21.6 minute incident uses half of a 43.2 minute budget",
    ),
    pytest.param(
        [outage(NOW - 3 * DAY, 20), outage(NOW - 3 * DAY + 10 * MINUTE, 20)],
        30 * 60,
        id="overlapping incidents count their union once",
    ),
    pytest.param(
        [outage(NOW - 3 * DAY, 30, impact=0.5), outage(NOW - 3 * DAY + 10 * MINUTE, 10)],
        (20 * 0.5 + 10 * 1.0) * 60,
        id="an overlap counts at the highest impact of the incidents open then",
    ),
    pytest.param(
        [outage(NOW - 12 * MINUTE, None)],
        12 * 60,
        id="an open incident counts up to now",
    ),
    pytest.param(
        [outage(NOW - 30 * DAY - 10 * MINUTE, 20)],
        10 * 60,
        id="an incident straddling the window start counts only its part inside",
    ),
    pytest.param(
        [outage(NOW - 31 * DAY, 20)],
        0.0,
        id="an incident before the window counts nothing",
    ),
    pytest.param(
        [outage(NOW - 2 * DAY, 60, category="maintenance"), outage(NOW - DAY, 6)],
        6 * 60,
        id="planned maintenance is excluded",
    ),
    pytest.param(
        [outage(NOW - 2 * DAY, 60, impact=0.25)],
        15 * 60,
        id="a partial outage counts by its impact",
    ),
]


@pytest.mark.parametrize(("incidents", "consumed"), CONSUMPTION_CASES)
def test_consumed_budget(incidents, consumed):
    spec = SloSpec(
        name="api",
        objective=0.999,
        window=timedelta(days=30),
        excluded_categories=frozenset({"maintenance"}),
    )
    status = evaluate_slo(spec, incidents, NOW, UTC_ZONE)
    assert status.budget_seconds == pytest.approx(2592.0)
    assert status.consumed_seconds == pytest.approx(consumed)
    assert status.remaining_seconds == pytest.approx(2592.0 - consumed)
    assert status.remaining_ratio == pytest.approx(1 - consumed / 2592.0)


def test_a_21_6_minute_incident_is_fifty_percent_consumed():
    status = evaluate_slo(API, [outage(NOW - 3 * DAY, 21.6)], NOW, UTC_ZONE)
    assert status.consumed_ratio == pytest.approx(0.5)
    assert status.remaining_ratio == pytest.approx(0.5)


def test_a_five_minute_outage_in_the_last_hour_burns_at_83_33():
    status = evaluate_slo(API, [outage(NOW - 30 * MINUTE, 5)], NOW, UTC_ZONE)
    assert status.burn_rates["1h"] == pytest.approx(83.333333, rel=1e-6)
    assert status.burn_rates["5m"] == 0.0  # it ended 25 minutes ago
    assert status.burn_rates["30m"] == pytest.approx((5 / 30) / 0.001)
    assert status.burn_rates["period"] == pytest.approx((5 / (30 * 24 * 60)) / 0.001)


def test_burn_rate_windows_are_those_of_the_multiwindow_alerts():
    status = evaluate_slo(API, [], NOW, UTC_ZONE)
    assert list(status.burn_rates) == ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "period"]


def test_an_overspent_budget_goes_below_zero_and_reports_when_it_ran_out():
    start = NOW - 2 * DAY
    status = evaluate_slo(API, [outage(start, 60)], NOW, UTC_ZONE)
    assert status.remaining_seconds == pytest.approx(2592.0 - 3600.0)
    assert status.remaining_ratio == pytest.approx(1 - 3600 / 2592)
    ran_out = start + timedelta(seconds=2592)
    assert status.exhaustion == {
        METHOD_BURN_RATE: ran_out,
        METHOD_REGRESSION: ran_out,
        METHOD_AVERAGE: ran_out,
    }


def test_exhaustion_at_the_current_burn_rate_extrapolates_the_last_hour():
    # Open for 10 minutes: 600 s used, 1992 s left, burning 600/3600 of each second.
    status = evaluate_slo(API, [outage(NOW - 10 * MINUTE, None)], NOW, UTC_ZONE)
    expected = NOW + timedelta(seconds=1992 / (600 / 3600))
    assert status.exhaustion[METHOD_BURN_RATE].timestamp() == pytest.approx(expected.timestamp())
    assert status.open_incidents == 1


def test_exhaustion_by_regression_follows_the_daily_consumption_trend():
    # One 100 s incident a day for ten days: the window's consumption grows 100 s a day.
    incidents = [outage(NOW - k * DAY - timedelta(hours=1), 100 / 60) for k in range(10)]
    status = evaluate_slo(API, incidents, NOW, UTC_ZONE)
    assert status.consumed_seconds == pytest.approx(1000.0)
    by_trend = NOW + timedelta(seconds=(2592 - 1000) / (100 / 86400))
    assert status.exhaustion[METHOD_REGRESSION].timestamp() == pytest.approx(by_trend.timestamp())
    by_rate = NOW + timedelta(seconds=(2592 - 1000) / (100 / 3600))
    assert status.exhaustion[METHOD_BURN_RATE].timestamp() == pytest.approx(by_rate.timestamp())


def test_exhaustion_at_the_window_average_continues_what_the_window_consumed_so_far():
    # 1500 s in 30 days: 50 s a day; the 1092 s left last 21.84 days, inside the window.
    status = evaluate_slo(API, [outage(NOW - 20 * DAY, 25)], NOW, UTC_ZONE)
    by_average = NOW + timedelta(seconds=(2592 - 1500) / (1500 / (30 * 86400)))
    assert status.exhaustion[METHOD_AVERAGE].timestamp() == pytest.approx(by_average.timestamp())
    assert METHOD_BURN_RATE not in status.exhaustion  # nothing is open: no current rate


def test_a_calendar_window_average_counts_only_the_elapsed_part_of_the_period():
    monthly = SloSpec(name="api", objective=0.999, calendar=PeriodKind.MONTHLY)
    # 14.5 days into March (31 days, 2678.4 s of budget): 1800 s used, 124.1 s a day.
    status = evaluate_slo(monthly, [outage(NOW - 2 * DAY, 30)], NOW, UTC_ZONE)
    elapsed = (NOW - datetime(2026, 3, 1, tzinfo=UTC)).total_seconds()
    by_average = NOW + timedelta(seconds=(2678.4 - 1800) / (1800 / elapsed))
    assert status.exhaustion[METHOD_AVERAGE].timestamp() == pytest.approx(by_average.timestamp())


def test_no_exhaustion_is_projected_when_nothing_burns():
    status = evaluate_slo(API, [outage(NOW - 20 * DAY, 10)], NOW, UTC_ZONE)
    assert status.exhaustion == {}


def test_a_calendar_month_budget_covers_the_whole_month():
    spec = SloSpec(name="api", objective=0.999, window=None, calendar=PeriodKind.MONTHLY)
    status = evaluate_slo(spec, [outage(datetime(2026, 2, 28, 23, tzinfo=UTC), 120)], NOW, UTC_ZONE)
    assert status.window_start == datetime(2026, 3, 1, tzinfo=UTC)
    assert status.window_end == datetime(2026, 4, 1, tzinfo=UTC)
    assert status.budget_seconds == pytest.approx(31 * 86400 * 0.001)  # 44.64 minutes
    assert status.consumed_seconds == pytest.approx(3600.0)  # the hour after midnight
    elapsed = (NOW - status.window_start).total_seconds()
    assert status.burn_rates["period"] == pytest.approx((3600 / elapsed) / 0.001)


def test_filters_match_record_fields_and_attributes():
    spec = SloSpec(name="api", objective=0.999, filter={"service": ("api",), "urgency": ("high",)})
    incidents = [
        outage(NOW - DAY, 5, urgency="high"),
        outage(NOW - DAY, 50, urgency="low"),
        outage(NOW - 2 * DAY, 50, service="search", urgency="high"),
    ]
    status = evaluate_slo(spec, incidents, NOW, UTC_ZONE)
    assert status.consumed_seconds == pytest.approx(300.0)
    assert status.window_incidents == 1


def test_consumption_by_category_keeps_the_largest_and_sums_the_rest():
    incidents = [outage(NOW - (k + 1) * DAY, k + 1, category=f"kind{k:02d}") for k in range(12)]
    status = evaluate_slo(API, incidents, NOW, UTC_ZONE)
    categories = dict(status.consumed_by_category)
    assert len(categories) == MAX_CATEGORIES
    assert categories["kind11"] == pytest.approx(12 * 60)
    assert categories["other"] == pytest.approx((1 + 2 + 3) * 60)  # kind00..kind02


PROBABILITY_CASES = [
    pytest.param(
        # Three 10-minute incidents in 90 days: one expected in 30 days; the 43.2-minute
        # budget needs five of them (P(N >= 5), N ~ Poisson(1)).
        [outage(NOW - k * DAY, 10) for k in (40, 50, 60)],
        1 - math.exp(-1) * (1 + 1 + 1 / 2 + 1 / 6 + 1 / 24),
        id="five ten-minute incidents are needed, one is expected",
    ),
    pytest.param([], 0.0, id="no history means no risk is learnt"),
    pytest.param([outage(NOW - DAY, 50)], 1.0, id="an exhausted budget is certain"),
]


@pytest.mark.parametrize(("incidents", "probability"), PROBABILITY_CASES)
def test_exhaustion_probability_from_incident_history(incidents, probability):
    status = evaluate_slo(API, incidents, NOW, UTC_ZONE)
    assert status.exhaustion_probability["30d"] == pytest.approx(probability, abs=1e-6)


def test_an_open_incident_raises_the_exhaustion_probability():
    history = [outage(NOW - k * DAY, 10) for k in (40, 50, 60)]
    calm = evaluate_slo(API, history, NOW, UTC_ZONE).exhaustion_probability["30d"]
    burning = evaluate_slo(
        API, [*history, outage(NOW - 15 * MINUTE, None)], NOW, UTC_ZONE
    ).exhaustion_probability["30d"]
    assert burning > calm


def test_an_open_incident_weighs_with_the_odds_that_it_outlasts_the_remaining_budget():
    # Open for 20 minutes at full impact: 23.2 of the 43.2 minutes are left, and by Gott's rule
    # it goes on 23.2 minutes more with odds 20 / (20 + 23.2). The half-hour horizon ends first.
    burning = [outage(NOW - 20 * MINUTE, None)]
    probability = evaluate_slo(API, burning, NOW, UTC_ZONE).exhaustion_probability["30d"]
    assert probability >= 20 / (20 + 23.2) - 0.01
    short = SloSpec(
        name="api", objective=0.999, window=timedelta(days=30), horizons=(timedelta(minutes=10),)
    )
    assert evaluate_slo(short, burning, NOW, UTC_ZONE).exhaustion_probability["10m"] < 0.05


@pytest.mark.parametrize(
    ("mean", "size", "threshold", "expected"),
    [
        (2.0, 1000.0, 2500.0, 1 - math.exp(-2) * (1 + 2 + 2)),
        (0.5, 100.0, 50.0, 1 - math.exp(-0.5)),
        (3.0, 10.0, 1e6, 0.0),
    ],
    ids=[
        "three incidents of 1000 s exceed 2500 s",
        "a single incident larger than the threshold exceeds it",
        "a threshold far above any plausible total is never reached",
    ],
)
def test_compound_poisson_tail_matches_the_poisson_tail(mean, size, threshold, expected):
    assert compound_poisson_tail(mean, [size], threshold) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("xs", "ys", "slope"),
    [([0, 1, 2], [1, 3, 5], 2.0), ([0, 1, 2, 3], [5, 5, 5, 5], 0.0), ([4], [1], 0.0)],
    ids=["a straight line", "a flat line", "a single point"],
)
def test_least_squares_slope(xs, ys, slope):
    assert least_squares_slope(xs, ys) == pytest.approx(slope)


def test_burn_rate_of_an_empty_window_is_zero():
    assert burn_rate(10.0, 0.0, 0.999) == 0.0


spans = st.lists(
    st.tuples(st.integers(0, 40), st.integers(1, 10), st.sampled_from([0.25, 0.5, 1.0])).map(
        lambda t: (float(t[0]), float(t[0] + t[1]), t[2])
    ),
    max_size=8,
)


@given(spans)
def test_union_matches_the_highest_weight_second_by_second(items):
    segments = union_segments(items)
    expected = sum(
        max((w for s, e, w in items if s <= second < e), default=0.0) for second in range(60)
    )
    assert bad_seconds(segments, 0.0, 60.0) == pytest.approx(expected)
    assert all(a.end <= b.start for a, b in itertools.pairwise(segments))
