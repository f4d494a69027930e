"""YAML config -> validated, immutable objects. Every problem names file, key path and reason."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import (
    Field,
    PrivateAttr,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)

from .configtypes import (
    LABEL_NAME,
    NAME,
    Duration,
    ScalarText,
    StrictModel,
    TextList,
    ZoneName,
    expand_env,
    redact_env,
)
from .errors import ConfigError, ConfigProblem
from .periods import Calendar, PeriodKind, format_duration, parse_duration
from .planconfig import (
    UNION_TAGS,
    AmountSetting,
    AutoAmountConfig,
    ExchangeRate,
    InsightsConfig,
    Planned,
    RolloverConfig,
    Weekday,
    check_planned,
    check_rates,
    week_start_index,
)
from .planning import AmountPlan
from .providers import COST_PROVIDERS, INCIDENT_PROVIDERS, ProviderConfig
from .yamlguard import check_node

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
DEFAULT_THRESHOLDS = {"notice": 0.75, "warning": 0.9, "critical": 1.0}
MAX_AMOUNT = 1e12
DEMO_CONFIG = "demo/demo.yml"

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


class BudgetConfig(StrictModel):
    """One money budget."""

    name: str = Field(pattern=NAME.pattern, max_length=128)
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

    _check_labels = field_validator("labels")(_check_label_names)
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
    def _at_least_a_second(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("must be at least 1s")
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


def demo_config_path() -> Path:
    """Path of the bundled demo config."""
    return Path(str(resources.files("budget_exporter").joinpath(DEMO_CONFIG)))


def load_config(path: str | Path | None) -> Config:
    """Read and validate a config file (the bundled demo config when ``path`` is None)."""
    file = Path(path) if path is not None else demo_config_path()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            [ConfigProblem(str(file), "", f"cannot read: {error.strerror}")]
        ) from None
    except UnicodeDecodeError as error:
        line = file.read_bytes()[: error.start].count(b"\n") + 1
        raise ConfigError(
            [ConfigProblem(str(file), "", f"not UTF-8 text (byte {error.start})", line)]
        ) from None
    return parse_config(text, str(file), str(file.resolve().parent))


def parse_config(text: str, source: str = "<config>", base_dir: str = ".") -> Config:
    """Validate config text; raise ConfigError listing every problem found."""
    try:
        node, raw = _load_yaml(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(error, "problem", None) or str(error)
        raise ConfigError([ConfigProblem(source, "", f"invalid YAML: {reason}", line)]) from None
    except ValueError as error:  # a date YAML recognises that the calendar lacks: 2026-02-30
        raise ConfigError([ConfigProblem(source, "", f"invalid date: {error}")]) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([ConfigProblem(source, "", "the config must be a mapping of keys", 1)])

    problems: list[tuple[str, str]] = _duplicate_keys(node, ())
    raw = _expand_environment(raw, (), problems)
    provider_types = _provider_types(raw)
    provider_names = _validate_providers(raw, problems)
    problems.extend(_cross_checks(raw, provider_names))
    problems.extend(_source_checks(raw, provider_types))
    config: Config | None = None
    try:
        config = Config.model_validate(raw)
    except ValidationError as error:
        for item in error.errors(include_input=False, include_url=False):
            path = format_path([part for part in item["loc"] if part not in UNION_TAGS])
            if path == "providers" and provider_names and "providers" not in raw:
                continue  # every provider was invalid, and each was reported
            problems.append((path, _message(item)))
    if problems:
        unique = list(dict.fromkeys(problems))
        lines = _LineIndex(node)
        raise ConfigError(
            [
                ConfigProblem(source, path, redact_env(message, text), lines.line_of(path))
                for path, message in unique
            ]
        )
    assert config is not None
    config._source = source
    config._base_dir = base_dir
    return config


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """Parse once (with libyaml when present), keeping the node tree for line numbers."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        check_node(node)  # refuse alias bombs before anything walks the data
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return node, data


def _duplicate_keys(
    node: yaml.Node | None, loc: tuple[Any, ...], visited: set[int] | None = None
) -> list[tuple[str, str]]:
    """Keys given twice in one mapping: YAML would keep the last one and hide the first."""
    problems: list[tuple[str, str]] = []
    # An anchored node is checked once, where it is defined, however often it is aliased.
    visited = set() if visited is None else visited
    if node is None or id(node) in visited:
        return problems
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        # Keys merged in with `<<: *anchor` may be overridden; they sit outside this mapping.
        own = range(node.start_mark.index, node.end_mark.index)
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.start_mark.index in own:
                if key.value in seen:
                    path = format_path([*loc, key.value])
                    problems.append((path, "key given twice; only one may stay"))
                seen.add(key.value)
            problems.extend(_duplicate_keys(value, (*loc, key.value), visited))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems.extend(_duplicate_keys(item, (*loc, index), visited))
    return problems


def _message(item: Any) -> str:
    message = str(item["msg"])
    if item["type"] == "extra_forbidden":
        return "unknown key (check its spelling)"
    if item["type"] == "missing":
        return "required key is missing"
    return message.removeprefix("Value error, ")


def format_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """Render a location as ``budgets[2].filter["tags.env"]``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif any(char in str(part) for char in '. []"'):
            text += f'["{part}"]'
        else:
            text += f".{part}" if text else str(part)
    return text


def _expand_environment(value: Any, loc: tuple[Any, ...], problems: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        if "${" not in value:
            return value
        expanded, missing = expand_env(value)
        for name in missing:
            problems.append((format_path(loc), f"environment variable {name} is not set"))
        return expanded
    if isinstance(value, dict):
        return {
            key: _expand_environment(item, (*loc, key), problems) for key, item in value.items()
        }
    if isinstance(value, list):
        return [_expand_environment(item, (*loc, i), problems) for i, item in enumerate(value)]
    return value


def _split(path: str) -> list[Any]:
    # Inverse of format_path for the simple paths produced while walking the YAML.
    parts: list[Any] = []
    token = ""
    index = 0
    while index < len(path):
        char = path[index]
        if char == ".":
            if token:
                parts.append(token)
            token = ""
        elif char == "[":
            if token:
                parts.append(token)
            token = ""
            close = path.index("]", index)
            inner = path[index + 1 : close]
            parts.append(inner.strip('"') if inner.startswith('"') else int(inner))
            index = close
        else:
            token += char
        index += 1
    if token:
        parts.append(token)
    return parts


def _validate_providers(raw: dict[str, Any], problems: list[tuple[str, str]]) -> set[str]:
    """Validate each provider with its own model; put the models back into ``raw``."""
    providers = raw.get("providers")
    if not isinstance(providers, dict):
        return set()
    validated: dict[str, ProviderConfig] = {}
    for name, settings in providers.items():
        where = format_path(["providers", str(name)])
        if not NAME.match(str(name)):
            problems.append((where, "provider names use letters, digits, '_', '-' and '.'"))
        if not isinstance(settings, dict):
            problems.append((where, "must be a mapping with at least a type"))
            continue
        kind = settings.get("type")
        model = COST_PROVIDERS.get(str(kind)) or INCIDENT_PROVIDERS.get(str(kind))
        if model is None:
            known = ", ".join(sorted([*COST_PROVIDERS, *INCIDENT_PROVIDERS]))
            what = "required key is missing" if kind is None else f"unknown provider type {kind!r}"
            problems.append((f"{where}.type", f"{what}; known types: {known}"))
            continue
        try:
            validated[str(name)] = model.config_model.model_validate(settings)
        except ValidationError as error:
            for item in error.errors(include_input=False, include_url=False):
                problems.append(
                    (format_path(["providers", str(name), *item["loc"]]), _message(item))
                )
    if validated or not providers:
        raw["providers"] = validated
    else:
        del raw["providers"]  # every provider was invalid: already reported above
    return {str(name) for name in providers}


def _provider_types(raw: dict[str, Any]) -> dict[str, str]:
    """Each provider's declared type, read before validation replaces the settings."""
    providers = raw.get("providers")
    if not isinstance(providers, dict):
        return {}
    return {
        str(name): str(settings.get("type"))
        for name, settings in providers.items()
        if isinstance(settings, dict)
    }


def _source_checks(raw: dict[str, Any], types: dict[str, str]) -> list[tuple[str, str]]:
    """Budgets read cost providers and SLOs incident providers; SLO names are unique."""
    problems: list[tuple[str, str]] = []
    incident_sources = {name for name, kind in types.items() if kind in INCIDENT_PROVIDERS}
    budgets = raw.get("budgets")
    for index, budget in enumerate(budgets if isinstance(budgets, list) else []):
        provider = budget.get("provider") if isinstance(budget, dict) else None
        if provider is not None and str(provider) in incident_sources:
            problems.append(
                (
                    f"budgets[{index}].provider",
                    f"provider {provider!r} is an incident source (type "
                    f"{types[str(provider)]}); budgets need a cost provider",
                )
            )
    slos = raw.get("slos")
    names: dict[str, int] = {}
    for index, slo in enumerate(slos if isinstance(slos, list) else []):
        if not isinstance(slo, dict):
            continue
        name = slo.get("name")
        if isinstance(name, str):
            if name in names:
                problems.append(
                    (
                        f"slos[{index}].name",
                        f"duplicate SLO name {name!r} (also slos[{names[name]}])",
                    )
                )
            names.setdefault(name, index)
        provider = slo.get("provider")
        if provider is None or not types:
            continue
        if str(provider) not in types:
            defined = ", ".join(sorted(incident_sources)) or "none"
            problems.append(
                (
                    f"slos[{index}].provider",
                    f"unknown provider {provider!r}; incident providers defined: {defined}",
                )
            )
        elif str(provider) not in incident_sources:
            known = ", ".join(sorted(INCIDENT_PROVIDERS))
            problems.append(
                (
                    f"slos[{index}].provider",
                    f"provider {provider!r} is a cost source (type {types[str(provider)]}); "
                    f"SLOs need an incident provider ({known})",
                )
            )
        else:
            problems.extend(_lookback_check(raw, slo, index, str(provider)))
    return problems


def _lookback_check(
    raw: dict[str, Any], slo: dict[str, Any], index: int, provider: str
) -> list[tuple[str, str]]:
    """An SLO window longer than its provider's lookback would miss older incidents."""
    settings = raw.get("providers", {}).get(provider)
    lookback = getattr(settings, "lookback", None)
    if lookback is None or not isinstance(slo.get("window"), str):
        return []
    try:
        window = parse_duration(slo["window"])
    except ValueError:
        return []  # reported by the model
    if window <= lookback:
        return []
    return [
        (
            f"slos[{index}].window",
            f"window {slo['window']} is longer than provider {provider!r} looks back "
            f"({format_duration(lookback)}); raise the provider's lookback",
        )
    ]


def _cross_checks(raw: dict[str, Any], provider_names: set[str]) -> list[tuple[str, str]]:
    """Checks between sections: names unique, references resolve, hierarchy has no cycle."""
    problems: list[tuple[str, str]] = []
    budgets = raw.get("budgets")
    if not isinstance(budgets, list):
        return problems
    names: dict[str, int] = {}
    parents: dict[str, str] = {}
    for index, budget in enumerate(budgets):
        if not isinstance(budget, dict):
            continue
        name = budget.get("name")
        if isinstance(name, str):
            if name in names:
                problems.append(
                    (
                        f"budgets[{index}].name",
                        f"duplicate budget name {name!r} (also budgets[{names[name]}])",
                    )
                )
            else:
                names[name] = index
        provider = budget.get("provider")
        if provider is not None and provider_names and str(provider) not in provider_names:
            problems.append(
                (
                    f"budgets[{index}].provider",
                    f"unknown provider {provider!r}; defined: {', '.join(sorted(provider_names))}",
                )
            )
        parent = budget.get("parent")
        if isinstance(name, str) and isinstance(parent, str):
            parents[name] = parent
    for child, parent in parents.items():
        index = names[child]
        if parent not in names:
            problems.append((f"budgets[{index}].parent", f"unknown parent budget {parent!r}"))
            continue
        chain = [child]
        current = parent
        while current in parents and current not in chain:
            chain.append(current)
            current = parents[current]
        # Report each cycle once, at its alphabetically first member.
        if current == child and child == min(chain):
            cycle = " -> ".join([*chain, current])
            problems.append((f"budgets[{index}].parent", f"budget hierarchy has a cycle: {cycle}"))
    return problems


class _LineIndex:
    """Maps key paths to line numbers in the YAML text, for error messages."""

    def __init__(self, node: yaml.Node | None):
        self._lines: dict[str, int] = {}
        if node is not None:
            self._walk(node, [])

    def _walk(self, node: yaml.Node, path: list[Any]) -> None:
        self._lines[format_path(path)] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = [*path, key.value]
                self._lines[format_path(child)] = key.start_mark.line + 1
                self._walk(value, child)
                self._lines[format_path(child)] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self._walk(item, [*path, index])

    def line_of(self, path: str) -> int | None:
        """Line of the deepest known prefix of ``path``."""
        try:
            parts = _split(path) if path else []
        except ValueError:  # a key with brackets or quotes of its own: no line, no crash
            return None
        while parts:
            line = self._lines.get(format_path(parts))
            if line is not None:
                return line
            parts.pop()
        return None


def allocation_warnings(config: Config) -> list[str]:
    """Parents whose children's limits, scaled to the parent's period, exceed the parent's."""
    warnings = []
    for parent in config.budgets:
        children = [b for b in config.budgets if b.parent == parent.name]
        if not children:
            continue
        allocated = children_limit(parent, children)
        own = parent.fixed_amount
        if own is not None and allocated > own * (1 + 1e-9):
            warnings.append(
                f"budget {parent.name!r} is over-allocated: its children's limits add up to "
                f"{allocated:,.2f} {config.currency} per {parent.period.value} period against "
                f"its own {own:,.2f}"
            )
    return warnings


def children_limit(
    parent: BudgetConfig,
    children: list[BudgetConfig],
    amounts: Mapping[str, float] | None = None,
) -> float:
    """Sum of children's amounts, each scaled to the parent's period length.

    ``amounts`` holds the amounts in force (planned, auto, rollover) by child name; a child not
    in it counts its configured amount. An auto child without an initial amount adds 0.
    """
    in_force = amounts or {}
    return sum(
        in_force.get(child.name, child.fixed_amount or 0.0)
        * parent.nominal_days
        / child.nominal_days
        for child in children
    )
