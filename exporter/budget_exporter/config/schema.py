"""The config schema: validated, immutable models of budgets, SLOs and global settings."""

from __future__ import annotations

import itertools
import math
from datetime import date, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import (
    Field,
    PrivateAttr,
    SerializeAsAny,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..model.charges import Accrual
from ..model.fields import (
    LABEL_NAME,
    NAME,
    Duration,
    ScalarText,
    StrictModel,
    TextList,
    ZoneName,
)
from ..model.periods import Calendar, PeriodKind, format_duration
from ..money.insights_config import InsightsConfig
from ..money.planning import AmountPlan
from ..providers.base_config import ProviderConfig
from .planning import (
    Amount,
    AmountSetting,
    AutoAmountConfig,
    ExchangeRate,
    Planned,
    RolloverConfig,
    Weekday,
    check_planned,
    check_rates,
    week_start_index,
)

# Labels the exporter itself puts on series; a budget's own labels may not reuse them.
RESERVED_LABELS = frozenset(
    {
        "budget",
        "currency",
        "window",
        "severity",
        "dimension",
        "value",
        "method",
        "provider",
        "type",
        "period",
        "parent",
        "bound",
        "horizon",
        "level",
        "slo",
        "category",
        "le",
        "quantile",
        "job",
        "instance",
        "version",
        "recommendation",
        "weekday",
        "source",
        "source_currency",
    }
)
TEMPLATE_VALUE = "{value}"
DEFAULT_THRESHOLDS = {"notice": 0.75, "warning": 0.9, "critical": 1.0}
SEVERITY_ORDER = ("notice", "warning", "critical")
# The severities alerts route and inhibit by, lowest first (mixin/severities.py draws the same
# ladder for the rules and routes; a test keeps the two equal).
SEVERITY_LADDER = ("notice", "warning", "critical", "emergency")
MAX_AMOUNT = 1e12
MAX_REFRESH = timedelta(days=31)
MAX_EVALUATION = timedelta(days=1)

Include = Literal["include", "exclude"]


def _check_label_names(labels: dict[str, str]) -> dict[str, str]:
    for key in labels:
        if not LABEL_NAME.match(key) or key.startswith("__"):
            raise ValueError(f"{key!r} is not a valid Prometheus label name")
        if key in RESERVED_LABELS:
            raise ValueError(f"label {key!r} is reserved by the exporter; choose another name")
    return labels


def _check_thresholds(thresholds: dict[str, float] | None) -> dict[str, float] | None:
    if thresholds is None:
        return None
    for severity, ratio in thresholds.items():
        if not LABEL_NAME.match(severity):
            raise ValueError(f"severity {severity!r} must be a word such as warning or critical")
        if not (0 < ratio <= 10) or math.isnan(ratio):
            raise ValueError(
                f"threshold {severity}={ratio} must be a ratio of the limit above 0 "
                "(0.9 means 90%), at most 10"
            )
    # Severities rise with spend: a critical alert below the warning one would fire first.
    known = [name for name in SEVERITY_ORDER if name in thresholds]
    for lower, higher in itertools.pairwise(known):
        if thresholds[higher] < thresholds[lower]:
            raise ValueError(
                f"{higher} ({thresholds[higher]:g}) is below {lower} ({thresholds[lower]:g}); "
                f"{' < '.join(SEVERITY_ORDER)} must not decrease"
            )
    return thresholds


class ChargeOptions(StrictModel):
    """Which kinds of charge count against a budget, like AWS Budgets' cost options."""

    credits: Include = "include"
    refunds: Include = "include"
    tax: Include = "include"
    purchases: Include = "include"

    def excluded_categories(self) -> frozenset[str]:
        """Normalized charge categories that this budget leaves out."""
        pairs = (
            (self.credits, "credit"),
            (self.refunds, "refund"),
            (self.tax, "tax"),
            (self.purchases, "purchase"),
        )
        return frozenset(category for choice, category in pairs if choice == "exclude")


class BreakdownConfig(StrictModel):
    """Cost breakdown series: spend by each dimension, top N values, the rest as ``other``."""

    dimensions: TextList = ("ServiceName",)
    top: int = Field(default=10, ge=1, le=100)


class JobsConfig(StrictModel):
    """Job accounting: the dimension of the cost data that names the job a cost belongs to.

    A reservation with a job is released by that job's cost in the data, and the job's estimate
    is set against its actual cost (``/api/v1/budgets/NAME/jobs``, ``report``).
    """

    dimension: str | None = Field(default=None, min_length=1)  # tags.job, a column...


class SeriesConfig(StrictModel):
    """Optional metric families. Each costs series per budget, and users pay per series, so only
    the lean set is on by default (README, "Series per budget")."""

    # budget_weekday_burn_rate and slo_weekday_burn_rate: 7 series per budget and per SLO
    weekday_pattern: bool = False
    trend: bool = False  # the daily spend (or bad time) trend and its p-value: 2 per budget and SLO
    forecast_horizons: bool = False  # budget_forecast_horizon_spend (30d, 90d): 2
    forecast_95: bool = False  # the 95% bounds of budget_forecast_spend: 2
    anomaly_by_dimension: bool = False  # budget_cost_anomaly_score_by_dimension: 1 per top value
    threshold_states: bool = False  # budget_threshold_reached: 1 per threshold
    variance_amounts: bool = False  # budget_spend_variance and its ratio: 2
    derived_rates: bool = False  # elapsed ratio, average and ideal daily spend: 3

    def enabled(self) -> frozenset[str]:
        """The names of the optional families switched on."""
        return frozenset(name for name, on in self.model_dump().items() if on)


class BudgetConfig(StrictModel):
    """One money budget."""

    # A template's name holds {value}: team-{value} makes team-web, team-data...
    name: str = Field(max_length=128)
    amount: AmountSetting
    period: PeriodKind
    start: date | None = None  # custom periods: the first day
    end: date | None = None  # custom periods: the last day (included)
    planned: Planned = Field(default_factory=dict)
    rollover: RolloverConfig | None = None
    insights: InsightsConfig | None = None
    provider: str | None = None
    filter: dict[str, TextList] = Field(default_factory=dict)
    thresholds: dict[str, float] | None = None
    labels: dict[str, ScalarText] = Field(default_factory=dict)
    parent: str | None = None
    charges: ChargeOptions = ChargeOptions()
    breakdown: BreakdownConfig | None = None
    # When charges longer than a day count for this budget; unset, each provider's accrual.
    accrual: Accrual | None = None
    # A template: one budget per value of this dimension with spend this period (its own
    # filter applied), the largest max_budgets of them, the rest in one "other" budget.
    for_each: str | None = None
    amounts: dict[str, Amount] = Field(default_factory=dict)  # per value; others: amount
    max_budgets: int = Field(default=50, ge=1, le=1000)
    other: bool = True

    _check_labels = field_validator("labels")(_check_label_names)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value.replace(TEMPLATE_VALUE, "x")):
            raise ValueError(
                f"String should match pattern '{NAME.pattern}' ({TEMPLATE_VALUE} allowed in a "
                "template's name)"
            )
        return value

    @model_validator(mode="after")
    def _template(self) -> BudgetConfig:
        placeholder = TEMPLATE_VALUE in self.name
        if self.for_each is not None and not placeholder:
            raise ValueError(
                f"a for_each template's name needs {TEMPLATE_VALUE}, e.g. team-{TEMPLATE_VALUE}"
            )
        if self.for_each is None and (placeholder or self.amounts):
            raise ValueError(f"{TEMPLATE_VALUE} in the name and amounts need for_each")
        return self

    @property
    def is_template(self) -> bool:
        """Whether this entry makes one budget per value of ``for_each``."""
        return self.for_each is not None

    _check_thresholds = field_validator("thresholds")(_check_thresholds)

    @field_validator("amount")
    @classmethod
    def _finite(cls, value: float | AutoAmountConfig) -> float | AutoAmountConfig:
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            raise ValueError("amount must be a finite number")
        return value

    @model_validator(mode="after")
    def _period_settings(self) -> BudgetConfig:
        custom = self.period is PeriodKind.CUSTOM
        if custom != (self.start is not None and self.end is not None):
            raise ValueError(
                "a custom period needs start and end dates (and only a custom period takes them)"
            )
        if self.start is not None and self.end is not None:
            Calendar(start=self.start, end=self.end + timedelta(days=1))  # checks the span
        problems = check_planned(self.planned, self.period)
        if problems:
            raise ValueError("; ".join(problems))
        if self.rollover is not None and custom:
            raise ValueError("a custom period has no previous period to roll money over from")
        return self

    @property
    def fixed_amount(self) -> float | None:
        """The configured number (an auto budget's initial amount); None when only derived."""
        return self.amount if isinstance(self.amount, float) else self.amount.initial

    @property
    def nominal_days(self) -> float:
        """Length of a period in days: average for calendar periods, real for custom ones."""
        if self.start is not None and self.end is not None:
            return float((self.end - self.start).days + 1)
        return self.period.nominal_days

    def amount_plan(self) -> AmountPlan:
        """The planning rules of this budget."""
        auto = self.amount if isinstance(self.amount, AutoAmountConfig) else None
        return AmountPlan(
            amount=self.fixed_amount,
            auto=auto.auto if auto is not None else None,
            periods=auto.periods if auto is not None else 1,
            planned=dict(self.planned),
            rollover_max=self.rollover.max if self.rollover is not None else None,
        )


class SloConfig(StrictModel):
    """One availability SLO, measured by the downtime its incident provider records."""

    name: str = Field(pattern=NAME.pattern, max_length=128)
    objective: float  # percent of good time, e.g. 99.9
    window: Duration | None = None  # rolling; 30d when neither window nor calendar is set
    calendar: Literal["month", "quarter"] | None = None
    provider: str
    filter: dict[str, TextList] = Field(default_factory=dict)
    exclude_categories: TextList = ()
    labels: dict[str, ScalarText] = Field(default_factory=dict)
    regression_days: int = Field(default=7, ge=1, le=90)
    history: Duration = timedelta(days=90)
    horizons: tuple[Duration, ...] = Field(
        default=(timedelta(days=30),), min_length=1, max_length=4
    )

    _check_labels = field_validator("labels")(_check_label_names)

    @field_validator("objective")
    @classmethod
    def _percent(cls, value: float) -> float:
        if math.isnan(value) or not 0 < value < 100:
            raise ValueError("objective is a percentage above 0 and below 100, such as 99.9")
        if value < 1:
            raise ValueError(
                f"objective is a percentage: {value} looks like a ratio, write {value * 100:g}"
            )
        return value

    @field_validator("window", "history")
    @classmethod
    def _long_enough(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and not timedelta(hours=1) <= value <= timedelta(days=3660):
            raise ValueError("must be between 1h and 3660d")
        return value

    @field_validator("horizons")
    @classmethod
    def _horizons(cls, value: tuple[timedelta, ...]) -> tuple[timedelta, ...]:
        if any(horizon < timedelta(hours=1) for horizon in value):
            raise ValueError("each horizon must be at least 1h")
        return value

    @field_validator("exclude_categories")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(category.lower() for category in value)

    @model_validator(mode="after")
    def _one_window(self) -> SloConfig:
        if self.window is not None and self.calendar is not None:
            raise ValueError("set either window (rolling) or calendar (month, quarter), not both")
        return self

    @property
    def objective_ratio(self) -> float:
        """The objective as a ratio (0.999)."""
        return round(self.objective / 100.0, 10)  # 0.999, not 0.9990000000000001

    @property
    def rolling_window(self) -> timedelta | None:
        """Length of the rolling window; None for calendar windows."""
        if self.calendar is not None:
            return None
        return self.window or timedelta(days=30)

    @property
    def calendar_period(self) -> PeriodKind | None:
        """The calendar period of the window, if it is one."""
        if self.calendar is None:
            return None
        return PeriodKind.MONTHLY if self.calendar == "month" else PeriodKind.QUARTERLY


class Config(StrictModel):
    """The whole exporter configuration."""

    timezone: ZoneName = "UTC"
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    exchange_rates: dict[str, ExchangeRate] = Field(default_factory=dict)
    fiscal_year_start: int = Field(default=1, ge=1, le=12)  # month a year (and Q1) starts in
    week_start: Weekday = "monday"
    insights: InsightsConfig = InsightsConfig()
    refresh_interval: Duration = timedelta(hours=1)
    evaluation_interval: Duration = timedelta(minutes=1)
    state_dir: str | None = None
    thresholds: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    breakdown: BreakdownConfig = BreakdownConfig()
    series: SeriesConfig = SeriesConfig()
    jobs: JobsConfig = JobsConfig()
    providers: dict[str, SerializeAsAny[ProviderConfig]] = Field(min_length=1)
    budgets: tuple[BudgetConfig, ...] = ()
    slos: tuple[SloConfig, ...] = ()

    _source: str = PrivateAttr(default="<config>")
    _base_dir: str = PrivateAttr(default=".")

    _check_thresholds = field_validator("thresholds")(_check_thresholds)

    @field_validator("exchange_rates")
    @classmethod
    def _positive_rates(
        cls, value: dict[str, float | dict[str, float]]
    ) -> dict[str, float | dict[str, float]]:
        return check_rates(value)

    @field_validator("refresh_interval", "evaluation_interval")
    @classmethod
    def _at_least_a_second(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("must be at least 1s")
        # Past these the data served is older than any alert on it expects.
        longest = MAX_REFRESH if info.field_name == "refresh_interval" else MAX_EVALUATION
        if value > longest:
            raise ValueError(f"must be at most {format_duration(longest)}")
        return value

    @property
    def source(self) -> str:
        """The file this config was read from."""
        return self._source

    @property
    def base_dir(self) -> str:
        """Folder that relative paths in the config are resolved against."""
        return self._base_dir

    @property
    def zone(self) -> ZoneInfo:
        """The configured time zone."""
        return ZoneInfo(self.timezone)

    def calendar_for(self, budget: BudgetConfig) -> Calendar:
        """Where the budget's periods begin: fiscal year, week start, or its custom dates."""
        end = budget.end + timedelta(days=1) if budget.end is not None else None
        return Calendar(
            year_start_month=self.fiscal_year_start,
            week_start=week_start_index(self.week_start),
            start=budget.start,
            end=end,
        )

    def insights_for(self, budget: BudgetConfig) -> InsightsConfig:
        """A budget's own insight thresholds, or the global ones."""
        return budget.insights or self.insights

    def thresholds_for(self, budget: BudgetConfig) -> dict[str, float]:
        """A budget's own thresholds, or the global defaults."""
        return dict(budget.thresholds if budget.thresholds is not None else self.thresholds)

    def breakdown_for(self, budget: BudgetConfig) -> BreakdownConfig:
        """A budget's own breakdown settings, or the global ones."""
        return budget.breakdown or self.breakdown

    def budget(self, name: str) -> BudgetConfig:
        """The budget called ``name``."""
        for budget in self.budgets:
            if budget.name == name:
                return budget
        raise KeyError(name)
