"""Incident records from local YAML, JSON or CSV files (an on-call log kept in a repository).

Each record has ``id``, ``service``, ``title``, ``start``, ``end`` (or ``duration``; neither
means still open), ``category`` and an optional ``impact`` (0..1); any other key is an
attribute SLO filters can match. YAML and JSON files hold a list of records, or a mapping with
an ``incidents`` list. A record that cannot be read is reported with its file and line and
skipped; the rest of the file still counts.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import yaml

from ...model.bad_rows import BadRow, BadRows
from ...model.errors import ProviderError
from ...model.incidents import Incident, IncidentData
from ...model.yamlguard import MAX_DEPTH, YamlRefused, check_node
from ..base import ProviderConfig
from ..support.files import FileCache, expand_paths, first_data_line, read_table
from .base import IncidentProvider, incident_from_record
from .file_config import IncidentsFileConfig

_LINE_KEY = "__line__"
# An incident file holds at most some thousands of records of a few fields each.
MAX_INCIDENT_NODES = 1_000_000


class _LineLoader(yaml.SafeLoader):
    """A YAML loader that remembers the line of each mapping, for error messages."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping[_LINE_KEY] = node.start_mark.line + 1
        return mapping


def _timestamp_or_text(loader: _LineLoader, node: yaml.ScalarNode) -> Any:
    # 2024-02-30 looks like a date to YAML, whose loader then raised a bare ValueError that
    # failed the file without naming it; as text it makes its record one bad row with a line.
    try:
        return loader.construct_yaml_timestamp(node)
    except (ValueError, OverflowError):
        return loader.construct_scalar(node)


_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)


_Parsed = tuple[tuple[Incident, ...], BadRows]


def _records_of(document: Any, path: Path, provider: str) -> list[Any]:
    if document is None:
        return []
    if isinstance(document, dict) and isinstance(document.get("incidents"), list):
        return list(document["incidents"])
    if isinstance(document, list):
        return document
    raise ProviderError(
        f"provider {provider}: {path}: expected a list of incident records or a mapping "
        "with an 'incidents' list"
    )


def parse_structured(path: Path, provider: str, zone: ZoneInfo, service: str) -> _Parsed:
    """Read a YAML or JSON incident file; bad records become BadRows with their line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ProviderError(f"provider {provider}: cannot read {path}: {error}") from None
    try:
        document = _load_yaml(text)
    except yaml.YAMLError as error:
        # Most JSON is YAML too, which gives line numbers; JSON that is not (tabs) is read as
        # JSON, and its bad records are then numbered by position instead.
        document = _json_or_none(text) if path.name.lower().endswith(".json") else None
        if document is None:
            mark = getattr(error, "problem_mark", None)
            where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
            reason = getattr(error, "problem", None) or type(error).__name__
            raise ProviderError(f"provider {provider}: cannot parse {where}: {reason}") from None
    incidents: list[Incident] = []
    bad = BadRows()
    for position, record in enumerate(_records_of(document, path, provider), start=1):
        line = record.pop(_LINE_KEY, position) if isinstance(record, dict) else position
        if not isinstance(record, dict):
            bad += BadRows(1, (BadRow(str(path), line, "record is not a mapping"),))
            continue
        for value in record.values():
            if isinstance(value, dict):
                value.pop(_LINE_KEY, None)
        try:
            incidents.append(incident_from_record(record, zone, service))
        except (ValueError, OverflowError) as error:
            bad += BadRows(1, (BadRow(str(path), int(line), _reason(error)),))
    return tuple(incidents), bad


def _reason(error: Exception) -> str:
    """Why a record was rejected; a date or duration beyond what a calendar holds says so."""
    if isinstance(error, OverflowError):
        return f"a date or duration is out of range ({error})"
    return str(error)


def _load_yaml(text: str) -> Any:
    # Alias bombs and deep nesting (JSON bombs) are refused on the node graph, before loading.
    loader = _LineLoader(text)
    try:
        node = loader.get_single_node()
        check_node(node, max_nodes=MAX_INCIDENT_NODES)
        return loader.construct_document(node) if node is not None else None
    except RecursionError:
        raise YamlRefused("the document nests too deeply") from None
    finally:
        loader.dispose()


def _json_or_none(text: str) -> Any:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return document if _depth_ok(document) else None


def _depth_ok(document: Any) -> bool:
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return True


def parse_csv(path: Path, provider: str, zone: ZoneInfo, service: str) -> _Parsed:
    """Read a CSV incident file (header row first); bad rows become BadRows with their line."""
    frame = read_table(path, provider)
    frame.columns = [str(column).strip().lower() for column in frame.columns]
    missing = {"id", "start"} - set(frame.columns)
    if missing:
        raise ProviderError(
            f"provider {provider}: {path}: missing column(s) {', '.join(sorted(missing))}"
        )
    incidents: list[Incident] = []
    bad = BadRows()
    first = first_data_line(path)
    for position, row in enumerate(frame.to_dict("records")):
        record = {str(key): (value if value != "" else None) for key, value in row.items()}
        try:
            incidents.append(incident_from_record(record, zone, service))
        except (ValueError, OverflowError) as error:
            bad += BadRows(1, (BadRow(str(path), position + first, _reason(error)),))
    return tuple(incidents), bad


class IncidentsFileProvider(IncidentProvider[IncidentsFileConfig]):
    """Reads incident records from files matching glob patterns; unchanged files are cached."""

    type_name: ClassVar[str] = "incidents_file"
    config_model: ClassVar[type[ProviderConfig]] = IncidentsFileConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cache: FileCache[_Parsed] = FileCache()

    def _parse(self, path: Path) -> _Parsed:
        zone = ZoneInfo(self.context.timezone)
        name = path.name.lower()
        if name.endswith((".yaml", ".yml", ".json")):
            return parse_structured(path, self.name, zone, self.settings.service)
        if name.endswith((".csv", ".csv.gz")):
            return parse_csv(path, self.name, zone, self.settings.service)
        raise ProviderError(
            f"provider {self.name}: {path}: unknown file type; use .yaml, .yml, .json or .csv"
        )

    def fetch(self, now: datetime) -> IncidentData:
        paths = expand_paths(tuple(self.settings.paths), self.context.base_dir, self.name)
        self._cache.forget_except(paths)
        incidents: list[Incident] = []
        bad = BadRows()
        for path in paths:
            parsed, rejected = self._cache.get(path, self._parse)
            incidents.extend(parsed)
            bad += rejected
        return IncidentData(
            incidents=tuple(incidents), data_end=now, bad_rows=bad, sources=len(paths)
        )
