"""The background refresh loop of ExporterService: it survives failures and gives up the lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from budget_exporter.config.loader import parse_config
from budget_exporter.service.state import StateDir
from budget_exporter.service.wsgi import ExporterService

CONFIG = """
providers:
  costs: {type: csv, paths: [costs.csv]}
budgets:
  - {name: onprem, amount: 100, period: monthly, provider: costs}
"""


def service_in(tmp_path: Path) -> ExporterService:
    config = parse_config(CONFIG, str(tmp_path / "config.yml"), str(tmp_path))
    return ExporterService(config, tmp_path / "state")


def test_the_loop_goes_on_when_the_refresher_cannot_be_built(tmp_path, monkeypatch):
    service = service_in(tmp_path)
    rounds = []

    def broken() -> None:
        raise RuntimeError("cannot build the refresher")

    def wait(seconds: float) -> bool:
        rounds.append(seconds)
        if len(rounds) == 3:
            service._stop.set()
        return service._stop.is_set()

    monkeypatch.setattr(service, "_refresher", broken)
    monkeypatch.setattr(service._stop, "wait", wait)
    service._run()  # returns once stopped instead of dying on the first failure
    assert len(rounds) == 3
    assert all(seconds > 1 for seconds in rounds)  # a retry delay, not a tight loop


class _Fatal(BaseException):
    pass


def test_a_loop_that_dies_releases_the_refresh_lock(tmp_path, monkeypatch):
    service = service_in(tmp_path)

    def fatal(now, next_evaluation):
        raise _Fatal

    monkeypatch.setattr(service, "step", fatal)
    with pytest.raises(_Fatal):
        service._run()
    other = StateDir(tmp_path / "state")
    assert other.try_lead()  # another worker can take over
    other.release()
