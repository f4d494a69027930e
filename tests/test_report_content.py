"""The report a person reads carries what the JSON view has, and the API serves one SLO.

Checked on the demo as of a fixed moment: the text and CSV report hold the period's days, the
average and ideal daily spend, the threshold levels, the top breakdown values, and for SLOs the
incidents and the consumption by category; one ideal daily rate everywhere.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from budget_exporter.cli.commands import main
from budget_exporter.config.loader import load_config
from budget_exporter.service.refresh import Refresher
from budget_exporter.views.api import JsonApi
from budget_exporter.views.report import render_csv, render_text
from budget_exporter.views.snapshot_json import snapshot_json

AT = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    refresher = Refresher(load_config(None))
    refresher.refresh(AT)
    return snapshot_json(refresher.snapshot(AT))


def _budget(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(item for item in data["budgets"] if item["name"] == name)


def test_the_text_report_has_the_period_levels_and_top_values(data):
    text = render_text(data)
    web = _budget(data, "web")
    block = text.split("\nweb  ")[1].split("\n\n")[0]
    # 19.5 days of November's 30 have passed at noon on the 20th.
    assert "day 19.5 of 30, 10.5 days left" in block
    assert f"{web['average_daily_spend']:,.2f} a day so far" in block
    assert f"at most {web['ideal_daily_spend']:,.2f} a day ends it at the limit" in block
    assert re.search(r"levels    notice 75%(?: reached)?, warning 90%", block)
    first = web["breakdown"]["ServiceName"][0]
    assert f"top       ServiceName: {first['value']} {first['spend']:,.2f}" in block


def test_the_text_report_gives_an_slos_incidents_and_categories(data):
    text = render_text(data)
    slo = next(item for item in data["slos"] if item["name"] == "checkout-availability")
    block = text.split("\ncheckout-availability  ")[1].split("\n\n")[0]
    assert (
        f"incidents {slo['window_incidents']} in the window, {slo['open_incidents']} open" in block
    )
    for item in slo["consumed_by_category"]:
        assert item["category"] in block.split("by category:")[1]


def test_the_csv_report_has_the_same_figures(data):
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(render_csv(data)))}
    web = _budget(data, "web")
    assert float(rows["web"]["days_elapsed"]) == pytest.approx(19.5)
    assert float(rows["web"]["days_remaining"]) == pytest.approx(10.5)
    assert float(rows["web"]["ideal_daily_spend"]) == pytest.approx(web["ideal_daily_spend"])
    reached = [s for s, level in web["thresholds"].items() if level["reached"]]
    assert rows["web"]["thresholds_reached"] == ";".join(reached)
    assert rows["web"]["top_values"].startswith("ServiceName=")
    slo = rows["checkout-availability"]
    assert int(slo["incidents"]) >= int(slo["open_incidents"]) >= 0
    assert "incident:" in slo["consumed_by_category"]


def test_the_pace_advice_names_the_ideal_daily_rate_the_api_gives(data):
    ml = _budget(data, "ml-platform")
    advice = next(item for item in ml["recommendations"] if item["recommendation"] == "reduce_pace")
    assert f"at most {ml['ideal_daily_spend']:,.2f} a day from now" in advice["message"]


def test_report_slo_shows_that_slo_alone(capsys):
    code = main(["report", "--slo", "checkout-availability", "--at", AT.isoformat()])
    out = capsys.readouterr().out
    assert code == 0
    assert "checkout-availability  (SLO" in out
    assert "organization" not in out and "search-availability" not in out
    assert main(["report", "--slo", "nope", "--at", AT.isoformat()]) == 2


def test_the_api_serves_one_slo(data):
    api = JsonApi(lambda: data)
    seen: dict[str, Any] = {}

    def start(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"] = status

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/api/v1/slos/checkout-availability"}
    body = json.loads(b"".join(api(environ, start)))
    assert seen["status"] == "200 OK"
    assert body["name"] == "checkout-availability"
    environ["PATH_INFO"] = "/api/v1/slos/nope"
    b"".join(api(environ, start))
    assert seen["status"] == "404 Not Found"
