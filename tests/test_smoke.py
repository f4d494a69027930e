"""The demo config evaluates end to end."""

from datetime import UTC, datetime

from budget_exporter.config.loader import load_config
from budget_exporter.metrics.exposition import render
from budget_exporter.service.refresh import Refresher


def test_demo_config_renders_every_budget():
    config = load_config(None)
    refresher = Refresher(config)
    now = datetime(2026, 3, 15, 12, tzinfo=UTC)
    refresher.refresh(now)
    text = render(refresher.snapshot(now)).decode()
    for budget in config.budgets:
        assert f'budget_limit{{budget="{budget.name}"' in text
