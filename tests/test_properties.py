"""Property-based tests: parsers never fail other than with their own clear error, and the maths
keeps its invariants for any input hypothesis can find."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from budget_exporter.config.loader import parse_config
from budget_exporter.model.costs import normalize
from budget_exporter.model.errors import ConfigError
from budget_exporter.model.periods import (
    PeriodKind,
    format_duration,
    parse_duration,
    period_containing,
)
from budget_exporter.money.budgets import BudgetSpec, CostIndex, evaluate_budget
from budget_exporter.slo.error_budget import bad_seconds, burn_rate, union_segments

# Derandomized: CI runs the same examples every time, so a failure is reproducible.
QUICK = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]
UNITS = ["ms", "s", "m", "h", "d", "w", "y"]
CALENDAR_KINDS = [
    PeriodKind(kind) for kind in ("daily", "weekly", "monthly", "quarterly", "yearly")
]
moments = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)


@QUICK
@given(st.text(max_size=40))
def test_parse_duration_returns_a_duration_or_a_value_error(text: str) -> None:
    try:
        value = parse_duration(text)
    except ValueError as error:
        assert str(error)
    else:
        assert value >= timedelta(0)


@QUICK
@given(st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(UNITS)), min_size=1, max_size=4))
@example([(942, "ms"), (6641, "h"), (6836, "w"), (2252, "d")])  # float sums drifted by 1 us
def test_a_formatted_duration_reads_back_as_the_same_duration(parts: list[tuple[int, str]]) -> None:
    text = "".join(f"{count}{unit}" for count, unit in parts)
    try:
        value = parse_duration(text)
    except ValueError:
        return  # units out of order, e.g. "1s1h": refused, which is fine
    assert parse_duration(format_duration(value)) == value


@QUICK
@given(st.text(max_size=300))
def test_any_text_is_a_config_or_a_config_error(text: str) -> None:
    try:
        parse_config(text, "fuzz.yml")
    except ConfigError as error:
        assert all(problem.file == "fuzz.yml" for problem in error.problems)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
budget = st.fixed_dictionaries(
    {"name": st.text(max_size=10), "amount": scalars, "period": st.text(max_size=10)},
    optional={"parent": st.text(max_size=5), "thresholds": documents, "labels": documents},
)


@QUICK
@given(st.lists(budget, max_size=4), documents)
def test_any_config_shaped_document_is_a_config_or_a_config_error(
    budgets: list[dict[str, object]], extra: object
) -> None:
    document = {
        "providers": {"p": {"type": "demo"}},
        "budgets": budgets,
        "refresh_interval": extra,
    }
    try:
        parse_config(yaml.safe_dump(document), "fuzz.yml")
    except ConfigError as error:
        assert error.problems


rows = st.lists(
    st.tuples(
        st.integers(0, 60 * 24 * 3),  # start, in minutes after 1 November 00:00 UTC
        st.integers(0, 48),  # length in hours; 0 is a one-time charge
        st.floats(0, 1e6, allow_nan=False),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(
    rows,
    st.floats(0.01, 1e9),
    st.sampled_from(CALENDAR_KINDS),
    st.sampled_from(ZONES),
    st.integers(0, 40 * 24),
)
def test_budget_invariants_hold_for_any_costs(
    costs: list[tuple[int, int, float]], amount: float, kind: PeriodKind, zone: str, hours: int
) -> None:
    origin = datetime(2024, 10, 28, tzinfo=UTC)
    raw = pd.DataFrame(
        {
            "start": [origin + timedelta(minutes=start) for start, _, _ in costs],
            "end": [origin + timedelta(minutes=start, hours=length) for start, length, _ in costs],
            "cost": [cost for _, _, cost in costs],
            "currency": "USD",
            "charge_category": "usage",
        }
    )
    index = CostIndex(normalize(raw))
    now = origin + timedelta(hours=hours)
    status = evaluate_budget(BudgetSpec("b", amount, kind), index, now, ZoneInfo(zone), now)
    assert status.utilization == status.spend / status.limit
    assert status.spend <= sum(cost for _, _, cost in costs) * (1 + 1e-9) + 1e-9
    assert status.spend >= 0
    assert all(rate >= 0 and math.isfinite(rate) for rate in status.burn_rates.values())
    assert 0 <= status.elapsed_ratio <= 1
    assert status.remaining == status.limit - status.spend


spans = st.lists(
    st.tuples(st.floats(0, 1e6), st.floats(0, 1e5), st.floats(0.01, 1)).map(
        lambda span: (span[0], span[0] + span[1], span[2])
    ),
    max_size=30,
)


@QUICK
@given(spans, st.floats(0, 1e6), st.floats(0, 2e6), st.sampled_from([0.9, 0.99, 0.999, 0.9999]))
def test_the_union_of_bad_intervals_never_exceeds_the_window(
    bad: list[tuple[float, float, float]], start: float, length: float, objective: float
) -> None:
    segments = union_segments(bad)
    for earlier, later in itertools.pairwise(segments):
        assert earlier.end <= later.start
    assert all(s.start < s.end and 0 < s.weight <= 1 for s in segments)
    end = start + length
    total = bad_seconds(segments, start, end)
    # Against the window as the floats hold it, with a nanosecond for rounding of the sums.
    assert 0 <= total <= (end - start) * (1 + 1e-12) + 1e-9
    # Each span alone is covered by the union, at least with its own weight.
    for left, right, weight in bad:
        alone = max(0.0, min(right, end) - max(left, start)) * weight
        assert total >= alone * (1 - 1e-9) - 1e-6
    assert burn_rate(total, length, objective) >= 0


@QUICK
@given(moments, st.sampled_from(CALENDAR_KINDS), st.sampled_from(ZONES))
def test_a_periods_days_add_up_to_its_length(
    moment: datetime, kind: PeriodKind, zone_name: str
) -> None:
    zone = ZoneInfo(zone_name)
    period = period_containing(kind, moment, zone)
    assert period.start <= moment < period.end
    days = 0.0
    day = period.start
    while day < period.end:
        following = period_containing(PeriodKind.DAILY, day, zone).end
        days += following.timestamp() - day.timestamp()
        day = following
    assert days == period.length_seconds
    assert period.following().start == period.end
