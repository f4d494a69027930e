"""The Refresher: schedules, failures that keep the last good data, and provider health."""

import gzip
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from budget_exporter.config.loader import parse_config
from budget_exporter.metrics.exposition import SnapshotCollector
from budget_exporter.service.refresh import RETRY_AFTER_FAILURE, Refresher
from budget_exporter.service.state import StateDir

SAMPLE = Path(__file__).resolve().parents[2] / "shared/data/focus-1.0-sample/focus_sample.csv"
T1 = datetime(2024, 9, 20, 12, tzinfo=UTC)
T2 = T1 + timedelta(hours=2)
T3 = T2 + timedelta(hours=2)

CONFIG = """
refresh_interval: {interval}
providers:
  billing: {{type: focus, paths: ["billing/*.csv.gz"], settlement_lag: 2d}}
  costs: {{type: csv, paths: ["costs/*.csv"]}}
budgets:
  - {{name: cloud, amount: 100, period: monthly, provider: billing}}
  - {{name: onprem, amount: 100, period: monthly, provider: costs}}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A config folder: a gzip copy of the FOCUS sample and a small daily CSV."""
    (tmp_path / "billing").mkdir()
    with SAMPLE.open("rb") as source, gzip.open(tmp_path / "billing/sample.csv.gz", "wb") as out:
        shutil.copyfileobj(source, out)
    (tmp_path / "costs").mkdir()
    (tmp_path / "costs/days.csv").write_text(
        "date,cost\n2024-09-01,10\n2024-09-02,20\nbad,1\n2024-12-31,99\n", encoding="utf-8"
    )
    return tmp_path


def refresher_for(folder: Path, interval: str = "1h") -> Refresher:
    """A Refresher of the two-provider config, reading files under ``folder``."""
    text = CONFIG.format(interval=interval)
    return Refresher(parse_config(text, str(folder / "config.yml"), str(folder)))


def health_sample(refresher: Refresher, now: datetime, name: str, provider: str) -> float | None:
    """One provider health sample as served at ``now``."""
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(refresher.snapshot(now)))
    return registry.get_sample_value(name, {"provider": provider, "type": "focus"})


def spend_of(refresher: Refresher, now: datetime, budget: str) -> float:
    """A budget's spend in the snapshot at ``now``."""
    for entry in refresher.snapshot(now).budgets:
        if entry.status.name == budget:
            return entry.status.spend
    raise KeyError(budget)


@pytest.mark.skipif(not SAMPLE.exists(), reason="FOCUS sample data is not present")
def test_an_unreadable_file_keeps_the_last_good_data_served(folder):
    refresher = refresher_for(folder)
    refresher.refresh(T1)
    good = refresher.data["billing"]
    spend_before = spend_of(refresher, T1, "cloud")
    assert refresher.health["billing"].up
    assert spend_before > 0

    # The billing system rewrites the file, and the new one is not gzip at all.
    (folder / "billing/sample.csv.gz").write_bytes(b"this is not gzip data\n" * 10)
    refresher.refresh(T2, ["billing"])

    health = refresher.health["billing"]
    assert not health.up
    assert health.errors_total == 1
    assert health.last_success == T1
    assert health.last_attempt == T2
    assert health.last_error is not None
    assert str(folder / "billing/sample.csv.gz") in health.last_error
    assert refresher.data["billing"] is good
    assert spend_of(refresher, T2, "cloud") == pytest.approx(spend_before)
    assert health_sample(refresher, T2, "budget_exporter_provider_up", "billing") == 0.0
    assert health_sample(refresher, T2, "budget_exporter_provider_errors_total", "billing") == 1.0
    assert health_sample(
        refresher, T2, "budget_exporter_provider_last_success_timestamp_seconds", "billing"
    ) == pytest.approx(T1.timestamp())

    # A good file again: up, errors stay counted, the error is cleared.
    with SAMPLE.open("rb") as source, gzip.open(folder / "billing/sample.csv.gz", "wb") as out:
        shutil.copyfileobj(source, out)
    refresher.refresh(T3, ["billing"])
    health = refresher.health["billing"]
    assert (health.up, health.errors_total, health.last_error) == (True, 1, None)
    assert health.last_success == T3


def test_a_failing_provider_does_not_stop_the_others(folder):
    shutil.rmtree(folder / "billing")
    refresher = refresher_for(folder)
    refresher.refresh(T1)
    assert not refresher.health["billing"].up
    assert refresher.health["costs"].up
    # A provider that never delivered has no budget series: nothing true to report yet.
    budgets = {entry.status.name for entry in refresher.snapshot(T1).budgets}
    assert budgets == {"onprem"}


@pytest.mark.parametrize(
    ("interval", "retry"),
    [("1h", RETRY_AFTER_FAILURE), ("2m", timedelta(minutes=2))],
    ids=[
        "a failure is retried after five minutes rather than the hourly interval",
        "a failure is retried no later than the regular interval",
    ],
)
def test_a_failed_provider_is_retried_sooner_than_a_good_one(folder, interval, retry):
    shutil.rmtree(folder / "billing")
    refresher = refresher_for(folder, interval)
    assert refresher.due(T1) == ["billing", "costs"]
    refresher.refresh(T1)
    assert refresher.next_fetch["billing"] == T1 + retry
    assert refresher.next_fetch["costs"] == T1 + refresher.config.refresh_interval
    assert refresher.due(T1 + retry - timedelta(seconds=1)) == []
    assert "billing" in refresher.due(T1 + retry)


def test_health_reports_bad_rows_newest_data_and_settled_time(folder):
    refresher = refresher_for(folder)
    refresher.refresh(T1, ["costs"])
    health = refresher.health["costs"]
    # 31 December is months after now: a bad row, which must not make the data look current.
    assert health.bad_rows == 2
    assert health.rows == 2
    assert health.data_end == datetime(2024, 9, 3, tzinfo=UTC)
    # The csv provider keeps the default lag of three days.
    assert health.settled_through == datetime(2024, 8, 31, tzinfo=UTC)


@pytest.mark.skipif(not SAMPLE.exists(), reason="FOCUS sample data is not present")
def test_settled_time_is_the_newest_data_minus_the_settlement_lag(folder):
    refresher = refresher_for(folder)
    end_of_month = datetime(2024, 10, 15, tzinfo=UTC)
    refresher.refresh(end_of_month, ["billing"])
    health = refresher.health["billing"]
    # The sample's last hourly charge ends on 1 October 00:00; the lag is 2d.
    assert health.data_end == datetime(2024, 10, 1, tzinfo=UTC)
    assert health.settled_through == datetime(2024, 9, 29, tzinfo=UTC)


def test_a_refresh_only_fetches_providers_that_are_due(folder):
    refresher = refresher_for(folder)
    refresher.refresh(T1)
    first = refresher.data["costs"]
    refresher.refresh(T1 + timedelta(minutes=30))
    assert refresher.data["costs"] is first
    assert refresher.health["costs"].last_success == T1
    refresher.refresh(T1 + timedelta(hours=1))
    assert refresher.health["costs"].last_success == T1 + timedelta(hours=1)


def test_a_restart_serves_the_saved_data_without_fetching_again(folder):
    state = StateDir(folder / "state")
    config = parse_config(CONFIG.format(interval="1h"), str(folder / "c.yml"), str(folder))
    first = Refresher(config, state)
    first.refresh(T1, ["costs"])
    spend_before = spend_of(first, T1, "onprem")

    # The file changes, but a restarted exporter within the interval uses the saved data.
    (folder / "costs/days.csv").write_text("date,cost\n2024-09-01,1000\n", encoding="utf-8")
    restarted = Refresher(config, state)
    health = restarted.health["costs"]
    assert (health.up, health.last_success, health.rows, health.bad_rows) == (True, T1, 2, 2)
    assert restarted.next_fetch["costs"] == T1 + timedelta(hours=1)
    assert restarted.due(T1 + timedelta(minutes=30)) == ["billing"]
    assert spend_of(restarted, T1 + timedelta(minutes=30), "onprem") == pytest.approx(spend_before)


def test_saved_data_from_other_provider_settings_is_not_reused(folder):
    state = StateDir(folder / "state")
    config = parse_config(CONFIG.format(interval="1h"), str(folder / "c.yml"), str(folder))
    Refresher(config, state).refresh(T1, ["costs"])
    changed = CONFIG.format(interval="1h").replace('["costs/*.csv"]', '["costs/days.csv"]')
    restarted = Refresher(parse_config(changed, str(folder / "c.yml"), str(folder)), state)
    assert not restarted.health["costs"].up
    assert "costs" not in restarted.data
    assert "costs" in restarted.due(T1)


CUSTOM_CONFIG = """
providers:
  costs: {{type: csv, paths: ["costs/*.csv"]}}
budgets:
  - {{name: launch, amount: 100, period: custom, start: {start}, end: {end}, provider: costs}}
"""


@pytest.mark.parametrize(
    ("start", "end", "wiped_refused"),
    [("2024-09-01", "2024-09-30", True), ("2025-01-01", "2025-03-31", False)],
    ids=[
        "a running custom span checks a wiped answer against its own start",
        "a custom span that has not begun is not checked",
    ],
)
def test_a_custom_period_budget_keeps_its_provider_refreshing(folder, start, end, wiped_refused):
    text = CUSTOM_CONFIG.format(start=start, end=end)
    refresher = Refresher(parse_config(text, str(folder / "config.yml"), str(folder)))
    refresher.refresh(T1)
    refresher.refresh(T2, ["costs"])
    assert refresher.health["costs"].up
    assert refresher.health["costs"].errors_total == 0

    (folder / "costs/days.csv").write_text("date,cost\n", encoding="utf-8")
    refresher.refresh(T3, ["costs"])
    health = refresher.health["costs"]
    assert health.up is not wiped_refused
    if wiped_refused:
        assert "no cost data since 2024-09-01" in (health.last_error or "")


class _BrokenProvider:
    def __init__(self, provider):
        self.settings = provider.settings

    def fetch(self, now):
        raise RuntimeError("unexpected provider bug")

    def metrics(self):
        return {}


def test_an_unexpected_provider_exception_is_that_provider_failure_only(folder, caplog):
    refresher = refresher_for(folder)
    refresher.providers["billing"] = _BrokenProvider(refresher.providers["billing"])
    with caplog.at_level("ERROR", logger="budget_exporter.service.refresh"):
        refresher.refresh(T1)
    health = refresher.health["billing"]
    assert (health.up, health.errors_total, health.last_error) == (
        False,
        1,
        "unexpected provider bug",
    )
    assert refresher.next_fetch["billing"] == T1 + RETRY_AFTER_FAILURE
    assert refresher.health["costs"].up
    assert [entry.status.name for entry in refresher.snapshot(T1).budgets] == ["onprem"]
    failure = [record for record in caplog.records if "billing" in record.getMessage()]
    assert failure and failure[0].exc_info is not None


@pytest.mark.parametrize(
    "damage",
    [
        {"bad_row_examples": [["only", "two"]]},
        {"bad_row_examples": 5},
        {"bad_rows": "many"},
        {"data_end": 42},
        {"data_end": "2024-09-20T12:00:00"},
        {"last_success": None},
        {"last_success": "2024-09-20T12:00:00"},
        {"duration_seconds": [1]},
    ],
    ids=[
        "a bad row example of the wrong length",
        "bad row examples that are not a list",
        "a bad row count that is not a number",
        "a data end that is not a time",
        "a data end without UTC offset",
        "no last success",
        "a last success without UTC offset",
        "a duration that is not a number",
    ],
)
def test_a_state_record_of_the_wrong_shape_is_dropped(folder, caplog, damage):
    state = StateDir(folder / "state")
    config = parse_config(CONFIG.format(interval="1h"), str(folder / "c.yml"), str(folder))
    Refresher(config, state).refresh(T1, ["costs"])
    path = folder / "state/providers/costs.json"
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, **damage}))
    with caplog.at_level("WARNING"):
        restarted = Refresher(config, state)
    assert "costs" not in restarted.data
    assert not restarted.health["costs"].up
    assert "costs" in restarted.due(T1)
    assert any("costs" in record.getMessage() for record in caplog.records)


def test_cached_data_is_not_reused_once_the_exchange_rates_change(folder):
    state = StateDir(folder / "state")
    text = "currency: USD\nexchange_rates: {EUR: 1.1}\n" + CONFIG.format(interval="1h")
    config = parse_config(text, str(folder / "c.yml"), str(folder))
    Refresher(config, state).refresh(T1, ["costs"])
    assert "costs" in Refresher(config, state).data
    changed = parse_config(text.replace("1.1", "1.2"), str(folder / "c.yml"), str(folder))
    restarted = Refresher(changed, state)
    assert "costs" not in restarted.data
    assert "costs" in restarted.due(T1)


def test_one_shot_commands_fit_every_forecast_where_a_server_caps_each_evaluation():
    from datetime import UTC, datetime

    from budget_exporter.config.loader import load_config
    from budget_exporter.evaluation.forecast_cache import ForecastCache

    at = datetime(2026, 11, 20, 12, tzinfo=UTC)
    config = load_config(None)
    capped = Refresher(config)
    capped.forecasts = ForecastCache(2)  # a server's cap, made small
    capped.refresh(at)
    waiting = capped.snapshot(at).forecasts_waiting
    assert len(waiting) == len(config.budgets) - 2
    one_shot = Refresher(config, fit_every_forecast=True)
    one_shot.refresh(at)
    snapshot = one_shot.snapshot(at)
    assert snapshot.forecasts_waiting == ()
    # Every budget with usage to forecast has one (commitments holds only purchases).
    without = {entry.status.name for entry in snapshot.budgets if entry.forecast is None}
    assert without == {"commitments"}
