"""The statistics money budgets and SLOs share, on small series computed by hand."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from budget_exporter.model.statistics import (
    is_flat,
    linear_trend,
    percentile,
    weekday_means,
    z_scores,
)

MONDAY = date(2026, 3, 2)


def days(count: int) -> list[date]:
    return [MONDAY + timedelta(days=i) for i in range(count)]


def test_weekday_means_average_each_weekday_on_its_own():
    # Two weeks from a Monday; the second week is the first plus 2, so each mean is the first
    # week's value plus 1: Monday (1 + 3) / 2 = 2, ..., Sunday (7 + 9) / 2 = 8.
    values = [1.0, 2, 3, 4, 5, 6, 7, 3, 4, 5, 6, 7, 8, 9]
    assert weekday_means(days(14), values) == {
        "monday": 2.0,
        "tuesday": 3.0,
        "wednesday": 4.0,
        "thursday": 5.0,
        "friday": 6.0,
        "saturday": 7.0,
        "sunday": 8.0,
    }


def test_weekday_means_name_only_the_weekdays_present():
    # Monday to Wednesday: 10, 20, 30.
    assert weekday_means(days(3), [10.0, 20.0, 30.0]) == {
        "monday": 10.0,
        "tuesday": 20.0,
        "wednesday": 30.0,
    }


def test_the_trend_is_the_least_squares_slope_with_its_two_sided_p_value():
    # x = 0..3, y = 0, 2, 1, 3: means 1.5 and 1.5; Sxy = 2.25 - 0.25 - 0.25 + 2.25 = 4, Sxx = 5,
    # slope 0.8, intercept 0.3. Residuals -0.3, 0.9, -0.9, 0.3: SSE 1.8, s^2 = 1.8 / 2 = 0.9,
    # se = sqrt(0.9 / 5), t^2 = 0.64 / 0.18 = 32/9. With 2 degrees of freedom the two-sided
    # p-value is 1 - t / sqrt(t^2 + 2) = 1 - sqrt((32/9) / (50/9)) = 1 - 0.8 = 0.2.
    trend = linear_trend(days(4), [0.0, 2.0, 1.0, 3.0])
    assert trend.slope == pytest.approx(0.8)
    assert trend.p_value == pytest.approx(0.2)


def test_the_trend_reads_the_calendar_days_between_values():
    # 0, 2, 4 on days 0, 2, 4 (every other day): 1 a day, not 2 per value.
    trend = linear_trend([MONDAY + timedelta(days=i) for i in (0, 2, 4)], [0.0, 2.0, 4.0])
    assert trend.slope == pytest.approx(1.0)
    assert trend.p_value < 1e-6


@pytest.mark.parametrize(
    "values",
    [[5.0] * 10, [5.0 + (1e-14 if i % 2 else 0.0) for i in range(10)], [1.0, 2.0]],
    ids=["a flat series", "a flat series with float noise", "two points"],
)
def test_no_trend_without_a_line_to_fit(values):
    trend = linear_trend(days(len(values)), values)
    assert (trend.slope, trend.p_value) == (0.0, 1.0)


def test_z_scores_are_distances_from_the_mean_in_population_standard_deviations():
    # Nine 0s and one 10: mean 1, variance (9 * 1 + 81) / 10 = 9, sd 3; z = -1/3 and 9/3 = 3.
    scores = z_scores([0.0] * 9 + [10.0])
    assert scores[-1] == pytest.approx(3.0)
    assert scores[:-1] == pytest.approx([-1 / 3] * 9)


def test_a_series_that_does_not_move_has_no_outlier():
    assert z_scores([4.0] * 5).tolist() == [0.0] * 5
    assert z_scores([]).tolist() == []


def test_the_percentile_interpolates_between_ranks():
    # Ranks 0..4 of 1..5: the 95th percentile sits at rank 0.95 * 4 = 3.8, 4 + 0.8 * (5 - 4).
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.95) == pytest.approx(4.8)
    assert percentile([1.0, 2.0, 3.0], 0.5) == 2.0
    assert percentile([], 0.95) == 0.0


def test_flatness_allows_float_noise_only():
    assert is_flat(np.array([50.0, 50.0 + 7e-15]))
    assert not is_flat([50.0, 50.01])
