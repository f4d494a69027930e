"""Fitted forecast models per budget, refit at most once per new day of cost data.

The models also go out as bytes (``export``) and come back (``restore``), so a restart serves
every forecast it had without fitting again; the state folder keeps the bytes (service layer).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ..money.anomaly import (
    SEASON,
    WEEKS,
    Anomaly,
    AnomalyContributor,
    top_contributor,
    weekday_anomaly,
)
from ..money.budgets import (
    NONE_VALUE,
    OTHER,
    BudgetSpec,
    BudgetStatus,
    CostIndex,
    budget_mask,
    daily_spend,
    recurring_steps_to_come,
)
from ..money.forecast import (
    HISTORY_DAYS,
    Choice,
    DailyModel,
    Forecast,
    fit_daily_model,
    forecast_period,
)

# A first evaluation of thousands of budgets would block for minutes if every model were fit
# at once; the rest are fit in the following evaluations (their forecast is absent until then).
MAX_FITS_PER_EVALUATION = 1000
# A model serves at most this many days past its origin (a refit pending, or cost data that
# stopped before the period began); older ones would forecast from a stale level.
MAX_STALE_DAYS = 7
# The anomaly score of a breakdown value reads ~13 weeks of residuals plus 8 weeks before them.
VALUE_HISTORY_DAYS = 91 + (WEEKS + 1) * SEASON
# Of the stored models: bytes of another version (or of changed forecast code that bumped it)
# are refit, never read as if they were today's.
FORMAT = 1


@dataclasses.dataclass(frozen=True)
class _Inputs:
    """What a fit reads: the budget's daily usage and each top breakdown value's."""

    origin: date
    history: pd.Series
    span: tuple[date, date]
    values: tuple[tuple[str, str, pd.Series], ...]
    fingerprint: str


@dataclasses.dataclass(frozen=True)
class _Entry:
    origin: date
    model: DailyModel | None
    value_scores: Mapping[str, Mapping[str, float]]
    contributor: AnomalyContributor | None = None
    fingerprint: str = ""  # of the inputs it was fit on
    # Of what the inputs were computed from (the dataset, the budget, the origin and the
    # breakdown values), empty when the dataset had no fingerprint: cheap to check.
    shortcut: str = ""


class ForecastCache:
    """Models keyed by budget, each with the first day it forecasts (its origin).

    A model is refit when the newest cost data reaches a new day; in between, an evaluation only
    adds the spend to date to the cached model's forecast, which costs microseconds.
    """

    def __init__(self, max_fits_per_evaluation: int = MAX_FITS_PER_EVALUATION):
        self.max_fits = max_fits_per_evaluation
        self._entries: dict[str, _Entry] = {}
        self._fits_left = max_fits_per_evaluation
        self.fits = 0
        # Budgets of this evaluation left without a model because the fits ran out.
        self.waiting: list[str] = []
        # Restored models not yet checked against the data: they serve once their inputs match.
        self._restored: set[str] = set()
        self._seen: set[str] = set()
        self.changed = False  # a model was fit since the last export
        self._dataset: str | None = None

    def use_dataset(self, fingerprint: str | None) -> None:
        """Say which data the next evaluations read: a fingerprint of every cost frame and of
        all that turns them into a budget's daily spend (the config, the code), or None when
        that is not known. A kept model fit on the same dataset serves without its days being
        computed again; with another dataset (or None) each is checked on its own days."""
        self._dataset = fingerprint

    def begin(self) -> None:
        """Start an evaluation: allow another round of fits."""
        self._fits_left = self.max_fits
        self.waiting = []
        self._seen = set()

    def models(self) -> list[DailyModel | None]:
        """The cached models, for inspection and benchmarks."""
        return [entry.model for entry in self._entries.values()]

    def forecast(
        self,
        spec: BudgetSpec,
        index: CostIndex,
        status: BudgetStatus,
        zone: ZoneInfo,
        data_end: datetime | None = None,
    ) -> Forecast | None:
        """The budget's forecast at ``status.as_of``, fitting its model first if a day passed.

        The model's history ends at ``data_end`` (the newest cost data) when that is older than
        ``status.as_of``, which never starts before the period: later days are unknown, not zero.
        """
        newest = min(status.as_of, data_end) if data_end is not None else status.as_of
        origin = newest.astimezone(zone).date()
        key = _key(spec)
        self._seen.add(key)
        entry = self._entries.get(key)
        current = entry is not None and entry.origin == origin
        inputs = None
        if current and key in self._restored:
            # Fit before a restart: it serves as it is if it was fit on the same days, which
            # the same dataset, budget, origin and values say at once; else its days tell.
            assert entry is not None
            shortcut = _shortcut(self._dataset, key, status, zone, origin)
            if not (shortcut and entry.shortcut == shortcut):
                inputs = _inputs(spec, index, status, zone, origin)
                current = inputs.fingerprint == entry.fingerprint
                if current and entry.shortcut != shortcut:
                    # Kept with this dataset's shortcut, the next restart need not check it.
                    entry = dataclasses.replace(entry, shortcut=shortcut)
                    self._entries[key] = entry
                    self.changed = True
            if current:
                self._restored.discard(key)
        if not current and self._fits_left > 0:
            self._fits_left -= 1
            self.fits += 1
            shortcut = _shortcut(self._dataset, key, status, zone, origin)
            entry = _fit(inputs or _inputs(spec, index, status, zone, origin), spec, shortcut)
            self._entries[key] = entry
            self._restored.discard(key)
            self.changed = True
        elif entry is None:
            self.waiting.append(spec.name)
        if entry is None or entry.model is None:
            return None
        if (status.as_of.astimezone(zone).date() - entry.model.origin).days > MAX_STALE_DAYS:
            return None
        # The model knows usage only; recurring purchases and fees still to come this period
        # are known steps on top of the spend to date.
        mask = budget_mask(index, spec)
        known = status.spend + recurring_steps_to_come(
            index, mask, status.period, status.as_of, zone
        )
        result = forecast_period(
            entry.model, known, status.limit, status.as_of, status.period.end, zone
        )
        if status.spend >= status.limit:
            # Already reached: both methods report when it happened.
            result = dataclasses.replace(result, exhaustion=status.projected_exhaustion)
        return dataclasses.replace(result, value_anomaly_scores=entry.value_scores)

    def anomaly_contributor(self, spec: BudgetSpec) -> AnomalyContributor | None:
        """The breakdown value that drove the budget's newest day, from its latest fit."""
        entry = self._entries.get(_key(spec))
        return entry.contributor if entry is not None else None

    def export(self) -> bytes:
        """The models of the budgets of the latest evaluation, as bytes ``restore`` reads."""
        entries = [
            {"key": key, **_entry_record(entry)}
            for key, entry in self._entries.items()
            if key in self._seen
        ]
        return json.dumps({"format": FORMAT, "entries": entries}).encode()

    def restore(self, payload: bytes) -> int:
        """Take back the models ``export`` wrote; how many. Each serves once the budget's
        inputs are found the same as when it was fit (else it is refit, as after a new day).

        Raises ValueError when the bytes are damaged or of another format; nothing is taken then.
        """
        try:
            document = json.loads(payload)
            if not isinstance(document, dict) or document.get("format") != FORMAT:
                found = document.get("format") if isinstance(document, dict) else None
                raise ValueError(f"format {found!r}, not {FORMAT}")
            entries = {str(item["key"]): _entry_of(item) for item in document["entries"]}
        except ValueError:
            raise
        except Exception as error:  # any wrong shape of valid JSON is as damaged as torn bytes
            raise ValueError(f"{type(error).__name__}: {error}") from None
        for key, entry in entries.items():
            if key not in self._entries:
                self._entries[key] = entry
                self._restored.add(key)
        return len(entries)


def _inputs(
    spec: BudgetSpec, index: CostIndex, status: BudgetStatus, zone: ZoneInfo, origin: date
) -> _Inputs:
    # Usage only: purchases and fees counted at once are known steps, added through the
    # spend to date, never a pattern to extrapolate or an anomaly to report.
    mask = budget_mask(index, spec) & ~index.steps
    history = daily_spend(index, mask, origin - timedelta(days=HISTORY_DAYS), origin, zone)
    span = (
        status.period.start.astimezone(zone).date(),
        status.period.end.astimezone(zone).date(),
    )
    values = []
    for dimension, top in status.breakdown.items():
        for value, _ in top:
            if value in (OTHER, NONE_VALUE):
                continue
            rows = mask & index.matching(dimension, (value,))
            days = daily_spend(
                index, rows, origin - timedelta(days=VALUE_HISTORY_DAYS), origin, zone
            )
            values.append((dimension, value, days))
    digest = hashlib.sha256(repr((FORMAT, _key(spec), origin.isoformat(), span, zone.key)).encode())
    for series in (history, *(days for _, _, days in values)):
        digest.update(np.asarray(pd.DatetimeIndex(series.index).asi8, dtype="<i8").tobytes())
        digest.update(np.asarray(series.to_numpy(), dtype="<f8").tobytes())
    for dimension, value, _ in values:
        digest.update(repr((dimension, value)).encode())
    return _Inputs(origin, history, span, tuple(values), digest.hexdigest())


def _shortcut(
    dataset: str | None, key: str, status: BudgetStatus, zone: ZoneInfo, origin: date
) -> str:
    """What decides a budget's inputs, bar the days themselves: with the same dataset, the
    same budget, origin, period, zone and breakdown values make the same daily series."""
    if dataset is None:
        return ""
    span = (status.period.start.astimezone(zone).date(), status.period.end.astimezone(zone).date())
    values = [
        (dimension, value)
        for dimension, top in status.breakdown.items()
        for value, _ in top
        if value not in (OTHER, NONE_VALUE)
    ]
    text = repr((FORMAT, dataset, key, origin.isoformat(), span, zone.key, values))
    return hashlib.sha256(text.encode()).hexdigest()


def _fit(inputs: _Inputs, spec: BudgetSpec, shortcut: str = "") -> _Entry:
    model = fit_daily_model(inputs.history, inputs.origin, spec.period, inputs.span)
    scores: dict[str, dict[str, float]] = {}
    candidates = []
    for dimension, value, days in inputs.values:
        found = weekday_anomaly(np.asarray(days, dtype=np.float64))
        if found is not None:
            scores.setdefault(dimension, {})[value] = found.score
            candidates.append(AnomalyContributor(dimension, value, found))
    return _Entry(
        inputs.origin, model, scores, top_contributor(candidates), inputs.fingerprint, shortcut
    )


def _array(values: np.ndarray) -> dict[str, object]:
    # Little-endian doubles in base64: exact, and a tenth of the size of decimal text.
    data = np.ascontiguousarray(values, dtype="<f8")
    return {"shape": list(data.shape), "f8": base64.b64encode(data.tobytes()).decode()}


def _array_of(record: Mapping[str, object]) -> np.ndarray:
    shape = tuple(int(n) for n in record["shape"])  # type: ignore[attr-defined]
    raw = base64.b64decode(str(record["f8"]), validate=True)
    return np.frombuffer(raw, dtype="<f8").reshape(shape).astype(np.float64)


def _number(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _entry_record(entry: _Entry) -> dict[str, object]:
    model = entry.model
    contributor = entry.contributor
    return {
        "fingerprint": entry.fingerprint,
        "shortcut": entry.shortcut,
        "origin": entry.origin.isoformat(),
        "value_scores": {d: dict(v) for d, v in entry.value_scores.items()},
        "contributor": None
        if contributor is None
        else [
            contributor.dimension,
            contributor.value,
            float(contributor.anomaly.score),
            float(contributor.anomaly.spend),
            float(contributor.anomaly.usual),
        ],
        "model": None
        if model is None
        else {
            "method": model.method,
            "origin": model.origin.isoformat(),
            "mean": _array(model.mean),
            "quantiles": _array(model.quantiles),
            "offset": float(model.offset),
            "backtest_mape": _number(model.backtest_mape),
            "coverage": {k: float(v) for k, v in model.coverage.items()},
            "anomaly_score": _number(model.anomaly_score),
            "history_days": int(model.history_days),
            "params": [float(p) for p in model.params],
            "choice": {
                "reason": model.choice.reason,
                "scores": {k: float(v) for k, v in model.choice.scores.items()},
                "origins": int(model.choice.origins),
                "held_out": int(model.choice.held_out),
                "shift_days": model.choice.shift_days,
            },
        },
    }


def _entry_of(item: Mapping[str, object]) -> _Entry:
    raw: dict = item["model"]  # type: ignore[assignment]
    model = None
    if raw is not None:
        choice = raw["choice"]
        model = DailyModel(
            method=str(raw["method"]),
            origin=date.fromisoformat(raw["origin"]),
            mean=_array_of(raw["mean"]),
            quantiles=_array_of(raw["quantiles"]),
            offset=float(raw["offset"]),
            backtest_mape=_number(raw["backtest_mape"]),
            coverage={str(k): float(v) for k, v in raw["coverage"].items()},
            anomaly_score=_number(raw["anomaly_score"]),
            history_days=int(raw["history_days"]),
            params=tuple(float(p) for p in raw["params"]),
            choice=Choice(
                reason=str(choice["reason"]),
                scores={str(k): float(v) for k, v in choice["scores"].items()},
                origins=int(choice["origins"]),
                held_out=int(choice["held_out"]),
                shift_days=None if choice["shift_days"] is None else int(choice["shift_days"]),
            ),
        )
    scores: dict = item["value_scores"]  # type: ignore[assignment]
    found: list | None = item["contributor"]  # type: ignore[assignment]
    contributor = None
    if found is not None:
        dimension, value, score, spend, usual = found
        contributor = AnomalyContributor(
            str(dimension), str(value), Anomaly(float(score), float(spend), float(usual))
        )
    return _Entry(
        origin=date.fromisoformat(str(item["origin"])),
        model=model,
        value_scores={
            str(d): {str(v): float(x) for v, x in values.items()} for d, values in scores.items()
        },
        contributor=contributor,
        fingerprint=str(item["fingerprint"]),
        # Kept before shortcuts were: checked on its days.
        shortcut=str(item.get("shortcut", "")),
    )


def _key(spec: BudgetSpec) -> str:
    # What decides the history: a budget whose filter changes gets a new model.
    return repr(
        (spec.name, spec.period, sorted(spec.filter.items()), sorted(spec.excluded_categories))
    )
