"""The families paid-API providers report about their own requests, declared once for all."""

from __future__ import annotations

from ...model.metric_family import FamilySpec

API_REQUESTS = FamilySpec(
    "budget_exporter_provider_api_requests_total",
    "Paid API requests the provider has made (kept across restarts).",
    "provider",
    ("operation",),
    kind="counter",
)
API_COST = FamilySpec(
    "budget_exporter_provider_api_cost_usd_total",
    "What the provider's API requests cost, in US dollars (kept across restarts).",
    "provider",
    kind="counter",
)
