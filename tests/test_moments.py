"""Times in kept records: written with their offset, read back exactly, refused without one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest

from budget_exporter.model.moments import moment_of, moment_text


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 20, 12, 30, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2))),
        pd.Timestamp("2026-11-20T00:00:00.000000001Z"),  # nanoseconds, as cost frames hold
    ],
)
def test_a_time_reads_back_as_the_same_instant_with_its_offset(moment):
    back = moment_of(moment_text(moment))
    assert back == moment and back.utcoffset() == moment.utcoffset()
    assert back.nanosecond == pd.Timestamp(moment).nanosecond


def test_no_time_stays_none_both_ways():
    assert moment_text(None) is None and moment_of(None) is None and moment_of("") is None


@pytest.mark.parametrize("text", ["2026-11-20T12:00:00", "2026-11-20", "NaT", "now"])
def test_a_time_without_an_offset_is_refused_naming_it(text):
    with pytest.raises(ValueError, match=f"time '{text}' has no UTC offset"):
        moment_of(text)


def test_text_that_is_no_time_is_refused():
    with pytest.raises(ValueError):
        moment_of("yesterday-ish")
