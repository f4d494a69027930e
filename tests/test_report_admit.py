"""The admission check and the report: pure verdicts, then the ``admit`` and ``report`` commands."""

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from budget_exporter.cli import report as cli_report
from budget_exporter.cli.commands import main
from budget_exporter.config.loader import load_config
from budget_exporter.money.admission import Verdict, admit
from budget_exporter.service.wsgi import ExporterService
from budget_exporter.views.report import bar, render_report


@pytest.mark.parametrize(
    ("amount", "forecast", "verdict", "after"),
    [
        (7.0, None, Verdict.ADMIT, 1.0),
        (8.0, None, Verdict.ADMIT, 0.0),
        (8.01, None, Verdict.REJECT, -0.01),
        (7.0, 93.0, Verdict.ADMIT, 1.0),
        (7.0, 94.0, Verdict.FORECAST_OVERRUN, 1.0),
        (9.0, 50.0, Verdict.REJECT, -1.0),
    ],
    ids=[
        "below the remaining 8.00 it fits",
        "exactly the remaining 8.00 fits",
        "a cent above the remaining is refused",
        "a forecast total that still fits with it admits",
        "a forecast total that overruns with it is flagged",
        "not fitting now is a refusal whatever the forecast",
    ],
)
def test_a_planned_spend_against_the_remaining_budget(amount, forecast, verdict, after):
    # Limit 100, spent 92: 8.00 remain.
    result = admit("ci", amount, 100.0, 92.0, forecast, "USD")
    assert result.verdict is verdict
    assert result.remaining_after == pytest.approx(after)
    assert result.as_json()["admitted"] is (verdict is Verdict.ADMIT)


def test_the_reasons_say_what_remains():
    assert admit("ci", 8.0, 100.0, 92.0, None, "USD").reason == (
        "8.00 USD fits: 8.00 USD remain of budget ci, 0.00 after it"
    )
    assert admit("ci", 9.0, 100.0, 92.0, None, "USD").reason == (
        "9.00 USD does not fit: 8.00 USD remain of budget ci (92.00 spent of 100.00)"
    )


def test_verdicts_map_to_exit_codes_and_http_statuses():
    assert [(v.exit_code, v.http_status) for v in Verdict] == [
        (0, "200 OK"),
        (1, "409 Conflict"),
        (3, "409 Conflict"),
    ]


def test_a_negative_amount_is_refused():
    with pytest.raises(ValueError, match="at least 0"):
        admit("ci", -1.0, 100.0, 0.0, None, "USD")


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [(0.0, "[----]"), (0.5, "[##--]"), (1.0, "[####]"), (1.3, "[####]!"), (None, "[????]")],
    ids=["empty", "half", "full", "over the limit is marked", "unknown"],
)
def test_the_utilization_bar(ratio, expected):
    assert bar(ratio, width=4) == expected


CONFIG = """
timezone: UTC
providers:
  costs: {type: csv, paths: [costs.csv], dimensions: [ServiceName]}
budgets:
  - {name: team, amount: 400, period: monthly}
  - {name: auto, amount: {auto: last_period}, period: monthly}
"""
AT = "2026-04-16T00:00:00Z"


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """A CSV provider with 10 a day on EC2 from April 1 to 15, 2026; budgets of 400 a month."""
    rows = [f"2026-04-{day:02d},10,EC2" for day in range(1, 16)]
    (tmp_path / "costs.csv").write_text("date,cost,ServiceName\n" + "\n".join(rows) + "\n")
    path = tmp_path / "config.yml"
    path.write_text(CONFIG)
    return path


@pytest.mark.parametrize(
    ("amount", "code", "verdict"),
    [("50", 0, "admit"), ("250", 3, "forecast_overrun"), ("250.01", 1, "reject")],
    ids=[
        "50 fits the remaining 250 and the forecast of about 300",
        "exactly the remaining 250 fits now but overruns the forecast",
        "a cent above the remaining 250 is refused",
    ],
)
def test_admit_answers_with_its_exit_code(config_file, capsys, amount, code, verdict):
    args = ["admit", "--config.file", str(config_file), "--budget", "team", "--amount", amount]
    assert main([*args, "--at", AT]) == code
    assert capsys.readouterr().out.startswith(f"{verdict}: ")


@pytest.mark.parametrize(
    ("budget", "amount", "code", "message"),
    [
        ("nope", "1", 2, "unknown budget 'nope'; budgets: auto, team"),
        ("auto", "1", 4, "budget 'auto' has no figures yet"),
    ],
    ids=[
        "an unknown budget is a usage error naming the budgets",
        "an auto budget without history cannot answer",
    ],
)
def test_admit_cannot_answer_without_a_budget_to_check(
    config_file, capsys, budget, amount, code, message
):
    args = ["admit", "--config.file", str(config_file), "--budget", budget, "--amount", amount]
    assert main([*args, "--at", AT]) == code
    assert message in capsys.readouterr().err


def test_admit_refuses_an_amount_that_is_not_a_number(config_file, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["admit", "--config.file", str(config_file), "--budget", "team", "--amount", "lots"])
    assert exited.value.code == 2
    assert "'lots' is not a number such as 8.00" in capsys.readouterr().err


def test_the_text_report_shows_spend_bar_burn_forecast_and_variance(config_file, capsys):
    assert main(["report", "--config.file", str(config_file), "--budget", "team", "--at", AT]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Budgets and SLOs at 2026-04-16 00:00 UTC (money in USD)"
    assert lines[2] == "team  (monthly 2026-04, amount fixed)"
    # 150 of 400: 37.5% is 7.5 of 20 marks, rounded to 8.
    assert lines[3] == (
        "  spend     150.00 / 400.00 USD  [########------------] 38%  remaining 250.00"
    )
    assert lines[4].startswith("  burn rate 1d 0.75x  7d 0.75x  period 0.75x")
    assert lines[5].startswith("  forecast  ")
    assert "  variance  -50.00 USD (-25.0%) against 200.00 expected: under" in lines


def test_the_csv_and_json_reports_carry_the_same_figures(config_file, capsys):
    base = ["report", "--config.file", str(config_file), "--at", AT]
    assert main([*base, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert main([*base, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (row,) = rows  # the auto budget has no history yet: it is left out
    (budget,) = data["budgets"]
    assert (row["kind"], row["name"], row["period"], row["unit"]) == (
        "budget",
        "team",
        "2026-04",
        "USD",
    )
    assert float(row["spend"]) == budget["spend"] == 150.0
    assert float(row["limit"]) == budget["limit"] == 400.0
    assert row["variance_category"] == budget["variance"]["category"] == "under"
    message = "resource ServiceName=EC2 is 100% of this budget's spend (above 50%); review it first"
    assert row["recommendations"] == budget["recommendations"][0]["message"] == message


def publish(config_file: Path, folder: Path) -> None:
    """What a running exporter's leader publishes in its state folder, as of AT."""
    service = ExporterService(load_config(str(config_file)), folder)
    service.step(datetime.fromisoformat(AT), datetime.min.replace(tzinfo=UTC))


@pytest.fixture
def fetches(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Each fresh evaluation of the commands (each one calls every provider), run as of AT."""
    calls: list[Any] = []
    real = cli_report.evaluate_now

    def counted(config: Any, now: datetime) -> dict[str, Any]:
        calls.append(config)
        return real(config, datetime.fromisoformat(AT))

    monkeypatch.setattr(cli_report, "evaluate_now", counted)
    return calls


def test_report_and_admit_answer_from_the_published_snapshot_without_fetching(
    config_file, tmp_path, capsys, fetches
):
    state = tmp_path / "state"
    publish(config_file, state)
    (tmp_path / "costs.csv").unlink()  # the provider is never read again
    admit = ["admit", "--config.file", str(config_file), "--state.dir", str(state)]
    assert main([*admit, "--budget", "team", "--amount", "250.01"]) == 1
    assert capsys.readouterr().out.startswith("reject: 250.01 USD does not fit: 250.00 USD")
    assert main([*admit, "--budget", "team", "--amount", "50"]) == 0
    report = ["report", "--config.file", str(config_file), "--state.dir", str(state)]
    capsys.readouterr()
    assert main([*report, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"taken_at", "currency", "exchange_rates", "budgets", "slos"}
    assert data["taken_at"] == AT and [b["name"] for b in data["budgets"]] == ["team"]
    assert data["budgets"][0]["spend"] == 150.0
    assert main([*report, "--budget", "team"]) == 0
    assert "team  (monthly 2026-04, amount fixed)" in capsys.readouterr().out
    assert fetches == []


def test_report_and_admit_fetch_without_a_snapshot_or_when_asked(
    config_file, tmp_path, capsys, fetches
):
    state = tmp_path / "state"
    admit = ["admit", "--config.file", str(config_file), "--budget", "team", "--amount", "250.01"]
    assert main([*admit, "--state.dir", str(state)]) == 1  # nothing published: fetched once
    assert [[b.name for b in config.budgets] for config in fetches] == [["team"]]
    publish(config_file, state)
    # Newer costs the published snapshot does not have yet: --refresh reads them.
    (tmp_path / "costs.csv").write_text("date,cost,ServiceName\n2026-04-01,10,EC2\n")
    capsys.readouterr()
    assert main([*admit, "--state.dir", str(state), "--refresh"]) == 3  # fits 390, not forecast
    assert "fits the remaining 390.00 USD" in capsys.readouterr().out
    assert main(["report", "--config.file", str(config_file), "--state.dir", str(state)]) == 0
    assert "spend     150.00 / 400.00 USD" in capsys.readouterr().out  # the snapshot again
    assert (
        main(["report", "--config.file", str(config_file), "--state.dir", str(state), "--refresh"])
        == 0
    )
    assert "spend     10.00 / 400.00 USD" in capsys.readouterr().out
    assert len(fetches) == 3


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown report format 'xml'"):
        render_report({"taken_at": None, "currency": "USD", "budgets": [], "slos": []}, "xml")


def test_an_slo_reads_as_time_used_of_its_error_budget():
    slo = {
        "name": "api",
        "period": "30d",
        "objective": 0.999,
        "error_budget_seconds": 2592.0,
        "consumed_seconds": 1296.0,
        "remaining_seconds": 1296.0,
        "consumed_ratio": 0.5,
        "burn_rates": {"1h": 2.0, "period": 0.5},
        "projected_exhaustion": {"burn_rate": "2026-04-20T06:00:00Z"},
        "exhaustion_probability": {"30d": 0.25},
        "window_incidents": 2,
        "open_incidents": 1,
        "consumed_by_category": [
            {"category": "incident", "seconds": 972.0},
            {"category": "deployment", "seconds": 324.0},
        ],
    }
    data = {"taken_at": "2026-04-16T00:00:00Z", "currency": "USD", "budgets": [], "slos": [slo]}
    assert render_report(data, "text").splitlines()[2:] == [
        "api  (SLO 99.9% over 30d)",
        "  budget    22m used of 43m  [##########----------] 50%  remaining 22m",  # 21.6 minutes
        "  burn rate 1h 2.00x  period 0.50x",
        "  runs out  burn_rate: 2026-04-20 06:00 UTC",
        "  chance    25% to run out within 30d",
        "  incidents 2 in the window, 1 open; by category: incident 16m (75%), deployment 5m (25%)",
    ]
