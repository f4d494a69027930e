"""Deterministic synthetic cost data, so the exporter shows every metric moving on any date.

Levels are anchored on the current day (costs grow towards it), so the demo budgets keep the
same story whatever the date: most are on pace, ``ml-platform`` is heading for overrun, and
``commitments`` holds the Savings Plan bought on the 1st of each month, a known step. Noise
and spikes depend only on the seed and the calendar day, so the same day shows the same
numbers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ...model.costs import CostData, normalize
from ..base import CostProvider, ProviderConfig
from .demo_config import DemoConfig


@dataclass(frozen=True)
class _Line:
    provider: str
    service: str
    category: str
    team: str
    account: str
    daily: float  # typical cost per day today, in the reporting currency
    growth: float  # yearly growth rate
    weekend: float  # weekend level relative to weekdays
    charge: str = "usage"
    monthly_only: bool = False  # charged once on the first day of each month


_LINES = (
    _Line(
        "AWS",
        "Amazon Elastic Compute Cloud",
        "Compute",
        "platform",
        "platform-prod",
        410.0,
        0.25,
        0.75,
    ),
    _Line(
        "AWS",
        "Amazon Simple Queue Service",
        "Integration",
        "platform",
        "platform-prod",
        38.0,
        0.10,
        0.6,
    ),
    _Line("AWS", "Amazon Simple Storage Service", "Storage", "data", "data-lake", 125.0, 0.40, 1.0),
    _Line(
        "AWS",
        "Amazon Relational Database Service",
        "Databases",
        "web",
        "web-prod",
        205.0,
        0.15,
        0.95,
    ),
    _Line("Google Cloud", "BigQuery", "Analytics", "data", "analytics", 150.0, 0.60, 0.5),
    # Training runs through weekends and costs well above the ml-platform budget's pace
    # (2400 a month is about 79 a day), so that budget heads for overrun on any date.
    _Line(
        "Google Cloud",
        "Vertex AI",
        "AI and Machine Learning",
        "ml",
        "ml-research",
        120.0,
        1.20,
        0.9,
    ),
    _Line("Microsoft", "Azure Kubernetes Service", "Compute", "web", "web-prod", 175.0, 0.20, 0.85),
    _Line(
        "AWS",
        "Savings Plans for AWS Compute usage",
        "Compute",
        "platform",
        "platform-prod",
        3100.0,
        0.0,
        1.0,
        charge="purchase",
        monthly_only=True,
    ),
    _Line(
        "AWS",
        "AWS Support (Business)",
        "Management and Governance",
        "platform",
        "platform-prod",
        -120.0,
        0.0,
        1.0,
        charge="credit",
        monthly_only=True,
    ),
)
_ENVIRONMENTS = (("prod", 0.8), ("dev", 0.2))


def _day_noise(seed: int, day: date, count: int) -> np.ndarray:
    digest = hashlib.sha256(f"{seed}:{day.isoformat()}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    return rng.normal(0.0, 0.06, size=count)


def _spike(seed: int, day: date) -> float:
    # Roughly one day in 29 has a runaway job on the ML line: 2.5 to 4 times the usual.
    digest = hashlib.sha256(f"spike:{seed}:{day.isoformat()}".encode()).digest()
    if digest[0] % 29 == 0:
        return 2.5 + 1.5 * digest[1] / 255
    return 1.0


class DemoProvider(CostProvider[DemoConfig]):
    """Generates a year of daily costs for several services and teams up to ``now``."""

    type_name: ClassVar[str] = "demo"
    config_model: ClassVar[type[ProviderConfig]] = DemoConfig

    def fetch(self, now: datetime) -> CostData:
        zone = ZoneInfo(self.context.timezone)
        local_now = now.astimezone(zone)
        today = local_now.date()
        start_of_today = datetime(today.year, today.month, today.day, tzinfo=zone)
        today_share = (local_now - start_of_today).total_seconds() / 86400.0
        currency = self.settings.currency or self.context.currency
        seed = self.settings.seed
        rows: dict[str, list[object]] = {
            key: []
            for key in (
                "start",
                "end",
                "cost",
                "currency",
                "charge_category",
                "ProviderName",
                "ServiceName",
                "ServiceCategory",
                "SubAccountName",
                "tags.team",
                "tags.environment",
            )
        }
        for offset in range(self.settings.history_days, -1, -1):
            day = today - timedelta(days=offset)
            years_before_now = offset / 365.0
            weekend = day.weekday() >= 5
            noise = _day_noise(seed, day, len(_LINES))
            for index, line in enumerate(_LINES):
                if line.monthly_only and day.day != 1:
                    continue
                level = line.daily / (1.0 + line.growth) ** years_before_now
                if weekend:
                    level *= line.weekend
                if not line.monthly_only:
                    level *= max(0.0, 1.0 + noise[index])
                if line.service == "Vertex AI":
                    level *= _spike(seed, day)
                if offset == 0 and not line.monthly_only:
                    level *= today_share
                for environment, share in _ENVIRONMENTS:
                    if line.monthly_only and environment != "prod":
                        continue
                    amount = level if line.monthly_only else level * share
                    day_start = datetime(day.year, day.month, day.day, tzinfo=zone)
                    if line.monthly_only:
                        day_end = day_start  # one-time charge
                    elif offset == 0:
                        day_end = now
                    else:
                        following = day + timedelta(days=1)
                        day_end = datetime(
                            following.year, following.month, following.day, tzinfo=zone
                        )
                    rows["start"].append(day_start)
                    rows["end"].append(day_end)
                    rows["cost"].append(round(amount, 4))
                    rows["currency"].append(currency)
                    rows["charge_category"].append(line.charge)
                    rows["ProviderName"].append(line.provider)
                    rows["ServiceName"].append(line.service)
                    rows["ServiceCategory"].append(line.category)
                    rows["SubAccountName"].append(line.account)
                    rows["tags.team"].append(line.team)
                    rows["tags.environment"].append(environment)
        frame = pd.DataFrame(rows)
        frame["start"] = pd.to_datetime(frame["start"], utc=True)
        frame["end"] = pd.to_datetime(frame["end"], utc=True)
        return CostData(frame=normalize(frame), data_end=now, sources=1)
