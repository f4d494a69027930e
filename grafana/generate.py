"""Builds the provisioned Grafana dashboards in grafana/dashboards/ from code.

The dashboards are written with grafana-foundation-sdk (Grafana's published dashboard model, the
way mixins use grafonnet), one module per dashboard in grafana/builders/ on the shared panel
builders of grafana/builders/panels.py; their alert factors and levels come from mixin/, which
the rules of rules/ read too. After changing a panel, regenerate and commit the JSON::

    .venv/bin/python grafana/generate.py            # writes grafana/dashboards/*.json
    .venv/bin/python grafana/generate.py --check    # exit 1 when the committed JSON is stale

tests/test_dashboards.py regenerates the dashboards and fails when they differ from the committed
files, then runs every query against a real Prometheus that scraped the real exporter.

Money is shown in the reporting currency (``--currency-unit``, a Grafana unit id such as
``currencyEUR``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# grafana/ and mixin/ are folders of the repository, not installed packages.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from grafana.builders import budget_detail, cost_overview, error_budgets, exporter_health
from grafana.builders.panels import PROVISIONED_DATASOURCE_UID
from mixin.dashboards import BUDGET_DETAIL, COST_OVERVIEW, ERROR_BUDGETS, EXPORTER_HEALTH, TAG

# What the tests read of the generator besides generate().
__all__ = ["PROVISIONED_DATASOURCE_UID", "TAG", "UIDS", "generate", "main", "render"]

OUT = Path(__file__).resolve().parent / "dashboards"
DEFAULT_CURRENCY_UNIT = "currencyUSD"
UIDS = {
    "overview": COST_OVERVIEW.uid,
    "detail": BUDGET_DETAIL.uid,
    "slo": ERROR_BUDGETS.uid,
    "health": EXPORTER_HEALTH.uid,
}


def dashboards(currency_unit: str) -> dict[str, Any]:
    """File name -> builder of every dashboard, money in the given Grafana unit."""
    return {
        COST_OVERVIEW.file_name: cost_overview.build(currency_unit),
        BUDGET_DETAIL.file_name: budget_detail.build(currency_unit),
        ERROR_BUDGETS.file_name: error_budgets.build(),
        EXPORTER_HEALTH.file_name: exporter_health.build(),
    }


def _number(model: dict[str, Any]) -> dict[str, Any]:
    """Panel ids 1..n in layout order and refIds A, B, ... where the builder left none."""
    next_id = 1
    for panel in model.get("panels", []):
        panel["id"] = next_id
        next_id += 1
        for index, target in enumerate(panel.get("targets", [])):
            if not target.get("refId"):
                target["refId"] = chr(ord("A") + index)
    return model


def render(builder: Any) -> str:
    """One dashboard as the JSON text committed under grafana/dashboards/."""
    model = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    return json.dumps(_number(model), indent=2, sort_keys=True) + "\n"


def generate(currency_unit: str = DEFAULT_CURRENCY_UNIT) -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {name: render(board) for name, board in dashboards(currency_unit).items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the files are stale")
    parser.add_argument(
        "--currency-unit",
        default=DEFAULT_CURRENCY_UNIT,
        help="Grafana unit for money (currencyUSD, currencyEUR, currencyGBP, ...)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help="output folder")
    args = parser.parse_args(argv)
    stale = []
    for name, text in generate(args.currency_unit).items():
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"stale: {', '.join(stale)}; run grafana/generate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
