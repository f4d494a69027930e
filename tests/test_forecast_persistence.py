"""Fitted forecast models kept in the state folder: a restart serves them without fitting."""

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from budget_exporter.config.loader import load_config
from budget_exporter.service.refresh import Refresher
from budget_exporter.service.state import StateDir

AT = datetime(2026, 11, 20, 12, tzinfo=UTC)


def forecasts_of(refresher: Refresher, at: datetime = AT) -> dict[str, str]:
    """Each budget's forecast at ``at``, as text (so NaN compares equal to NaN)."""
    snapshot = refresher.snapshot(at)
    return {entry.status.name: repr(entry.forecast) for entry in snapshot.budgets}


@pytest.fixture
def first(tmp_path: Path) -> tuple[Refresher, dict[str, str]]:
    """A refresher over the demo that fit every model once, with the state folder it wrote."""
    refresher = Refresher(load_config(None), StateDir(tmp_path / "state"))
    refresher.refresh(AT)
    return refresher, forecasts_of(refresher)


def restart(tmp_path: Path, cap: int = 1000) -> Refresher:
    """New objects over the same state folder, as after a restart of the process."""
    refresher = Refresher(load_config(None), StateDir(tmp_path / "state"))
    refresher.forecasts.max_fits = cap
    return refresher


def test_a_restart_serves_every_forecast_it_had_with_identical_values_and_no_fit(first, tmp_path):
    before, forecasts = first
    with_model = [name for name, text in forecasts.items() if text != "None"]
    # Every budget but commitments, which holds only purchases, has a forecast.
    assert before.forecasts.fits == len(forecasts) and len(with_model) == 9
    again = restart(tmp_path)
    assert forecasts_of(again) == forecasts
    assert again.forecasts.fits == 0
    assert again.snapshot(AT).forecasts_waiting == ()
    # The provider read again gives the same days: the kept models still serve.
    again.refresh(AT + timedelta(minutes=5), list(again.providers))
    forecasts_of(again, AT + timedelta(minutes=5))
    assert again.forecasts.fits == 0


def test_a_new_day_of_data_refits_the_kept_models(first, tmp_path):
    _, forecasts = first
    again = restart(tmp_path)
    later = AT + timedelta(days=1)
    again.refresh(later, list(again.providers))
    forecasts_of(again, later)
    assert again.forecasts.fits == len(forecasts)


def test_a_kept_model_fit_on_other_days_is_fit_again_and_the_others_are_not(first, tmp_path):
    path = tmp_path / "state/forecasts.json"
    document = json.loads(path.read_text())
    document["entries"][0]["fingerprint"] = "0" * 64  # as if the data had changed since
    path.write_text(json.dumps(document))
    again = restart(tmp_path)
    forecasts_of(again)
    assert again.forecasts.fits == 1


def test_waiting_counts_only_the_budgets_neither_kept_nor_fit_in_this_evaluation(tmp_path):
    config = load_config(None)
    before = Refresher(config, StateDir(tmp_path / "state"))
    before.forecasts.max_fits = 3
    before.refresh(AT)
    assert len(before.snapshot(AT).forecasts_waiting) == len(config.budgets) - 3
    again = restart(tmp_path, cap=2)
    waiting = again.snapshot(AT).forecasts_waiting
    assert len(waiting) == len(config.budgets) - 3 - 2
    assert again.forecasts.fits == 2


@pytest.mark.parametrize(
    "payload",
    [
        b'{"format": 1, "entries": [{"key": "x"',  # torn by a crash mid-write
        b'{"format": 999, "entries": []}',  # written by another version
        b'{"format": 1, "entries": [{"key": "x", "model": {"mean": 3}}]}',  # wrong shape
        b"\xff\xfe not json",
    ],
    ids=["torn", "other format", "wrong shape", "not text"],
)
def test_damaged_kept_models_are_ignored_with_a_log_line_and_every_model_is_fit(
    first, tmp_path, caplog, payload
):
    _, forecasts = first
    (tmp_path / "state/forecasts.json").write_bytes(payload)
    with caplog.at_level(logging.WARNING):
        again = restart(tmp_path)
    assert any("ignoring kept forecast models" in r.getMessage() for r in caplog.records)
    assert forecasts_of(again) == forecasts
    assert again.forecasts.fits == len(forecasts)
