"""The demo provider: deterministic, up to now, and telling the same story on any date."""

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from budget_exporter.config.loader import demo_config_path, parse_config
from budget_exporter.model.costs import CostData
from budget_exporter.providers.base import ProviderContext
from budget_exporter.providers.cost.demo import DemoConfig, DemoProvider
from budget_exporter.service.refresh import Refresher

NOW = datetime(2025, 6, 18, 14, 30, tzinfo=UTC)


def fetch(now: datetime, zone: str = "UTC", **settings) -> CostData:
    """One fetch of a fresh demo provider (45 days of history unless told, to stay quick)."""
    config = DemoConfig.model_validate({"type": "demo", "history_days": 45, **settings})
    context = ProviderContext(timezone=zone, currency="USD", base_dir=".")
    return DemoProvider("demo", config, context).fetch(now)


def test_the_same_now_gives_the_same_data():
    pd.testing.assert_frame_equal(fetch(NOW).frame, fetch(NOW).frame)


def test_another_seed_gives_other_data():
    first, other = fetch(NOW).frame, fetch(NOW, seed=8).frame
    assert len(first) == len(other)
    assert not first["cost"].equals(other["cost"])


def test_past_days_stay_the_same_during_a_day():
    morning = fetch(NOW.replace(hour=9)).frame
    evening = fetch(NOW.replace(hour=18)).frame
    today = pd.Timestamp(NOW.replace(hour=0, minute=0))
    past_morning = morning[morning["start"] < today].reset_index(drop=True)
    past_evening = evening[evening["start"] < today].reset_index(drop=True)
    pd.testing.assert_frame_equal(past_morning, past_evening)


@pytest.mark.parametrize(
    "now",
    [
        datetime(2025, 6, 18, 14, 30, tzinfo=UTC),
        datetime(2024, 3, 1, 0, 10, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, tzinfo=UTC),
    ],
    ids=["in the afternoon", "ten minutes into a month", "a minute before the new year"],
)
def test_data_reaches_now_and_never_beyond(now):
    data = fetch(now)
    assert data.data_end == now
    assert data.frame["end"].max() == pd.Timestamp(now)
    assert (data.frame["start"] <= pd.Timestamp(now)).all()
    assert (data.frame["end"] >= data.frame["start"]).all()


def test_history_goes_back_the_configured_number_of_days():
    data = fetch(NOW, history_days=30)
    assert data.frame["start"].min() == pd.Timestamp(NOW.replace(hour=0, minute=0)) - pd.Timedelta(
        days=30
    )


def test_there_are_several_services_teams_and_charge_kinds():
    frame = fetch(NOW).frame
    assert frame["ServiceName"].nunique() >= 6
    assert set(frame["tags.team"].astype(str)) == {"platform", "data", "web", "ml"}
    assert set(frame["tags.environment"].astype(str)) == {"prod", "dev"}
    assert set(frame["charge_category"].astype(str)) == {"usage", "purchase", "credit"}
    assert set(frame["currency"].astype(str)) == {"USD"}


def test_weekends_cost_less_than_weekdays():
    frame = fetch(NOW).frame
    usage = frame[frame["charge_category"] == "usage"]
    days = usage.groupby(usage["start"].dt.date)["cost"].sum().iloc[:-1]
    weekend = days[[day.weekday() >= 5 for day in days.index]].mean()
    weekday = days[[day.weekday() < 5 for day in days.index]].mean()
    assert weekend < 0.95 * weekday


def test_a_day_in_another_time_zone_starts_at_local_midnight():
    frame = fetch(NOW, zone="Asia/Tokyo", history_days=2).frame
    starts = {moment.time() for moment in frame["start"].dt.tz_convert("Asia/Tokyo")}
    assert starts == {datetime.min.time()}


DATES = [
    datetime(2024, 2, 1, 6, tzinfo=UTC),
    datetime(2024, 2, 15, 12, tzinfo=UTC),
    datetime(2024, 2, 28, 18, tzinfo=UTC),
    datetime(2024, 2, 29, 9, tzinfo=UTC),
    datetime(2025, 6, 1, 0, 30, tzinfo=UTC),
    datetime(2025, 6, 15, 3, tzinfo=UTC),
    datetime(2025, 6, 28, 23, tzinfo=UTC),
    datetime(2026, 11, 1, 1, tzinfo=UTC),
    datetime(2026, 11, 15, tzinfo=UTC),
    datetime(2026, 11, 28, 12, tzinfo=UTC),
    datetime(2026, 12, 28, 20, tzinfo=UTC),
]


@pytest.fixture(scope="module")
def demo_config():
    """The bundled demo config with 120 days of history instead of 400, to stay quick."""
    # 120 days still feed every budget and forecast the story depends on.
    text = demo_config_path().read_text(encoding="utf-8")
    assert "seed: 7," in text
    return parse_config(text.replace("seed: 7,", "seed: 7, history_days: 120,"), "demo.yml")


@pytest.mark.parametrize("now", DATES, ids=[f"on {now:%Y-%m-%d %H:%M}" for now in DATES])
def test_the_demo_story_holds_on_any_date(demo_config, now):
    refresher = Refresher(demo_config)
    refresher.refresh(now)
    statuses = {entry.status.name: entry.status for entry in refresher.snapshot(now).budgets}

    ml = statuses["ml-platform"]
    assert ml.burn_rates["period"] > 1.0
    assert ml.projected_exhaustion is not None
    assert ml.projected_exhaustion < ml.period.end

    # The first-of-month purchase of 3100 is a planned step: in the spend, not in the pace.
    commitments = statuses["commitments"]
    assert commitments.spend == pytest.approx(3100.0)
    assert commitments.step_spend == pytest.approx(3100.0)
    assert commitments.projected_exhaustion is None
    assert set(commitments.burn_rates.values()) == {0.0}
    # The organization pays it too, and its pace is its usage alone.
    organization = statuses["organization"]
    # The monthly support credit (-120) is a step as well.
    assert organization.step_spend == pytest.approx(3100.0 - 120.0)
    assert organization.burn_rates["period"] < 1.0

    # The others stay within their limit at their period-to-date pace.
    for name in ("platform", "data", "web"):
        assert statuses[name].projected_exhaustion is None, name
        assert statuses[name].utilization < 1.0, name


def test_the_story_moves_from_day_to_day(demo_config):
    # A fresh refresher a day later shows more spend: the demo is live, not frozen.
    first, later = Refresher(demo_config), Refresher(demo_config)
    first.refresh(NOW)
    later.refresh(NOW + timedelta(days=1))
    spend_now = {e.status.name: e.status.spend for e in first.snapshot(NOW).budgets}
    spend_later = {
        e.status.name: e.status.spend for e in later.snapshot(NOW + timedelta(days=1)).budgets
    }
    assert spend_later["organization"] > spend_now["organization"]
    assert spend_later["ml-platform"] > spend_now["ml-platform"]
