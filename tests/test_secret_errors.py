"""Secrets that are malformed, empty or written into a URL: every error names the provider and
the file or key, and no log line, error or ``check`` output carries the secret itself."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import requests

from attacks import attack, case
from budget_exporter.cli.commands import EXIT_BAD_CONFIG, EXIT_PROVIDER_FAILED, main
from budget_exporter.config.loader import parse_config
from budget_exporter.model.errors import ConfigError, ProviderError
from budget_exporter.providers.support.http import HttpClient, RetryPolicy, safe_url
from conftest import free_port

SECRET = "Sup3rSecretKeyValue"

# (what the secret file holds, what the error says about it)
BAD_FILES = [
    (f"{SECRET}\r\nX-Injected: 1".encode(), "holds a line break at character 20"),
    (f"{SECRET}\nsecond-line".encode(), "holds a line break at character 20"),
    (SECRET.encode("utf-16"), "is not UTF-8 text (byte 0)"),
    (f"{SECRET}\u20ac".encode(), "holds a character that is not printable ASCII at character 20"),
    (b"  \n", "is empty"),
]


def pagerduty_config(folder: Path, token: str) -> Path:
    path = folder / "config.yml"
    path.write_text(
        "providers:\n"
        f"  pd: {{type: pagerduty, {token}, base_url: 'http://127.0.0.1:{free_port()}'}}\n"
        "slos:\n  - {name: api, objective: 99.9, provider: pd}\n"
    )
    return path


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        case(
            "secrets",
            f"a secret file: {name}",
            "the provider fails naming provider, setting and file; the value never shown",
            content,
            expected,
            found=3,
            id=name,
        )
        for name, (content, expected) in zip(
            ["CR LF", "two lines", "UTF-16", "not ASCII", "blank"], BAD_FILES, strict=True
        )
    ],
)
def test_a_bad_secret_file_fails_its_provider_naming_provider_and_file_never_the_value(
    tmp_path: Path,
    content: bytes,
    expected: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret_file = tmp_path / "pd-token"
    secret_file.write_bytes(content)
    config = pagerduty_config(tmp_path, "token_file: pd-token")
    caplog.set_level(logging.DEBUG)
    assert main(["check", "--config.file", str(config)]) == EXIT_PROVIDER_FAILED
    out = capsys.readouterr()
    shown = out.out + out.err + caplog.text
    assert f"provider pd: token_file: secret file {secret_file} {expected}" in out.out
    assert SECRET not in shown
    assert "Injected" not in shown


@attack(
    "secrets",
    "a secret from the environment with CR LF inside",
    "the provider fails naming the setting; the value never shown",
    found=3,
)
def test_an_inline_secret_with_a_line_break_from_the_environment_is_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("PD_TOKEN", f"{SECRET}\r\nX-Injected: 1")
    config = pagerduty_config(tmp_path, "token: '${PD_TOKEN}'")
    assert main(["check", "--config.file", str(config)]) == EXIT_PROVIDER_FAILED
    out = capsys.readouterr()
    assert "provider pd: token: the secret holds a line break" in out.out
    assert SECRET not in out.out + out.err + caplog.text


@pytest.mark.parametrize(
    "setting",
    [
        case(
            "secrets",
            f"an inline secret: {name}",
            "refused by check at its key",
            setting,
            found=3,
            id=name,
        )
        for name, setting in [
            ("empty", "token: ''"),
            ("blank", "token: '   '"),
            ("an empty environment variable", "token: '${EMPTY_TOKEN}'"),
        ]
    ],
)
def test_an_empty_inline_secret_is_refused_by_check(
    tmp_path: Path,
    setting: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("EMPTY_TOKEN", "")
    config = pagerduty_config(tmp_path, setting)
    assert main(["check", "--config.file", str(config)]) == EXIT_BAD_CONFIG
    assert f"{config}:2: providers.pd.token: is empty" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("provider", "key", "secrets"),
    [
        case(
            "secrets",
            f"user:password in the {provider} {key}",
            "refused, pointing to the provider's secret settings",
            provider,
            key,
            secrets,
            found=3,
            id=provider,
        )
        for provider, key, secrets in [
            ("opencost", "url", "token, token_file"),
            ("databricks", "host", "token, token_file, client_secret, client_secret_file"),
            ("pagerduty", "base_url", "token, token_file"),
        ]
    ],
)
def test_a_url_with_user_and_password_is_refused_with_a_pointer_to_the_secret_settings(
    provider: str, key: str, secrets: str
) -> None:
    extra = {
        "opencost": "",
        "databricks": ", warehouse_id: w, token: t",
        "pagerduty": ", token: t",
    }[provider]
    text = f"providers:\n  p: {{type: {provider}, {key}: 'http://admin:{SECRET}@127.0.0.1:9'{extra}}}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "c.yml")
    problems = [str(problem) for problem in caught.value.problems]
    assert any(
        f"providers.p.{key}: holds a user name or password" in line and secrets in line
        for line in problems
    ), problems
    assert not any(SECRET in line for line in problems)


@attack(
    "secrets",
    "a URL with user:password and a key in its query; a header with CR LF",
    "errors and retry warnings show neither",
    found=3,
)
def test_http_errors_and_retry_warnings_never_show_user_info_or_header_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    url = f"http://admin:{SECRET}@127.0.0.1:{port}/api?key={SECRET}"
    assert safe_url(url) == f"http://127.0.0.1:{port}/api"
    client = HttpClient("oc", retry=RetryPolicy(attempts=2, sleep=lambda _: None), timeout=2)
    with caplog.at_level(logging.DEBUG), pytest.raises(ProviderError) as caught:
        client.request("GET", url)
    assert SECRET not in str(caught.value) + caplog.text
    assert "provider oc: GET http://127.0.0.1:" in str(caught.value)

    # A header value that requests refuses: its error quotes the value; ours does not.
    with pytest.raises(requests.exceptions.InvalidHeader) as raw:
        requests.get(f"http://127.0.0.1:{port}/", headers={"Authorization": f"{SECRET}\r\n"})
    assert SECRET in str(raw.value)
    bad = HttpClient("oc", headers={"Authorization": f"Bearer {SECRET}\r\nX: y"})
    with pytest.raises(ProviderError) as caught:
        bad.request("GET", f"http://127.0.0.1:{port}/")
    assert SECRET not in str(caught.value)
    assert "provider oc: GET http://127.0.0.1:" in str(caught.value)
