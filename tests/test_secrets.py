"""Recognizable secret values planted in every secret field, from the environment and from
*_file keys, appear in no log line, metric, error message, ``check`` output or persisted state."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from budget_exporter.cli.commands import main
from budget_exporter.config.loader import load_config
from budget_exporter.metrics.exposition import render
from budget_exporter.model.errors import ConfigError
from budget_exporter.service.refresh import Refresher
from budget_exporter.service.state import StateDir
from fakeapi import Reply, running
from test_opencost import allocation

NOW = datetime(2024, 9, 20, tzinfo=UTC)
ONE_DAY = Reply({"code": 200, "data": [{"web": allocation("web", "2024-09-19", 2.0, "web")}]})
# (provider type, secret key, extra settings); each type once from ${ENV} and once from a file.
SECRET_FIELDS = [
    (
        "azure_cost_management",
        "client_secret",
        "scope: /subscriptions/0000, tenant_id: t, client_id: c, "
        "authority_host: '{url}', management_endpoint: '{url}'",
    ),
    ("databricks", "token", "host: '{url}', warehouse_id: abc123"),
    ("databricks", "client_secret", "host: '{url}', warehouse_id: abc123, client_id: c"),
    ("opencost", "token", "url: '{url}'"),
    ("opsgenie", "api_key", "base_url: '{url}'"),
    ("pagerduty", "token", "base_url: '{url}'"),
    ("statuspage", "api_key", "api_url: '{url}', page_id: page1"),
]


def plant(index: int, how: str) -> str:
    """A value nobody would write by chance."""
    return f"PLANTED-{how}-{index}-s3cr3t-Zq7x"


def write_config(folder: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, set[str]]:
    """A config with every secret field set twice; returns it and the planted values."""
    (folder / "secrets").mkdir()
    planted: set[str] = set()
    lines = ["providers:"]
    for index, (kind, key, extra) in enumerate(SECRET_FIELDS):
        env_value, file_value = plant(index, "ENV"), plant(index, "FILE")
        monkeypatch.setenv(f"PLANTED_{index}", env_value)
        (folder / "secrets" / f"s{index}").write_text(file_value + "\n")
        planted |= {env_value, file_value}
        settings = extra.format(url=url)
        lines.append(f"  env{index}: {{type: {kind}, {key}: '${{PLANTED_{index}}}', {settings}}}")
        lines.append(f"  file{index}: {{type: {kind}, {key}_file: secrets/s{index}, {settings}}}")
    key = plant(99, "GCP")
    (folder / "secrets" / "gcp.json").write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "p",
                "private_key_id": key,
                "private_key": f"-----BEGIN PRIVATE KEY-----\n{key}\n-----END PRIVATE KEY-----\n",
                "client_email": "x@p.iam.gserviceaccount.com",
                "token_uri": f"{url}/token",
            }
        )
    )
    planted.add(key)
    lines.append(
        f"  gcp: {{type: gcp_bigquery, table: p.d.t, credentials_file: secrets/gcp.json, "
        f"api_endpoint: '{url}'}}"
    )
    lines += ["budgets:", "  - {name: cloud, amount: 100, period: monthly}"]
    path = folder / "config.yml"
    path.write_text("\n".join(lines) + "\n")
    return path, planted


def leaks(text: str, planted: set[str]) -> list[str]:
    """Planted values found in ``text``, also in parts (a secret cut in half is still a leak)."""
    return [value for value in planted if value in text or value[:16] in text]


def test_no_planted_secret_leaks_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    with running() as api:  # opencost answers with data, every other request gets an error
        api.add("GET", "/allocation/compute", *[ONE_DAY] * 6)
        config_path, planted = write_config(tmp_path, api.url, monkeypatch)
        monkeypatch.chdir(tmp_path)
        assert main(["check", "--config.file", str(config_path), "--at", NOW.isoformat()]) == 1
        checked = capsys.readouterr()
        assert main(["once", "--config.file", str(config_path), "--at", NOW.isoformat()]) == 1
        once = capsys.readouterr()
        state = StateDir(tmp_path / "state")
        refresher = Refresher(load_config(config_path), state)
        refresher.refresh(NOW)
        exposition = render(refresher.snapshot(NOW))
        state.write_metrics(exposition)
        sent = "\n".join(f"{r.headers} {r.body!r} {r.query}" for r in api.requests)

    # The secrets were really in play: the fake API received them (all but the two sent
    # base64-encoded as basic auth and the GCP key, which signs rather than travels).
    assert len(leaks(sent, planted)) == len(planted) - 3
    # Both opencost providers delivered, so their data was persisted.
    assert {"env3.json", "file3.json"} <= {p.name for p in (tmp_path / "state").rglob("*")}
    assert "FAILED" in checked.out
    for where, text in [
        ("check output", checked.out + checked.err),
        ("once output", once.out + once.err),
        ("exposition", exposition.decode()),
        ("log", "\n".join(record.getMessage() for record in caplog.records)),
        ("errors", "\n".join(str(h.last_error) for h in refresher.health.values())),
    ]:
        assert not leaks(text, planted), f"secret in {where}"
    for file in (tmp_path / "state").rglob("*"):
        if file.is_file():
            assert not leaks(file.read_bytes().decode("latin-1"), planted), f"secret in {file}"


def test_a_secret_quoted_by_a_validation_error_is_replaced_by_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANTED_ZONE", "PLANTED-zone-s3cr3t-Zq7x")
    path = tmp_path / "config.yml"
    path.write_text(
        "timezone: '${PLANTED_ZONE}'\nproviders:\n  p: {type: demo}\n"
        "budgets:\n  - {name: b, amount: '${PLANTED_ZONE}', period: monthly}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert "PLANTED-zone" not in text
    assert "unknown time zone '${PLANTED_ZONE}'" in text


@pytest.mark.parametrize(
    ("kind", "key", "extra"), SECRET_FIELDS, ids=[f"{kind}.{key}" for kind, key, _ in SECRET_FIELDS]
)
def test_a_secret_setting_never_shows_in_the_config_text(
    kind: str, key: str, extra: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secret = plant(0, "REPR")
    monkeypatch.setenv("PLANTED_REPR", secret)
    settings = extra.format(url="http://127.0.0.1:9")
    path = tmp_path / "config.yml"
    path.write_text(f"providers:\n  p: {{type: {kind}, {key}: '${{PLANTED_REPR}}', {settings}}}\n")
    config = load_config(path)
    provider = config.providers["p"]
    assert getattr(provider, key).get_secret_value() == secret
    for text in (
        str(provider),
        repr(provider),
        provider.model_dump_json(),
        str(provider.model_dump()),
        str(config),
        repr(config),
        config.model_dump_json(),
    ):
        assert not leaks(text, {secret})
