"""Fetching providers on their schedule and keeping each one's last good data."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import sys
import time
from datetime import datetime, timedelta

import pandas as pd

from .. import __version__
from ..config.schema import Config
from ..evaluation.evaluate import (
    IndexCache,
    evaluate,
    unknown_filter_keys,
    unknown_slo_filter_keys,
    wanted_dimensions,
)
from ..evaluation.forecast_cache import ForecastCache
from ..evaluation.planning import PatternCache
from ..evaluation.snapshot import ProviderHealth, Snapshot
from ..model.costs import CostData, settled_shrink
from ..model.errors import ProviderError
from ..model.incidents import IncidentData
from ..model.moments import moment_of
from ..model.periods import period_containing
from ..money.currency import to_reporting_currency
from ..providers.base import ProviderContext
from ..providers.registry import build_provider
from .state import StateDir

log = logging.getLogger(__name__)

# A shrunk answer repeated this many refreshes in a row is taken as a real restatement.
SHRINK_CONFIRMATIONS = 3


class SuspectAnswer(ProviderError):
    """A provider answered with much less on settled days than its last good answer."""


# After a failed refresh, try again sooner than the regular interval, but not in a tight loop.
RETRY_AFTER_FAILURE = timedelta(minutes=5)


def provider_fingerprint(config: Config, name: str) -> str:
    """Identifies a provider's settings; cached data from other settings is not reused."""
    settings = config.providers[name].model_dump_json()
    # Cached frames are stored converted to the reporting currency: other rates, other data.
    rates = json.dumps(config.exchange_rates, sort_keys=True, default=str)
    # File providers keep only the dimensions budgets use: other budgets, other frames.
    dimensions = ",".join(sorted(wanted_dimensions(config)))
    text = f"{settings}|{config.base_dir}|{config.currency}|{config.timezone}|{rates}|{dimensions}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _rows_between(frame: pd.DataFrame, since: datetime, until: datetime) -> pd.DataFrame:
    """Rows of a normalized cost frame whose charge period overlaps ``[since, until)``."""
    if frame.empty:
        return frame
    start, end = pd.Timestamp(since), pd.Timestamp(until)
    overlaps = ((frame["end"] > start) | (frame["start"] >= start)) & (frame["start"] < end)
    return frame[overlaps]


def _spend_between(frame: pd.DataFrame, since: datetime, until: datetime) -> float:
    """Total absolute cost of the rows overlapping ``[since, until)``."""
    rows = _rows_between(frame, since, until)
    return float(rows["cost"].abs().sum()) if len(rows) else 0.0


class Refresher:
    """Owns providers and their last good data; produces snapshots for any ``now``."""

    def __init__(
        self, config: Config, state: StateDir | None = None, fit_every_forecast: bool = False
    ):
        """``fit_every_forecast``: for one-shot commands (once, report, backfill), which have
        no next evaluation to fit the rest in; a server caps the fits of each evaluation."""
        self.config = config
        self.state = state
        context = ProviderContext(
            timezone=config.timezone,
            currency=config.currency,
            base_dir=config.base_dir,
            # API providers keep settled days here, so a restart re-reads only recent ones.
            cache_dir=str(state.path / "cache") if state is not None else None,
            dimensions=wanted_dimensions(config),
        )
        self.providers = {
            name: build_provider(name, settings, context)
            for name, settings in config.providers.items()
        }
        self.data: dict[str, CostData] = {}
        self.incidents: dict[str, IncidentData] = {}
        self.health: dict[str, ProviderHealth] = {
            name: ProviderHealth(
                name=name,
                type=settings.type,
                up=False,
                max_data_age_seconds=settings.max_data_age.total_seconds(),
            )
            for name, settings in config.providers.items()
        }
        self.next_fetch: dict[str, datetime] = {}
        self.forecasts = ForecastCache(sys.maxsize) if fit_every_forecast else ForecastCache()
        self.patterns = PatternCache()
        self.indexes = IndexCache()
        self._shrunk: dict[str, tuple[tuple[int, float], int]] = {}
        # The SHA-256 of each cost frame held as the state folder has it (none without one).
        self._frames: dict[str, str] = {}
        settings = f"{__version__}|{config.model_dump_json()}"
        self._settings = hashlib.sha256(settings.encode()).hexdigest()
        if state is not None:
            self._load_state(state)

    def _load_state(self, state: StateDir) -> None:
        payload = state.load_forecasts()
        if payload is not None:
            try:
                kept = self.forecasts.restore(payload)
                log.info("reusing %d forecast models fit before the start", kept)
            except ValueError as error:  # damaged or of another version: fit again, never trust
                log.warning("ignoring kept forecast models of %s: %s", state.forecasts_path, error)
        for name in self.providers:
            loaded = state.load_provider(name, provider_fingerprint(self.config, name))
            if loaded is None:
                continue
            data, record = loaded
            try:
                moment = moment_of(record["last_success"])
                if moment is None:
                    raise ValueError("no last_success")
                last_success = moment.to_pydatetime()
                duration = float(record.get("duration_seconds", 0.0))
            except Exception as error:  # a malformed record is dropped, never trusted
                log.warning("ignoring malformed cached state of provider %s: %s", name, error)
                continue
            self.data[name] = data
            self._frames[name] = str(record["frame_sha256"])
            self.health[name] = dataclasses.replace(
                self.health[name],
                up=True,
                last_success=last_success,
                last_attempt=last_success,
                duration_seconds=duration,
                bad_rows=data.bad_rows.count,
                rows=len(data.frame),
                data_end=data.data_end,
                settled_through=data.settled_through,
            )
            self.next_fetch[name] = last_success + self.config.refresh_interval
            log.info("provider %s: reusing cached data from %s", name, last_success.isoformat())

    def due(self, now: datetime) -> list[str]:
        """Providers whose next fetch time has come."""
        return [
            name
            for name in self.providers
            if name not in self.next_fetch or self.next_fetch[name] <= now
        ]

    def refresh(self, now: datetime, names: list[str] | None = None) -> None:
        """Fetch the given providers (default: those due); failures keep the last good data."""
        for name in names if names is not None else self.due(now):
            self._fetch(name, now)

    def _fetch(self, name: str, now: datetime) -> None:
        provider = self.providers[name]
        previous = self.health[name]
        started = time.perf_counter()
        try:
            data = provider.fetch(now)
            if isinstance(data, CostData):
                frame = to_reporting_currency(
                    data.frame, self.config.currency, self.config.exchange_rates, name
                )
                data = dataclasses.replace(data, frame=frame)
            data_end = min(data.data_end, now) if data.data_end is not None else None
            settled = data.settled_through
            if settled is None and data_end is not None:
                settled = data_end - provider.settings.settlement_lag
            if settled is not None and data_end is not None:
                settled = min(settled, data_end)  # nothing is final beyond the newest data
            data = dataclasses.replace(data, data_end=data_end, settled_through=settled)
            if isinstance(data, CostData):
                self._check_not_wiped(name, data, now)
                self._check_not_shrunk(name, data)
        except Exception as error:  # one provider's failure must not stop the others
            duration = time.perf_counter() - started
            message = str(error) or type(error).__name__
            if isinstance(error, (ProviderError, OSError, ValueError, KeyError)):
                log.error("provider %s: refresh failed: %s", name, message)
            else:  # unexpected: a bug in the provider, keep the traceback
                log.error("provider %s: refresh failed: %s", name, message, exc_info=True)
            self.health[name] = dataclasses.replace(
                previous,
                up=False,
                last_attempt=now,
                duration_seconds=duration,
                errors_total=previous.errors_total + 1,
                last_error=message,
                suspect=isinstance(error, SuspectAnswer),
            )
            retry = min(self.config.refresh_interval, RETRY_AFTER_FAILURE)
            self.next_fetch[name] = now + retry
            return
        duration = time.perf_counter() - started
        for row in data.bad_rows.examples:
            log.warning("provider %s: bad row %s", name, row)
        if data.bad_rows.count > len(data.bad_rows.examples):
            log.warning(
                "provider %s: %d bad rows in all (first %d shown)",
                name,
                data.bad_rows.count,
                len(data.bad_rows.examples),
            )
        if isinstance(data, CostData):
            self.data[name] = data
            self._frames.pop(name, None)  # known again once the state folder has it
            rows = len(data.frame)
        else:
            self.incidents[name] = data
            rows = len(data.incidents)
        self.health[name] = dataclasses.replace(
            previous,
            up=True,
            last_success=now,
            last_attempt=now,
            duration_seconds=duration,
            bad_rows=data.bad_rows.count,
            rows=rows,
            data_end=data.data_end,
            settled_through=data.settled_through,
            last_error=None,
            suspect=False,
        )
        self.next_fetch[name] = now + self.config.refresh_interval
        log.info(
            "provider %s: %d rows from %d sources in %.2fs",
            name,
            rows,
            data.sources,
            duration,
        )
        for warning in unknown_filter_keys(self.config, self.data):
            log.warning("%s", warning)
        for warning in unknown_slo_filter_keys(self.config, self.incidents):
            log.warning("%s", warning)
        # Incident sources are cheap to read again after a restart; the state keeps cost frames.
        if self.state is not None and isinstance(data, CostData):
            self._frames[name] = self.state.save_provider(
                name,
                provider_fingerprint(self.config, name),
                data,
                {"last_success": now.isoformat(), "duration_seconds": duration},
            )

    def _check_not_shrunk(self, name: str, data: CostData) -> None:
        """Refuse an answer whose settled days shrank sharply (a truncated file); the same
        shrunk answer on ``SHRINK_CONFIRMATIONS`` refreshes in a row is a real restatement."""
        old = self.data.get(name)
        reason = settled_shrink(old, data) if old is not None else None
        if reason is None:
            self._shrunk.pop(name, None)
            return
        seen = (len(data.frame), round(float(data.frame["cost"].abs().sum()), 6))
        count = self._shrunk.get(name, (seen, 0))
        count = (seen, count[1] + 1 if count[0] == seen else 1)
        self._shrunk[name] = count
        if count[1] >= SHRINK_CONFIRMATIONS:
            log.warning(
                "provider %s: %s; the same answer %d times, accepted", name, reason, count[1]
            )
            self._shrunk.pop(name, None)
            return
        raise SuspectAnswer(
            f"provider {name}: {reason} since the last good answer; treated as a truncated "
            "source, and the last good data stays served"
        )

    def _check_not_wiped(self, name: str, data: CostData, now: datetime) -> None:
        """Refuse an answer with no rows in current budget periods where the last good one had
        spend: an API that answers empty for a range it had data for is broken, not free."""
        old = self.data.get(name)
        if old is None:
            return
        # The same periods the evaluation uses: fiscal years, week starts and custom spans.
        starts = [
            period_containing(
                budget.period, now, self.config.zone, self.config.calendar_for(budget)
            ).start
            for budget in self.config.budgets
            if budget.provider in (None, name)
        ]
        started = [start for start in starts if start <= now]  # a custom span may not have begun
        if not started:
            return
        since = min(started)
        known = _spend_between(old.frame, since, now)
        if known and not len(_rows_between(data.frame, since, now)):
            raise ProviderError(
                f"provider {name}: answered with no cost data since {since:%Y-%m-%d %H:%M %Z} "
                f"where the last good answer had {known:,.2f}; treated as a bad answer, not as "
                "zero spend, and the last good data stays served"
            )

    def _dataset(self) -> str | None:
        """A fingerprint of the cost data held and of all that makes budgets' days of it, or
        None when a frame is not as the state folder has it (no folder, a failed write)."""
        if any(name not in self._frames for name in self.data):
            return None
        frames = sorted((name, self._frames[name]) for name in self.data)
        return hashlib.sha256(f"{self._settings}|{frames}".encode()).hexdigest()

    def snapshot(self, now: datetime) -> Snapshot:
        """Evaluate every budget at ``now`` from the data held."""
        started = time.perf_counter()
        health = tuple(
            dataclasses.replace(item, extra=self.providers[name].metrics())
            for name, item in self.health.items()
        )
        self.forecasts.use_dataset(self._dataset())
        snapshot = evaluate(
            self.config,
            self.data,
            health,
            now,
            self.forecasts,
            incidents=self.incidents,
            patterns=self.patterns,
            indexes_cache=self.indexes,
        )
        if snapshot.forecasts_waiting:
            waiting = snapshot.forecasts_waiting
            log.warning(
                "%d budgets still wait for their forecast (at most %d models are fit per "
                "evaluation; the next evaluations fit the rest): %s%s",
                len(waiting),
                self.forecasts.max_fits,
                ", ".join(waiting[:10]),
                ", ..." if len(waiting) > 10 else "",
            )
        if self.state is not None and self.forecasts.changed:
            try:
                self.state.save_forecasts(self.forecasts.export())
                self.forecasts.changed = False
            except OSError as error:  # costs fits after a restart, nothing more: still serve
                log.warning("cannot keep the forecast models: %s", error)
        return dataclasses.replace(snapshot, evaluation_seconds=time.perf_counter() - started)
