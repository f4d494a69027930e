"""Budget templates: one budget per value of a dimension, made from the period's data.

Hand-computed on September 10, 12:00 (9.5 days of September): teams web (30 a day), data (20),
ml (10) and ops (5) spend from August on; the template keeps the largest two, and the rest
share team-other.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from budget_exporter.cli.commands import main
from budget_exporter.config.loader import parse_config
from budget_exporter.evaluation.evaluate import evaluate
from budget_exporter.model.costs import CostData, normalize
from budget_exporter.model.errors import ConfigError

NOW = datetime(2024, 9, 10, 12, tzinfo=UTC)
AUGUST = datetime(2024, 8, 1, tzinfo=UTC)
TEAMS = {"web": 30.0, "data": 20.0, "ml": 10.0, "ops": 5.0}


def _frame(teams: dict[str, float], days: int = 41) -> pd.DataFrame:
    rows = [
        {
            "start": AUGUST + timedelta(days=d),
            "end": AUGUST + timedelta(days=d + 1),
            "cost": cost,
            "currency": "USD",
            "charge_category": "usage",
            "tags.team": team,
            "ServiceName": "EC2",
        }
        for d in range(days)
        for team, cost in teams.items()
    ]
    return normalize(pd.DataFrame(rows))


CONFIG = """
providers:
  cloud: {type: demo}
budgets:
  - name: team-{value}
    for_each: tags.team
    amount: 500
    amounts: {web: 900}
    max_budgets: 2
    period: monthly
    thresholds: {warning: 0.8}
    labels: {team: "{value}", owner: finops}
"""


def _statuses(config_text: str, frame: pd.DataFrame):
    config = parse_config(config_text)
    snapshot = evaluate(config, {"cloud": CostData(frame=frame, data_end=NOW)}, (), NOW)
    return {entry.status.name: entry for entry in snapshot.budgets}


def test_a_template_makes_one_budget_per_value_the_largest_first_and_the_rest_as_other():
    made = _statuses(CONFIG, _frame(TEAMS))
    assert set(made) == {"team-web", "team-data", "team-other"}
    assert made["team-web"].status.spend == pytest.approx(30 * 9.5)
    assert made["team-data"].status.spend == pytest.approx(20 * 9.5)
    assert made["team-other"].status.spend == pytest.approx((10 + 5) * 9.5)
    # Amounts per value, the template's otherwise; thresholds and labels inherited.
    assert made["team-web"].status.limit == 900.0
    assert made["team-data"].status.limit == 500.0
    assert made["team-web"].status.thresholds == {"warning": 0.8}
    assert made["team-web"].labels == {"team": "web", "owner": "finops"}
    assert made["team-other"].labels == {"team": "other", "owner": "finops"}


def test_without_other_the_values_beyond_the_bound_get_no_budget():
    made = _statuses(
        CONFIG.replace("max_budgets: 2", "max_budgets: 2\n    other: false"), _frame(TEAMS)
    )
    assert set(made) == {"team-web", "team-data"}


def test_a_value_that_stops_spending_keeps_its_budget_until_the_period_ends():
    # ml stops on September 3rd: it spent this month, so it keeps its budget in September.
    frame = pd.concat([_frame({"web": 30.0}), _frame({"ml": 10.0}, days=33)], ignore_index=True)
    made = _statuses(CONFIG.replace("max_budgets: 2", "max_budgets: 10"), frame)
    assert set(made) == {"team-web", "team-ml"}
    assert made["team-ml"].status.spend == pytest.approx(10 * 2)
    october = datetime(2024, 10, 2, tzinfo=UTC)
    config = parse_config(CONFIG.replace("max_budgets: 2", "max_budgets: 10"))
    later = evaluate(config, {"cloud": CostData(frame=frame, data_end=october)}, (), october)
    assert {entry.status.name for entry in later.budgets} == set()  # no spend in October yet


def test_a_configured_budget_of_the_same_name_wins_over_the_template():
    text = CONFIG + "  - {name: team-web, amount: 100, period: monthly}\n"
    made = _statuses(text, _frame(TEAMS))
    assert made["team-web"].status.limit == 100.0


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ("{name: team, for_each: tags.team, amount: 1, period: monthly}", "needs {value}"),
        ("{name: 'team-{value}', amount: 1, period: monthly}", "need for_each"),
        ("{name: 'team {value}', for_each: tags.team, amount: 1, period: monthly}", "pattern"),
    ],
)
def test_a_template_is_checked_before_anything_runs(budget, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(f"providers:\n  cloud: {{type: demo}}\nbudgets:\n  - {budget}\n")


def test_a_template_cannot_be_a_parent():
    text = CONFIG + "  - {name: child, amount: 1, period: monthly, parent: 'team-{value}'}\n"
    with pytest.raises(ConfigError, match="is a template"):
        parse_config(text)


def test_check_lists_the_budgets_a_template_made(tmp_path, capsys):
    lines = ["date,cost,team"]
    for d in range(40):
        day = (AUGUST + timedelta(days=d)).date()
        lines += [f"{day},30,web", f"{day},10,data"]
    (tmp_path / "costs.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "config.yml").write_text(
        "providers:\n  bill: {type: csv, paths: [costs.csv], dimensions: {tags.team: team}}\n"
        "budgets:\n  - {name: 'team-{value}', for_each: tags.team, amount: 500, period: monthly}\n",
        encoding="utf-8",
    )
    code = main(["check", "--config.file", str(tmp_path / "config.yml"), "--at", NOW.isoformat()])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "template team-{value}: 2 budget(s): team-web, team-data" in out


def test_admit_answers_for_a_budget_a_template_made(tmp_path, capsys):
    lines = ["date,cost,team"]
    for d in range(40):
        day = (AUGUST + timedelta(days=d)).date()
        lines += [f"{day},30,web", f"{day},10,data"]
    (tmp_path / "costs.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "config.yml").write_text(
        "providers:\n  bill: {type: csv, paths: [costs.csv], dimensions: {tags.team: team}}\n"
        "budgets:\n"
        "  - {name: 'team-{value}', for_each: tags.team, amount: 2000, period: monthly}\n",
        encoding="utf-8",
    )
    config = str(tmp_path / "config.yml")
    at = ["--at", NOW.isoformat()]
    # The data ends on September 9th: team-web has spent 30 x 9 = 270 of 2000.
    assert (
        main(["admit", "--config.file", config, "--budget", "team-web", "--amount", "200", *at])
        == 0
    )
    assert "1,730.00 USD remain" in capsys.readouterr().out
    assert (
        main(["admit", "--config.file", config, "--budget", "team-web", "--amount", "1800", *at])
        == 1
    )
    assert (
        main(["admit", "--config.file", config, "--budget", "team-nope", "--amount", "1", *at]) == 2
    )
