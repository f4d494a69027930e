"""Fitted forecast models kept in the state folder: a restart serves them without fitting."""

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from budget_exporter.config.loader import load_config
from budget_exporter.evaluation import forecast_cache
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
    # As if its days had changed since: neither its days nor what they came from match.
    document["entries"][0]["fingerprint"] = "0" * 64
    document["entries"][0]["shortcut"] = "0" * 64
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


COSTS_CONFIG = """
timezone: UTC
providers:
  costs: {type: csv, paths: [costs.csv], currency: USD, dimensions: [service]}
budgets:
  - {name: alpha, amount: AMOUNT, period: monthly, filter: {service: a}}
  - {name: beta, amount: 900, period: monthly, filter: {service: b}}
"""


def write_costs(folder: Path, beta_on_november_10: float = 7.0, amount: int = 800) -> Path:
    """60 days of two services' daily costs up to AT's day, and a config of one budget each."""
    lines = ["date,service,cost"]
    for day in range(60):
        moment = (AT - timedelta(days=59 - day)).date()
        beta = beta_on_november_10 if moment.isoformat() == "2026-11-10" else 7.0
        lines += [f"{moment},a,{10 + day % 7}", f"{moment},b,{beta}"]
    (folder / "costs.csv").write_text("\n".join(lines) + "\n")
    config = folder / "config.yml"
    config.write_text(COSTS_CONFIG.replace("AMOUNT", str(amount)))
    return config


def counting_checks(monkeypatch) -> list[str]:
    """The budgets whose days the forecast cache computes, one name per computation."""
    computed: list[str] = []
    real = forecast_cache._inputs

    def counted(spec, *args):
        computed.append(spec.name)
        return real(spec, *args)

    monkeypatch.setattr(forecast_cache, "_inputs", counted)
    return computed


def start(folder: Path, at: datetime) -> Refresher:
    """A process's start over ``folder``'s state: its due providers read, one evaluation."""
    refresher = Refresher(load_config(str(folder / "config.yml")), StateDir(folder / "state"))
    refresher.refresh(at)
    return refresher


def test_a_restart_on_the_data_the_models_were_fit_on_serves_them_without_computing_days(
    tmp_path, monkeypatch
):
    write_costs(tmp_path)
    forecasts = forecasts_of(start(tmp_path, AT))
    computed = counting_checks(monkeypatch)
    again = start(tmp_path, AT + timedelta(hours=2))  # read again: the same bytes
    assert forecasts_of(again) == forecasts
    assert computed == [] and again.forecasts.fits == 0


def test_a_restart_after_the_data_changed_checks_each_model_on_its_days(tmp_path, monkeypatch):
    write_costs(tmp_path)
    forecasts = forecasts_of(start(tmp_path, AT))
    write_costs(tmp_path, beta_on_november_10=70.0)  # a settled day of beta restated
    computed = counting_checks(monkeypatch)
    later = AT + timedelta(hours=2)
    again = start(tmp_path, later)
    changed = forecasts_of(again)
    # alpha's days are the same: its kept model serves; beta's changed: fit again.
    assert sorted(computed) == ["alpha", "beta"] and again.forecasts.fits == 1
    assert changed["alpha"] == forecasts["alpha"] and changed["beta"] != forecasts["beta"]
    # alpha was found good for this data, so the next restart on it takes it at once.
    computed.clear()
    third = start(tmp_path, later + timedelta(hours=2))
    assert forecasts_of(third) == changed
    assert computed == [] and third.forecasts.fits == 0


def test_a_restart_with_another_config_checks_each_model_on_its_days(tmp_path, monkeypatch):
    write_costs(tmp_path)
    forecasts = forecasts_of(start(tmp_path, AT))
    write_costs(tmp_path, amount=850)  # the same days, another limit
    computed = counting_checks(monkeypatch)
    again = start(tmp_path, AT + timedelta(hours=2))
    beta = forecasts_of(again)["beta"]
    assert sorted(computed) == ["alpha", "beta"] and again.forecasts.fits == 0
    assert beta == forecasts["beta"]


def test_a_restart_whose_kept_frame_file_was_damaged_checks_each_model(tmp_path, monkeypatch):
    write_costs(tmp_path)
    before = start(tmp_path, AT)
    forecasts_of(before)
    # A frame file whose bytes are not those written (yet still a readable frame).
    frame = next((tmp_path / "state" / "providers").glob("costs.*.parquet"))
    data = before.data["costs"].frame
    data.assign(cost=data["cost"] * 2).to_parquet(frame, index=False)
    computed = counting_checks(monkeypatch)
    again = Refresher(load_config(str(tmp_path / "config.yml")), StateDir(tmp_path / "state"))
    forecasts_of(again)  # served from the kept data, not read again
    assert sorted(computed) == ["alpha", "beta"] and again.forecasts.fits == 2
