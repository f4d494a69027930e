"""Prometheus-style durations: parsing, formatting and their errors."""

from datetime import timedelta

import pytest

from budget_exporter.model.periods import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("1h30m", timedelta(minutes=90)),
        ("30d", timedelta(days=30)),
        ("1w", timedelta(days=7)),
        ("1y", timedelta(days=365)),
        ("500ms", timedelta(milliseconds=500)),
        ("1d12h", timedelta(hours=36)),
        ("0s", timedelta(0)),
        (" 15m ", timedelta(minutes=15)),
    ],
    ids=[
        "seconds are read as seconds",
        "hours and minutes add up",
        "days are 86400 seconds each",
        "a week is seven days",
        "a year is 365 days as in Prometheus",
        "milliseconds keep their fraction",
        "days and hours add up",
        "zero is allowed",
        "surrounding spaces are ignored",
    ],
)
def test_parse_duration_reads_units(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "10", "h", "1.5h", "1h 30m", "-1h", "30x", "1h30", "m5", "1H"],
    ids=[
        "an empty text is refused",
        "blanks are refused",
        "a number without a unit is refused",
        "a unit without a number is refused",
        "a decimal number is refused",
        "a space between parts is refused",
        "a negative duration is refused",
        "an unknown unit is refused",
        "a trailing number without unit is refused",
        "a unit before its number is refused",
        "units are lower case",
    ],
)
def test_parse_duration_refuses_malformed_text(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_parse_duration_error_names_the_text_and_shows_examples():
    with pytest.raises(ValueError) as caught:
        parse_duration("5 minutes")
    assert "'5 minutes'" in str(caught.value)
    assert "90s" in str(caught.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(0), "0s"),
        (timedelta(days=1), "1d"),
        (timedelta(days=7), "7d"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(days=1, hours=1, seconds=5), "1d1h5s"),
        (timedelta(milliseconds=1500), "1s500ms"),
        (timedelta(milliseconds=250), "250ms"),
    ],
    ids=[
        "zero is written 0s",
        "one day is 1d",
        "seven days stay in days",
        "ninety minutes are 1h30m",
        "ninety seconds are 1m30s",
        "empty units are skipped",
        "milliseconds are kept after seconds",
        "less than a second is in milliseconds",
    ],
)
def test_format_duration_writes_prometheus_style(value, expected):
    assert format_duration(value) == expected


@pytest.mark.parametrize(
    "text",
    ["1m30s", "1h30m", "7d", "1d1h5s", "250ms", "2m3s400ms"],
    ids=[
        "seconds survive a round trip",
        "hours and minutes survive a round trip",
        "days survive a round trip",
        "mixed units survive a round trip",
        "milliseconds survive a round trip",
        "minutes seconds and milliseconds survive a round trip",
    ],
)
def test_format_duration_reverses_parse_duration(text):
    assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)
    assert format_duration(parse_duration(text)) == text
